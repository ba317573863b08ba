using Interconnect.Imc;
using Interconnect.Latency.Protocol;

namespace Interconnect.Latency.Transports;

/// <summary>
/// Ping over the Imc API: the payload and then the flag through the transmit window of region "ping"; the echo is
/// awaited by spinning on <see cref="ImcReceiveWindow.Read{T}"/> of region "pong", as a user of the API would.
/// </summary>
internal readonly struct ImcPingChannel : IPingChannel
{
    private readonly ImcTransmitWindow _tx;
    private readonly ImcReceiveWindow _rx;
    private readonly byte[] _payload;

    public ImcPingChannel(ImcTransmitWindow tx, ImcReceiveWindow rx, byte[] payload)
    {
        _tx = tx;
        _rx = rx;
        _payload = payload;
    }

    public void Send(int size, ulong flag)
    {
        _tx.Write(0, new ReadOnlySpan<byte>(_payload, 0, size));
        _tx.Write(size, flag);
    }

    public void WaitEcho(int size, ulong flag)
    {
        var spins = 0;
        long since = 0;
        while (_rx.Read<ulong>(size) != flag)
        {
            if (++spins == Stall.CheckEvery)
            {
                spins = 0;
                Stall.Check(ref since, "the Imc echo");
            }
        }
    }
}
