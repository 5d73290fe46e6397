using System.Buffers;
using Kyoto.Codec;

namespace MiniRedis.Client.Protocol;

/// <summary>
/// Encodes a <see cref="RedisCommand"/> as Redis expects a request: an array of bulk strings
/// (<c>*N\r\n$len\r\narg\r\n...</c>), written straight into the framed writer's buffer with no intermediate copy.
/// Stateless; one instance may serve many connections.
/// </summary>
public sealed class RespCommandEncoder : IEncoder<RedisCommand>
{
    /// <summary>A shared instance.</summary>
    public static RespCommandEncoder Instance { get; } = new();

    /// <inheritdoc />
    /// <exception cref="FrameException">The command has no parts.</exception>
    public void Encode(RedisCommand frame, IBufferWriter<byte> output)
    {
        RedisArgument[]? parts = frame.Parts;
        if (parts is null || parts.Length == 0)
        {
            throw new FrameException("A command needs at least its name.");
        }

        RespWriter.WriteHeader(output, (byte)'*', parts.Length);
        foreach (RedisArgument part in parts)
        {
            part.WriteBulk(output);
        }
    }
}
