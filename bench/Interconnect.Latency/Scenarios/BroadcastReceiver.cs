using System.Diagnostics;
using System.Runtime;
using Interconnect.Imc;
using Interconnect.Latency.Protocol;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// The receiving side of the Imc broadcast: one process with a context on each receiving host (r1..r4), polling every
/// host's receive memory in turn, since two cores cannot spin four receivers. When the last host has the flag it
/// takes a timestamp and sends it back through the ack region, as the C floor's receiver does.
/// </summary>
internal static class BroadcastReceiver
{
    public static long Run(string root, string cluster, int receivers)
    {
        var maxReceivers = ImcLayout.ReceiverCounts.Max();
        var owned = new List<IDisposable>();
        try
        {
            var contexts = new ImcContext[maxReceivers];
            for (var host = 0; host < maxReceivers; host++)
            {
                contexts[host] = ImcContext.Open(ImcLayout.Options(root, cluster, ImcLayout.Receiver(host)));
                owned.Add(contexts[host]);
            }

            // windows[n] = the receive windows of the region broadcast to n hosts, one per host.
            var windows = new ImcReceiveWindow[maxReceivers + 1][];
            foreach (var count in ImcLayout.ReceiverCounts)
            {
                windows[count] = new ImcReceiveWindow[count];
                for (var host = 0; host < count; host++)
                {
                    var region = contexts[host].AllocateRegion(ImcLayout.BroadcastKey + count, ImcLayout.BroadcastRegionSize);
                    owned.Add(region);
                    windows[count][host] = region.AttachReceive();
                }
            }

            var ackRegion = contexts[0].AllocateRegion(ImcLayout.AckKey, ImcLayout.AckRegionSize);
            owned.Add(ackRegion);
            var ack = ackRegion.AttachTransmit();
            PeerMain.Ready();
            return Receive(windows, ack, receivers);
        }
        finally
        {
            for (var i = owned.Count - 1; i >= 0; i--)
            {
                owned[i].Dispose();
            }
        }
    }

    private static long Receive(ImcReceiveWindow[][] windows, ImcTransmitWindow ack, int receivers)
    {
        ulong expected = 1;
        long atMark = 0;
        while (true)
        {
            var flag = WaitAll(windows[receivers], expected);
            var arrived = Stopwatch.GetTimestamp();
            expected++;
            ack.Write(0, arrived);
            ack.Write(sizeof(long), flag); // after the timestamp: the sender reads the flag, then the time
            var command = PingPongProtocol.Command(flag);
            switch (command)
            {
                case PingPongProtocol.Data:
                    break;
                case PingPongProtocol.Stop:
                    return JitInfo.GetCompiledMethodCount() - atMark;
                case PingPongProtocol.Mark:
                    atMark = JitInfo.GetCompiledMethodCount();
                    break;
                default:
                    receivers = (int)command;
                    break;
            }
        }
    }

    private static ulong WaitAll(ImcReceiveWindow[] hosts, ulong sequence)
    {
        ulong flag = 0;
        foreach (var rx in hosts)
        {
            var spins = 0;
            long since = 0;
            while (PingPongProtocol.Sequence(flag = rx.Read<ulong>(ImcLayout.BroadcastPayload)) != sequence)
            {
                if (++spins == Stall.CheckEvery)
                {
                    spins = 0;
                    Stall.Check(ref since, "the next broadcast");
                }
            }
        }

        return flag;
    }
}
