using Kyoto.IO;

namespace Kyoto.Codec;

/// <summary>Creates <see cref="Framed{TIn, TOut}"/> from one codec that both decodes and encodes.</summary>
/// <example>
/// <code>
/// var (client, server) = MemoryDuplex.Create(64 * 1024);
/// await using var framed = Framed.Create(server, new LinesCodec());
/// await foreach (string line in framed)
/// {
///     await framed.SendAsync("echo: " + line);
/// }
/// </code>
/// </example>
public static class Framed
{
    /// <summary>Frames <paramref name="stream"/> with <paramref name="codec"/> for both directions.</summary>
    /// <param name="stream">The byte stream; not owned.</param>
    /// <param name="codec">The decoder of input and encoder of output.</param>
    /// <param name="initialBufferSize">The read buffer's first size. Defaults to 8192.</param>
    public static Framed<T, T> Create<T>(IAsyncDuplex stream, ICodec<T> codec, int initialBufferSize = 8192) =>
        new(stream, codec, codec, initialBufferSize);
}
