using System.Diagnostics;
using System.Runtime;
using Interconnect.Imc;
using Interconnect.Latency.Interop;
using Interconnect.Latency.Protocol;
using Interconnect.Latency.Reporting;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// A lock passed between two processes on two hosts, as a baton: three locks of one lock set, alpha holding two and
/// beta one. Each round alpha releases lock r (beta, waiting in Acquire, takes it) and acquires lock r + 2 (which
/// beta releases once it has r), so a round trip is two hand-offs, reported one-way (half). Three locks, so that no
/// side can take back a lock it has just released before the other side took it.
/// </summary>
internal sealed class ImcLockHandOffScenario : ILatencyScenario
{
    public const int LockKey = 4000;
    public const int ControlKey = 4001;   // alpha transmits commands (mark, stop), beta receives
    public const ulong Mark = 2;
    public const ulong Stop = 1;

    public string Name => "Imc lock hand-off";

    public ScenarioRun Run(RoundContext round)
    {
        var cluster = round.ClusterName("lockhandoff");
        var measurements = new List<Measurement>();
        TimeSpan warmup;
        long jit;
        long peerJit;
        try
        {
            using var context = ImcContext.Open(ImcLayout.Options(round.ImcRoot, cluster, ImcLayout.Alpha));
            using var control = context.AllocateRegion(ControlKey, 4096);
            using var commands = control.AttachTransmit();
            using var locks = context.AllocateLockSet(LockKey, 3);
            locks.Acquire(0);
            locks.Acquire(1);
            using var peer = PeerProcess.Start(PeerMain.ImcLockHandOff, 1, "--root", round.ImcRoot, "--cluster", cluster);
            peer.WaitReady(); // beta holds lock 2
            var rounds = 0;
            using (Pinned.To(0))
            {
                var watch = new JitWatch(round.Plan);
                do
                {
                    _ = HandOffs(locks, ref rounds, round.Samples, Stopwatch.GetTimestamp() + Ticks.FromTimeSpan(MeasurePlan.WarmupPass), round.Samples.Length);
                }
                while (!watch.Settled());

                warmup = watch.Elapsed;
                commands.Write(0, Mark);
                watch.Mark();
                var taken = HandOffs(locks, ref rounds, round.Samples,
                    Stopwatch.GetTimestamp() + Ticks.FromTimeSpan(round.Plan.PerParameter), Math.Min(round.Plan.MaxSamples, round.Samples.Length));
                measurements.Add(new Measurement(Groups.LockHandOff, Groups.Imc, 8, Groups.OneWay, Ticks.ToHistogram(round.Samples, taken), 0.5));
                jit = watch.CompiledSinceMark;
            }

            commands.Write(0, Stop);
            // One more round lets beta see Stop after it takes lock r; it then lets go of everything and ends.
            var r = rounds % 3;
            locks.Release(r);
            locks.Acquire((r + 2) % 3);
            peerJit = peer.Finish();
        }
        finally
        {
            ImcControl.DestroyCluster(new ImcOptions { Root = round.ImcRoot, Cluster = cluster });
        }

        string[] notes = [$"warm-up {warmup.TotalMilliseconds:0} ms; methods compiled while measuring: this process {jit}, peer {peerJit}"];
        return new ScenarioRun(Name, round.Round, measurements, notes);
    }

    /// <summary>Beta's side: takes lock r, gives back lock r + 2, until alpha says Stop.</summary>
    public static long RunPeer(string root, string cluster)
    {
        using var context = ImcContext.Open(ImcLayout.Options(root, cluster, ImcLayout.Beta));
        using var control = context.AllocateRegion(ControlKey, 4096);
        using var commands = control.AttachReceive();
        using var locks = context.AllocateLockSet(LockKey, 3);
        locks.Acquire(2);
        PeerMain.Ready();
        long atMark = 0;
        var marked = false;
        for (var rounds = 0; ; rounds++)
        {
            var r = rounds % 3;
            locks.Acquire(r);
            locks.Release((r + 2) % 3);
            var command = commands.Read<ulong>(0);
            if (command == Stop)
            {
                return JitInfo.GetCompiledMethodCount() - atMark; // disposing the set releases lock r
            }

            if (command == Mark && !marked)
            {
                marked = true;
                atMark = JitInfo.GetCompiledMethodCount();
            }
        }
    }

    private static int HandOffs(ImcLockSet locks, ref int rounds, long[] samples, long until, int max)
    {
        var n = 0;
        while (n < max)
        {
            var r = rounds % 3;
            var start = Stopwatch.GetTimestamp();
            locks.Release(r);
            locks.Acquire((r + 2) % 3);
            var end = Stopwatch.GetTimestamp();
            samples[n++] = end - start;
            rounds++;
            if (end >= until)
            {
                break;
            }
        }

        return n;
    }
}
