using NetMQ;
using NetMQ.Sockets;

namespace Interconnect.StreamBench;

/// <summary>A NetMQ PAIR socket (the coordinator binds, the peer connects); one frame per send, copied out on receive.</summary>
internal sealed class NetMqChannel : IChannel
{
    private readonly PairSocket _socket = new();
    private Msg _message;

    public NetMqChannel(string address, bool bind, int messageSize)
    {
        // Queue about 4 MiB each way, as much as an Imc stream's ring holds.
        _socket.Options.Linger = TimeSpan.Zero;
        _socket.Options.SendHighWatermark = Math.Max(4, (4 << 20) / messageSize);
        _socket.Options.ReceiveHighWatermark = Math.Max(4, (4 << 20) / messageSize);
        if (bind)
        {
            _socket.Bind(address);
        }
        else
        {
            _socket.Connect(address);
        }

        _message.InitEmpty();
    }

    public void Send(ReadOnlySpan<byte> message)
    {
        var outgoing = default(Msg);
        outgoing.InitPool(message.Length);
        message.CopyTo(outgoing.Slice());
        if (!_socket.TrySend(ref outgoing, TimeSpan.FromSeconds(30), more: false))
        {
            throw new TimeoutException("NetMQ could not send within 30 s");
        }

        outgoing.Close();
    }

    /// <summary>The message is produced in a NetMQ message from its pool, which is sent without another copy.</summary>
    public void SendProduced(int size, long number)
    {
        var outgoing = default(Msg);
        outgoing.InitPool(size);
        Words.Fill(outgoing.Slice(), (ulong)number);
        if (!_socket.TrySend(ref outgoing, TimeSpan.FromSeconds(30), more: false))
        {
            throw new TimeoutException("NetMQ could not send within 30 s");
        }

        outgoing.Close();
    }

    /// <summary>The words are summed in the received NetMQ message itself.</summary>
    public void Consume(int size, ref WordSum sum)
    {
        while (size > 0)
        {
            if (!_socket.TryReceive(ref _message, TimeSpan.FromSeconds(30)))
            {
                throw new TimeoutException("no NetMQ message came within 30 s");
            }

            var part = _message.Slice();
            sum.Add(part);
            size -= part.Length;
        }
    }

    public void Receive(Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            if (!_socket.TryReceive(ref _message, TimeSpan.FromSeconds(30)))
            {
                throw new TimeoutException("no NetMQ message came within 30 s");
            }

            var part = _message.Slice();
            part.CopyTo(destination);
            destination = destination[part.Length..];
        }
    }

    public void Dispose()
    {
        _message.Close();
        _socket.Dispose();
    }
}
