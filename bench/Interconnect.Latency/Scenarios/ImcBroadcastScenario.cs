using System.Diagnostics;
using System.Globalization;
using Interconnect.Imc;
using Interconnect.Latency.Interop;
using Interconnect.Latency.Protocol;
using Interconnect.Latency.Reporting;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// Imc broadcast of 4 KiB from host alpha (this process) to 1, 2 and 4 receiving hosts (one peer process holding a
/// context on each). Per message: "delivery" is the time from before the write until the last receiving host has the
/// flag (the peer's timestamp, same clock), "write" the time alpha spends in the two writes (payload, then flag).
/// </summary>
internal sealed class ImcBroadcastScenario : ILatencyScenario
{
    public string Name => "Imc broadcast";

    public ScenarioRun Run(RoundContext round)
    {
        var cluster = round.ClusterName("broadcast");
        var counts = ImcLayout.ReceiverCounts;
        var measurements = new List<Measurement>();
        TimeSpan warmup;
        long jit;
        long peerJit;
        try
        {
            using var context = ImcContext.Open(ImcLayout.Options(round.ImcRoot, cluster, ImcLayout.Alpha));
            var regions = counts.Select(n => context.AllocateRegion(ImcLayout.BroadcastKey + n, ImcLayout.BroadcastRegionSize)).ToList();
            using var ackRegion = context.AllocateRegion(ImcLayout.AckKey, ImcLayout.AckRegionSize);
            using var ack = ackRegion.AttachReceive();
            var windows = new ImcTransmitWindow[counts.Max() + 1];
            for (var i = 0; i < counts.Length; i++)
            {
                windows[counts[i]] = regions[i].AttachTransmit();
            }

            try
            {
                using var peer = PeerProcess.Start(PeerMain.ImcBroadcast, 1, "--root", round.ImcRoot, "--cluster", cluster,
                    "--receivers", counts[0].ToString(CultureInfo.InvariantCulture));
                peer.WaitReady();
                var sender = new Sender(windows, ack, counts[0]);
                using (Pinned.To(0))
                {
                    (warmup, jit) = sender.Run(counts, round, measurements);
                }

                peerJit = peer.Finish();
            }
            finally
            {
                regions.ForEach(r => r.Dispose());
            }
        }
        finally
        {
            ImcControl.DestroyCluster(new ImcOptions { Root = round.ImcRoot, Cluster = cluster });
        }

        string[] notes = [$"warm-up {warmup.TotalMilliseconds:0} ms; methods compiled while measuring: this process {jit}, peer {peerJit}"];
        return new ScenarioRun(Name, round.Round, measurements, notes);
    }

    private sealed class Sender
    {
        private readonly ImcTransmitWindow[] _windows;
        private readonly ImcReceiveWindow _ack;
        private readonly byte[] _payload = new byte[ImcLayout.BroadcastPayload];
        private ulong _sequence;
        private int _receivers;

        public Sender(ImcTransmitWindow[] windows, ImcReceiveWindow ack, int receivers)
        {
            _windows = windows;
            _ack = ack;
            _receivers = receivers;
            _payload.AsSpan().Fill(PingPongProtocol.PayloadByte);
        }

        public (TimeSpan Warmup, long Jit) Run(int[] counts, RoundContext round, List<Measurement> measurements)
        {
            var jit = new JitWatch(round.Plan);
            var max = Math.Min(round.Plan.MaxSamples, round.Samples.Length);
            var slice = Ticks.FromTimeSpan(MeasurePlan.WarmupPass / counts.Length);
            do
            {
                foreach (var n in counts)
                {
                    Switch(n);
                    var taken = Broadcasts(round.Samples, round.MoreSamples, Stopwatch.GetTimestamp() + slice, max);
                    _ = Ticks.ToHistogram(round.Samples, taken); // warms up what runs between measured counts too
                }
            }
            while (!jit.Settled());

            var warmup = jit.Elapsed;
            Command(PingPongProtocol.Mark);
            jit.Mark();
            foreach (var n in counts)
            {
                Switch(n);
                var taken = Broadcasts(round.Samples, round.MoreSamples, Stopwatch.GetTimestamp() + Ticks.FromTimeSpan(round.Plan.PerParameter), max);
                measurements.Add(new Measurement(Groups.Broadcast, Groups.Imc, n, Groups.Delivery, Ticks.ToHistogram(round.Samples, taken), 1));
                measurements.Add(new Measurement(Groups.Broadcast, Groups.Imc, n, Groups.Write, Ticks.ToHistogram(round.MoreSamples, taken), 1));
            }

            var compiled = jit.CompiledSinceMark;
            Command(PingPongProtocol.Stop);
            return (warmup, compiled);
        }

        private void Switch(int receivers)
        {
            if (receivers != _receivers)
            {
                Command((uint)receivers);
                _receivers = receivers;
            }
        }

        private void Command(uint command)
        {
            var flag = PingPongProtocol.Flag(++_sequence, command);
            _windows[_receivers].Write(ImcLayout.BroadcastPayload, flag);
            WaitAck(flag);
        }

        private int Broadcasts(long[] delivery, long[] write, long until, int max)
        {
            var tx = _windows[_receivers];
            var n = 0;
            while (n < max)
            {
                var flag = PingPongProtocol.Flag(++_sequence);
                var start = Stopwatch.GetTimestamp();
                tx.Write(0, _payload);
                tx.Write(ImcLayout.BroadcastPayload, flag);
                var sent = Stopwatch.GetTimestamp();
                WaitAck(flag);
                var arrived = _ack.Read<long>(0);
                delivery[n] = arrived - start;
                write[n] = sent - start;
                n++;
                if (sent >= until)
                {
                    break;
                }
            }

            return n;
        }

        private void WaitAck(ulong flag)
        {
            var spins = 0;
            long since = 0;
            while (_ack.Read<ulong>(sizeof(long)) != flag)
            {
                if (++spins == Stall.CheckEvery)
                {
                    spins = 0;
                    Stall.Check(ref since, "the broadcast's acknowledgement");
                }
            }
        }
    }
}
