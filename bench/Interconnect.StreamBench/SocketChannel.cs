using System.Net.Sockets;

namespace Interconnect.StreamBench;

/// <summary>
/// A connected Unix domain or TCP socket. Blocking: <c>recv</c> sleeps until data comes (a scheduler wake-up per
/// message). Spinning: the socket is non-blocking and the reader retries <c>recv</c> in a loop, as a user chasing
/// latency would.
/// </summary>
internal sealed class SocketChannel(Socket socket, bool spin) : IChannel
{
    private readonly Socket _socket = Configure(socket, spin);
    private byte[] _buffer = [];

    public void Send(ReadOnlySpan<byte> message)
    {
        while (!message.IsEmpty)
        {
            var sent = _socket.Send(message, SocketFlags.None, out var error);
            if (error is SocketError.WouldBlock)
            {
                Thread.SpinWait(1);
                continue;
            }

            if (error is not SocketError.Success)
            {
                throw new SocketException((int)error);
            }

            message = message[sent..];
        }
    }

    public void Receive(Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            var read = _socket.Receive(destination, SocketFlags.None, out var error);
            if (error is SocketError.WouldBlock)
            {
                continue; // spinning: try again at once
            }

            if (error is not SocketError.Success || read == 0)
            {
                throw new SocketException(error is SocketError.Success ? (int)SocketError.ConnectionReset : (int)error);
            }

            destination = destination[read..];
        }
    }

    /// <summary>The message is produced in the caller's own array, which <c>send</c> copies into the kernel.</summary>
    public void SendProduced(int size, long number)
    {
        var buffer = Buffer(size);
        Words.Fill(buffer, (ulong)number);
        Send(buffer);
    }

    /// <summary><c>recv</c> copies out of the kernel into the caller's array, where the words are summed.</summary>
    public void Consume(int size, ref WordSum sum)
    {
        var buffer = Buffer(size);
        Receive(buffer);
        sum.Add(buffer);
    }

    public void Dispose() => _socket.Dispose();

    private Span<byte> Buffer(int size)
    {
        if (_buffer.Length < size)
        {
            _buffer = new byte[size];
        }

        return _buffer.AsSpan(0, size);
    }

    private static Socket Configure(Socket socket, bool spin)
    {
        if (socket.ProtocolType == ProtocolType.Tcp)
        {
            socket.NoDelay = true;
        }

        socket.Blocking = !spin;
        return socket;
    }
}
