using Interconnect.Imc;
using Interconnect.Latency.Protocol;

namespace Interconnect.Latency.Transports;

/// <summary>
/// Echo over the Imc API: spins on the flag in region "ping"'s receive window, then writes the payload, straight from
/// the receive memory (zero-copy view), and the flag through region "pong"'s transmit window.
/// </summary>
internal readonly struct ImcEchoChannel : IEchoChannel
{
    private readonly ImcReceiveWindow _rx;
    private readonly ImcTransmitWindow _tx;

    public ImcEchoChannel(ImcReceiveWindow rx, ImcTransmitWindow tx)
    {
        _rx = rx;
        _tx = tx;
    }

    public ulong Receive(int size, ulong sequence)
    {
        var spins = 0;
        long since = 0;
        ulong flag;
        while (PingPongProtocol.Sequence(flag = _rx.Read<ulong>(size)) != sequence)
        {
            if (++spins == Stall.CheckEvery)
            {
                spins = 0;
                Stall.Check(ref since, "the next Imc ping");
            }
        }

        return flag;
    }

    public void Echo(int size, ulong flag)
    {
        _tx.Write(0, _rx.AsSpan(0, size));
        _tx.Write(size, flag);
    }

    public void Acknowledge(int size, ulong flag) => _tx.Write(size, flag);
}
