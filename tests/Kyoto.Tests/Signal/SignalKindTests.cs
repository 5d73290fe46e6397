using Kyoto.Signal;

namespace Kyoto.Tests.Signal;

/// <summary>Misuse that needs no runtime: invalid signal numbers, no runtime.</summary>
[Collection(SignalCollection.Name)]
public sealed class SignalKindTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(65)]
    [InlineData(9)] // SIGKILL
    [InlineData(19)] // SIGSTOP
    [InlineData(11)] // SIGSEGV
    [InlineData(34)] // SIGRTMIN: the .NET runtime's
    public void FromRaw_Invalid_ThrowsArgumentException(int number)
        => Assert.Throws<ArgumentException>(() => SignalKind.FromRaw(number));

    [Fact]
    public void Kinds_HaveLinuxNumbersAndNames()
    {
        Assert.Equal(15, SignalKind.Terminate.Number);
        Assert.Equal(2, SignalKind.Interrupt.Number);
        Assert.Equal(1, SignalKind.Hangup.Number);
        Assert.Equal(3, SignalKind.Quit.Number);
        Assert.Equal(10, SignalKind.UserDefined1.Number);
        Assert.Equal(12, SignalKind.UserDefined2.Number);
        Assert.Equal(28, SignalKind.WindowChange.Number);
        Assert.Equal(17, SignalKind.Child.Number);
        Assert.Equal("SIGTERM", SignalKind.Terminate.ToString());
        Assert.Equal("SIG40", SignalKind.FromRaw(40).ToString());
        Assert.True(SignalKind.Child == SignalKind.FromRaw(17));
        Assert.True(SignalKind.Child != SignalKind.Terminate);
    }

    [Fact]
    public void Listen_Default_ThrowsArgumentException()
        => Assert.Throws<ArgumentException>(() => Signals.Listen(default));

    [Fact]
    public void Listen_OutsideRuntime_ThrowsInvalidOperation()
        => Assert.Throws<InvalidOperationException>(() => Signals.Listen(SignalKind.UserDefined1));
}
