using System.Buffers.Binary;
using System.Net.Sockets;
using Interconnect.Latency.Protocol;

namespace Interconnect.Latency.Transports;

/// <summary>Echo over a connected stream socket: receive the whole message, send it back.</summary>
internal readonly struct SocketEchoChannel : IEchoChannel
{
    private readonly Socket _socket;
    private readonly byte[] _buffer;

    public SocketEchoChannel(Socket socket)
    {
        _socket = socket;
        _buffer = new byte[PingPongProtocol.MessageArea];
    }

    public ulong Receive(int size, ulong sequence)
    {
        StreamSockets.ReceiveAll(_socket, _buffer.AsSpan(0, size + sizeof(ulong)));
        var flag = BinaryPrimitives.ReadUInt64LittleEndian(_buffer.AsSpan(size));
        return PingPongProtocol.Sequence(flag) == sequence
            ? flag
            : throw new InvalidOperationException($"socket message {PingPongProtocol.Sequence(flag)} arrived, {sequence} expected");
    }

    public void Echo(int size, ulong flag) => StreamSockets.SendAll(_socket, _buffer.AsSpan(0, size + sizeof(ulong)));

    public void Acknowledge(int size, ulong flag) => Echo(size, flag);
}
