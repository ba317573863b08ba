using System.Buffers.Binary;
using Interconnect.Latency.Protocol;

namespace Interconnect.Latency.Transports;

/// <summary>Echo over a pair of streams: read the whole message, write it back.</summary>
internal readonly struct StreamEchoChannel : IEchoChannel
{
    private readonly Stream _in;
    private readonly Stream _out;
    private readonly byte[] _buffer;

    public StreamEchoChannel(Stream input, Stream output)
    {
        _in = input;
        _out = output;
        _buffer = new byte[PingPongProtocol.MessageArea];
    }

    public ulong Receive(int size, ulong sequence)
    {
        _in.ReadExactly(_buffer, 0, size + sizeof(ulong));
        var flag = BinaryPrimitives.ReadUInt64LittleEndian(_buffer.AsSpan(size));
        return PingPongProtocol.Sequence(flag) == sequence
            ? flag
            : throw new InvalidOperationException($"pipe message {PingPongProtocol.Sequence(flag)} arrived, {sequence} expected");
    }

    public void Echo(int size, ulong flag) => _out.Write(_buffer, 0, size + sizeof(ulong));

    public void Acknowledge(int size, ulong flag) => Echo(size, flag);
}
