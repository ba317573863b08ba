using System.Buffers.Binary;
using Interconnect.Latency.Protocol;

namespace Interconnect.Latency.Transports;

/// <summary>Ping over a pair of streams (an anonymous pipe each way): write the message, read the echo whole.</summary>
internal readonly struct StreamPingChannel : IPingChannel
{
    private readonly Stream _out;
    private readonly Stream _in;
    private readonly byte[] _send;
    private readonly byte[] _receive;

    public StreamPingChannel(Stream output, Stream input)
    {
        _out = output;
        _in = input;
        _send = new byte[PingPongProtocol.MessageArea];
        _receive = new byte[PingPongProtocol.MessageArea];
        _send.AsSpan().Fill(PingPongProtocol.PayloadByte);
    }

    public void Send(int size, ulong flag)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_send.AsSpan(size), flag);
        _out.Write(_send, 0, size + sizeof(ulong));
    }

    public void WaitEcho(int size, ulong flag)
    {
        _in.ReadExactly(_receive, 0, size + sizeof(ulong));
        if (BinaryPrimitives.ReadUInt64LittleEndian(_receive.AsSpan(size)) != flag)
        {
            throw new InvalidOperationException($"the pipe echo carried the wrong flag (expected {flag:x})");
        }
    }
}
