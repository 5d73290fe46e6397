using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MiniRedis.Tests.Support;

/// <summary>A plain socket client for byte-exact protocol tests (runs off the Kyoto runtime).</summary>
public sealed class RawClient : IDisposable
{
    private readonly Socket _socket;

    private RawClient(Socket socket) => _socket = socket;

    public static RawClient Connect(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
        socket.ReceiveTimeout = 10_000;
        return new RawClient(socket);
    }

    public Socket Socket => _socket;

    public static byte[] Latin1(string text) => Encoding.Latin1.GetBytes(text);

    public static string Resp(params string[] args)
    {
        var sb = new StringBuilder().Append('*').Append(args.Length).Append("\r\n");
        foreach (string a in args)
        {
            sb.Append('$').Append(Encoding.Latin1.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        }
        return sb.ToString();
    }

    public void Send(string latin1) => Send(Latin1(latin1));

    public void Send(byte[] bytes) => _socket.Send(bytes);

    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    /// <summary>Reads exactly <paramref name="count"/> bytes (fails on EOF or after 10 s).</summary>
    public string ReadExactly(int count)
    {
        byte[] buffer = new byte[count];
        int read = 0;
        while (read < count)
        {
            int n = _socket.Receive(buffer, read, count - read, SocketFlags.None);
            if (n == 0)
            {
                throw new EndOfStreamException($"EOF after {read} of {count} bytes: {Encoding.Latin1.GetString(buffer, 0, read)}");
            }
            read += n;
        }
        return Encoding.Latin1.GetString(buffer);
    }

    /// <summary>True if the server closed the connection (EOF or reset) within 10 s, with no more bytes.</summary>
    public bool IsClosedByServer(out string extra)
    {
        var rest = new MemoryStream();
        byte[] buffer = new byte[4096];
        try
        {
            while (true)
            {
                int n = _socket.Receive(buffer);
                if (n == 0)
                {
                    break;
                }
                rest.Write(buffer, 0, n);
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            extra = Encoding.Latin1.GetString(rest.ToArray());
            return false;
        }
        extra = Encoding.Latin1.GetString(rest.ToArray());
        return true;
    }

    /// <summary>Nothing arrives within <paramref name="ms"/> and the connection is still open.</summary>
    public bool IsSilentFor(int ms)
    {
        _socket.ReceiveTimeout = ms;
        try
        {
            byte[] buffer = new byte[1];
            int n = _socket.Receive(buffer);
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            return true;
        }
        finally
        {
            _socket.ReceiveTimeout = 10_000;
        }
    }

    /// <summary>Sends a command and returns its whole reply.</summary>
    public string Request(params string[] args)
    {
        Send(Resp(args));
        return ReadReply();
    }

    /// <summary>Reads one whole RESP2 reply; throws EndOfStreamException if the connection ends inside it.</summary>
    public string ReadReply()
    {
        var sb = new StringBuilder();
        ReadValue(sb);
        return sb.ToString();
    }

    private void ReadValue(StringBuilder sb)
    {
        string line = ReadLine();
        sb.Append(line).Append("\r\n");
        switch (line[0])
        {
            case '$':
                int len = int.Parse(line.AsSpan(1));
                if (len >= 0)
                {
                    sb.Append(ReadExactly(len + 2));
                }
                break;
            case '*':
                int count = int.Parse(line.AsSpan(1));
                for (int i = 0; i < count; i++)
                {
                    ReadValue(sb);
                }
                break;
        }
    }

    private string ReadLine()
    {
        var sb = new StringBuilder();
        while (true)
        {
            string c = ReadExactly(1);
            if (c == "\r")
            {
                ReadExactly(1);
                return sb.ToString();
            }
            sb.Append(c);
        }
    }

    public void Dispose() => _socket.Dispose();
}
