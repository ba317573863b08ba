using System.Buffers.Binary;
using System.Net.Sockets;
using Interconnect.Latency.Protocol;

namespace Interconnect.Latency.Transports;

/// <summary>Ping over a connected stream socket (Unix domain or TCP), with blocking sends and receives.</summary>
internal readonly struct SocketPingChannel : IPingChannel
{
    private readonly Socket _socket;
    private readonly byte[] _send;
    private readonly byte[] _receive;

    public SocketPingChannel(Socket socket)
    {
        _socket = socket;
        _send = new byte[PingPongProtocol.MessageArea];
        _receive = new byte[PingPongProtocol.MessageArea];
        _send.AsSpan().Fill(PingPongProtocol.PayloadByte);
    }

    public void Send(int size, ulong flag)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_send.AsSpan(size), flag);
        StreamSockets.SendAll(_socket, _send.AsSpan(0, size + sizeof(ulong)));
    }

    public void WaitEcho(int size, ulong flag)
    {
        StreamSockets.ReceiveAll(_socket, _receive.AsSpan(0, size + sizeof(ulong)));
        if (BinaryPrimitives.ReadUInt64LittleEndian(_receive.AsSpan(size)) != flag)
        {
            throw new InvalidOperationException($"the socket echo carried the wrong flag (expected {flag:x})");
        }
    }
}
