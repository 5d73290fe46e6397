namespace MiniRedis.Server;

/// <summary>A client did not read its replies within <see cref="ServerOptions.ClientWriteTimeout"/>.</summary>
public sealed class ClientWriteTimeoutException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ClientWriteTimeoutException() : base("The client did not read its replies in time.") { }

    /// <summary>Creates the exception with a message.</summary>
    public ClientWriteTimeoutException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public ClientWriteTimeoutException(string message, Exception innerException) : base(message, innerException) { }
}
