using System.Net.Sockets;

namespace Interconnect.Latency.Transports;

/// <summary>Whole-message send and receive on a blocking stream socket, which may move fewer bytes per call.</summary>
internal static class StreamSockets
{
    public static void SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            data = data[socket.Send(data)..];
        }
    }

    public static void ReceiveAll(Socket socket, Span<byte> data)
    {
        while (!data.IsEmpty)
        {
            var received = socket.Receive(data);
            if (received == 0)
            {
                throw new EndOfStreamException("the peer closed the socket in the middle of a ping-pong");
            }

            data = data[received..];
        }
    }
}
