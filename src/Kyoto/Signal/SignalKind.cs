namespace Kyoto.Signal;

/// <summary>
/// A Unix signal a <see cref="SignalReceiver"/> can wait for: one of the named kinds, or any other catchable
/// signal number through <see cref="FromRaw(int)"/> (Tokio's <c>SignalKind</c>).
/// </summary>
/// <remarks>
/// The numbers are Linux's. <c>SIGKILL</c> and <c>SIGSTOP</c> cannot be caught, and <c>SIGILL</c>,
/// <c>SIGFPE</c> and <c>SIGSEGV</c> belong to the .NET runtime: <see cref="FromRaw(int)"/> refuses them.
/// </remarks>
public readonly struct SignalKind : IEquatable<SignalKind>
{
    /// <summary>The highest signal number Linux has (<c>SIGRTMAX</c>).</summary>
    internal const int MaxNumber = 64;

    private SignalKind(int number) => Number = number;

    /// <summary><c>SIGHUP</c> (1): the controlling terminal hung up; daemons take it as "reload the configuration".</summary>
    public static SignalKind Hangup => new(1);

    /// <summary><c>SIGINT</c> (2): Ctrl+C in the terminal.</summary>
    public static SignalKind Interrupt => new(2);

    /// <summary><c>SIGQUIT</c> (3): Ctrl+\ in the terminal.</summary>
    public static SignalKind Quit => new(3);

    /// <summary><c>SIGUSR1</c> (10): user-defined.</summary>
    public static SignalKind UserDefined1 => new(10);

    /// <summary><c>SIGUSR2</c> (12): user-defined.</summary>
    public static SignalKind UserDefined2 => new(12);

    /// <summary><c>SIGPIPE</c> (13): a write to a pipe or socket with no reader.</summary>
    public static SignalKind Pipe => new(13);

    /// <summary><c>SIGALRM</c> (14): a real-time timer expired.</summary>
    public static SignalKind Alarm => new(14);

    /// <summary><c>SIGTERM</c> (15): a polite request to terminate (what <c>kill</c>, systemd and Docker send first).</summary>
    public static SignalKind Terminate => new(15);

    /// <summary><c>SIGCHLD</c> (17): a child process stopped or exited.</summary>
    public static SignalKind Child => new(17);

    /// <summary><c>SIGWINCH</c> (28): the terminal window changed size.</summary>
    public static SignalKind WindowChange => new(28);

    /// <summary>The signal number (Linux numbering).</summary>
    public int Number { get; }

    /// <summary>Whether the default action of this signal is to ignore it (<c>SIGCHLD</c>, <c>SIGCONT</c>, <c>SIGURG</c>, <c>SIGWINCH</c>).</summary>
    internal bool IgnoredByDefault => Number is 17 or 18 or 23 or 28;

    /// <summary>A kind for the raw signal number <paramref name="number"/>.</summary>
    /// <exception cref="ArgumentException">
    /// <paramref name="number"/> is not a signal number (outside 1..64), or names a signal that cannot or must not be
    /// caught (<c>SIGKILL</c>, <c>SIGSTOP</c>, <c>SIGILL</c>, <c>SIGFPE</c>, <c>SIGSEGV</c>, and 32..34, which glibc and
    /// the .NET runtime reserve).
    /// </exception>
    public static SignalKind FromRaw(int number)
    {
        if (number is < 1 or > MaxNumber)
        {
            throw new ArgumentException($"{number} is not a signal number (1..{MaxNumber}).", nameof(number));
        }

        if (number is 4 or 8 or 9 or 11 or 19)
        {
            throw new ArgumentException($"Signal {number} ({Name(number)}) cannot be listened for: it cannot be caught, or the .NET runtime owns it.", nameof(number));
        }

        if (number is 32 or 33 or 34)
        {
            throw new ArgumentException($"Signal {number} is reserved: glibc uses 32 and 33 for its threads, and the .NET runtime uses SIGRTMIN (34) to interrupt threads.", nameof(number));
        }

        return new SignalKind(number);
    }

    /// <summary>Whether both name the same signal.</summary>
    public bool Equals(SignalKind other) => Number == other.Number;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is SignalKind other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Number;

    /// <summary>The conventional name (<c>SIGTERM</c>), or <c>SIG</c> and the number for the others.</summary>
    public override string ToString() => Name(Number);

    /// <summary>Whether both name the same signal.</summary>
    public static bool operator ==(SignalKind left, SignalKind right) => left.Equals(right);

    /// <summary>Whether they name different signals.</summary>
    public static bool operator !=(SignalKind left, SignalKind right) => !left.Equals(right);

    private static string Name(int number) => number switch
    {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        17 => "SIGCHLD",
        18 => "SIGCONT",
        19 => "SIGSTOP",
        28 => "SIGWINCH",
        _ => "SIG" + number.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
