namespace Kyoto.IO;

/// <summary>A bidirectional byte stream: a connected socket or an in-memory pipe end.</summary>
public interface IAsyncDuplex : IAsyncReader, IAsyncWriter
{
}
