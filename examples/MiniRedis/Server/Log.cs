using System.Net;
using Microsoft.Extensions.Logging;

namespace MiniRedis.Server;

/// <summary>MiniRedis's log messages. Event ids are stable: tools and tests may match on them.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "MiniRedis listening on {EndPoint} (max {MaxConnections} connections)")]
    public static partial void Listening(ILogger logger, IPEndPoint endPoint, int maxConnections);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Shutting down: stopped accepting; waiting up to {GracePeriod} for {Connections} connection(s)")]
    public static partial void ShuttingDown(ILogger logger, TimeSpan gracePeriod, int connections);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Server stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Grace period over: aborting {Connections} connection(s) still open")]
    public static partial void GraceExpired(ILogger logger, int connections);

    [LoggerMessage(EventId = 5, Level = LogLevel.Error, Message = "Accepting a connection failed")]
    public static partial void AcceptFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 10, Level = LogLevel.Debug, Message = "Client {ClientId} connected from {Remote}")]
    public static partial void ClientConnected(ILogger logger, long clientId, IPEndPoint remote);

    [LoggerMessage(EventId = 11, Level = LogLevel.Debug, Message = "Client {ClientId} closed ({Reason})")]
    public static partial void ClientClosed(ILogger logger, long clientId, string reason);

    [LoggerMessage(EventId = 12, Level = LogLevel.Warning, Message = "Refused a client from {Remote}: max number of clients ({MaxConnections}) reached")]
    public static partial void ClientRejected(ILogger logger, IPEndPoint remote, int maxConnections);

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "Client {ClientId}: {ProtocolError}; closing the connection")]
    public static partial void ProtocolError(ILogger logger, long clientId, string protocolError);

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Client {ClientId} disconnected in the middle of a request ({Bytes} byte(s) left undecoded)")]
    public static partial void TruncatedRequest(ILogger logger, long clientId, long bytes);

    [LoggerMessage(EventId = 22, Level = LogLevel.Warning, Message = "Client {ClientId} has not read its replies for {Timeout} ({Buffered} byte(s) waiting): disconnecting it")]
    public static partial void SlowClient(ILogger logger, long clientId, TimeSpan timeout, int buffered);

    [LoggerMessage(EventId = 23, Level = LogLevel.Warning, Message = "Client {ClientId} fell behind on '{Channel}' and lost {Skipped} message(s): disconnecting it")]
    public static partial void SubscriberLagged(ILogger logger, long clientId, string channel, long skipped);

    [LoggerMessage(EventId = 24, Level = LogLevel.Information, Message = "Client {ClientId}: connection failed")]
    public static partial void ConnectionFailed(ILogger logger, long clientId, Exception exception);

    [LoggerMessage(EventId = 25, Level = LogLevel.Error, Message = "Client {ClientId}: unexpected error, closing the connection")]
    public static partial void ConnectionCrashed(ILogger logger, long clientId, Exception exception);
}
