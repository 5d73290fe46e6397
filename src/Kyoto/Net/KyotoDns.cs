using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Kyoto.Net;

/// <summary>
/// Host name resolution for Kyoto code (Tokio's <c>lookup_host</c>). Named so as not to clash with
/// <see cref="Dns"/>, which it uses.
/// </summary>
/// <remarks>
/// IP literals are parsed without a lookup. Names go to the system resolver (<c>getaddrinfo</c>: /etc/hosts, DNS...)
/// through <see cref="Dns.GetHostAddressesAsync(string, CancellationToken)"/>, off the runtime's workers; the
/// caller resumes on its runtime.
/// </remarks>
/// <example>
/// <code>
/// IPEndPoint[] endPoints = await KyotoDns.LookupHostAsync("example.com", 443, ct);
/// using TcpStream stream = await TcpStream.ConnectAsync(endPoints[0], ct);
/// </code>
/// </example>
public static class KyotoDns
{
    /// <summary>Resolves <paramref name="host"/> to its addresses, each with <paramref name="port"/>.</summary>
    /// <param name="host">A host name, or an IPv4 or IPv6 literal (brackets allowed: <c>[::1]</c>).</param>
    /// <param name="port">The port of every endpoint returned.</param>
    /// <param name="cancellationToken">Stops waiting for the resolver (the system call itself may run on).</param>
    /// <returns>At least one endpoint, in the resolver's order (IPv6 and IPv4 mixed as it ranks them).</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled lookup has no effect (its result is dropped).</remarks>
    /// <exception cref="SocketException">The name does not resolve (<see cref="SocketError.HostNotFound"/>, or <see cref="SocketError.TryAgain"/> for a temporary failure).</exception>
    /// <exception cref="ArgumentException"><paramref name="host"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is not in 0..65535.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async ValueTask<IPEndPoint[]> LookupHostAsync(string host, int port, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        cancellationToken.ThrowIfCancellationRequested();
        string name = host.Length > 2 && host[0] == '[' && host[^1] == ']' ? host[1..^1] : host;
        if (IPAddress.TryParse(name, out IPAddress? literal))
        {
            return [new IPEndPoint(literal, port)];
        }

        // A BCL task: awaited with ConfigureAwait(true), its continuation is posted back to the task's runtime.
        IPAddress[] addresses = await Dns.GetHostAddressesAsync(name, cancellationToken).ConfigureAwait(true);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        var endPoints = new IPEndPoint[addresses.Length];
        for (int i = 0; i < addresses.Length; i++)
        {
            endPoints[i] = new IPEndPoint(addresses[i], port);
        }

        return endPoints;
    }

    /// <summary>Resolves <c>"host:port"</c> (IPv6 literals in brackets: <c>"[::1]:80"</c>).</summary>
    /// <param name="hostAndPort">The host (name or literal) and the port, separated by the last colon.</param>
    /// <param name="cancellationToken">Stops waiting for the resolver.</param>
    /// <returns>At least one endpoint, in the resolver's order.</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled lookup has no effect.</remarks>
    /// <exception cref="ArgumentException">No port, a bad port, or an IPv6 literal without brackets.</exception>
    /// <exception cref="SocketException">The name does not resolve (<see cref="SocketError.HostNotFound"/>).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static ValueTask<IPEndPoint[]> LookupHostAsync(string hostAndPort, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(hostAndPort);
        int colon = hostAndPort.LastIndexOf(':');
        string host = colon > 0 ? hostAndPort[..colon] : string.Empty;
        bool bracketed = host.StartsWith('[') && host.EndsWith(']');
        if (colon <= 0 || (!bracketed && host.Contains(':'))
            || !int.TryParse(hostAndPort.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port)
            || port > IPEndPoint.MaxPort)
        {
            throw new ArgumentException($"Expected \"host:port\" (\"[v6]:port\" for an IPv6 literal), got \"{hostAndPort}\".", nameof(hostAndPort));
        }

        return LookupHostAsync(host, port, cancellationToken);
    }
}
