namespace Kyoto;

/// <summary>Thrown when work is submitted to a runtime that is shutting down or has shut down.</summary>
public sealed class RuntimeShutdownException : InvalidOperationException
{
    /// <summary>Creates the exception with the default message.</summary>
    public RuntimeShutdownException()
        : base("The Kyoto runtime is shutting down or has shut down; it accepts no new tasks.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public RuntimeShutdownException(string message)
        : base(message)
    {
    }
}
