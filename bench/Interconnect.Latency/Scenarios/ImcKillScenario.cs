using System.Diagnostics;
using System.Runtime;
using System.Runtime.InteropServices;
using Interconnect.Imc;
using Interconnect.Latency.Interop;
using Interconnect.Latency.Protocol;
using Interconnect.Latency.Reporting;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// <c>Kill</c> delivery: alpha sends SIGUSR1 with <see cref="ImcContext.Kill"/> to the peer process on host beta,
/// whose handler (PosixSignalRegistration) writes its own timestamp back through a region; one sample is the time
/// from before the call to the handler running (same clock). Each signal waits for the previous one's answer, so
/// none coalesce.
/// </summary>
internal sealed class ImcKillScenario : ILatencyScenario
{
    public const int AnswerKey = 4100;   // beta transmits (count, timestamp), alpha receives
    public const int ControlKey = 4101;  // alpha transmits commands (mark, stop), beta receives
    public const int SigUsr1 = 10;
    private const ulong Mark = 2;
    private const ulong Stop = 1;

    public string Name => "Imc Kill delivery";

    public ScenarioRun Run(RoundContext round)
    {
        var cluster = round.ClusterName("kill");
        var measurements = new List<Measurement>();
        TimeSpan warmup;
        long jit;
        long peerJit;
        try
        {
            using var context = ImcContext.Open(ImcLayout.Options(round.ImcRoot, cluster, ImcLayout.Alpha));
            using var answerRegion = context.AllocateRegion(AnswerKey, 4096);
            using var answers = answerRegion.AttachReceive();
            using var controlRegion = context.AllocateRegion(ControlKey, 4096);
            using var control = controlRegion.AttachTransmit();
            using var peer = PeerProcess.Start(PeerMain.ImcKill, 1, "--root", round.ImcRoot, "--cluster", cluster);
            peer.WaitReady();
            ulong sent = 0;
            var watch = new JitWatch(round.Plan);
            do
            {
                _ = Signals(context, peer.Pid, answers, ref sent, round.Samples,
                    Stopwatch.GetTimestamp() + Ticks.FromTimeSpan(MeasurePlan.WarmupPass), round.Samples.Length);
            }
            while (!watch.Settled());

            warmup = watch.Elapsed;
            control.Write(0, Mark);
            watch.Mark();
            var taken = Signals(context, peer.Pid, answers, ref sent, round.Samples,
                Stopwatch.GetTimestamp() + Ticks.FromTimeSpan(round.Plan.PerParameter), Math.Min(round.Plan.MaxSamples, round.Samples.Length));
            measurements.Add(new Measurement(Groups.Kill, Groups.Imc, SigUsr1, Groups.Delivery, Ticks.ToHistogram(round.Samples, taken), 1));
            jit = watch.CompiledSinceMark;
            control.Write(0, Stop);
            peerJit = peer.Finish();
        }
        finally
        {
            ImcControl.DestroyCluster(new ImcOptions { Root = round.ImcRoot, Cluster = cluster });
        }

        string[] notes = [$"warm-up {warmup.TotalMilliseconds:0} ms; methods compiled while measuring: this process {jit}, peer {peerJit}"];
        return new ScenarioRun(Name, round.Round, measurements, notes);
    }

    /// <summary>Beta's side: answers each SIGUSR1 with its count and the time its handler ran, until Stop.</summary>
    public static long RunPeer(string root, string cluster)
    {
        using var context = ImcContext.Open(ImcLayout.Options(root, cluster, ImcLayout.Beta));
        using var answerRegion = context.AllocateRegion(AnswerKey, 4096);
        using var answers = answerRegion.AttachTransmit();
        using var controlRegion = context.AllocateRegion(ControlKey, 4096);
        using var control = controlRegion.AttachReceive();
        ulong handled = 0;
        using var registration = PosixSignalRegistration.Create((PosixSignal)SigUsr1, signal =>
        {
            signal.Cancel = true;
            answers.Write(8, Stopwatch.GetTimestamp());
            answers.Write(0, ++handled); // the count last: alpha reads the time once it sees the count
        });
        PeerMain.Ready();
        long atMark = 0;
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(5))
        {
            var command = control.Read<ulong>(0);
            if (command == Stop)
            {
                return JitInfo.GetCompiledMethodCount() - atMark;
            }

            if (command == Mark && atMark == 0)
            {
                atMark = JitInfo.GetCompiledMethodCount();
            }

            Thread.Sleep(1);
        }

        throw new TimeoutException("alpha never said Stop");
    }

    private static int Signals(ImcContext context, int pid, ImcReceiveWindow answers, ref ulong sent, long[] samples, long until, int max)
    {
        var n = 0;
        while (n < max)
        {
            var start = Stopwatch.GetTimestamp();
            context.Kill(ImcLayout.Beta, pid, SigUsr1);
            sent++;
            var since = 0L;
            var spins = 0;
            while (answers.Read<ulong>(0) != sent)
            {
                if (++spins == Stall.CheckEvery)
                {
                    spins = 0;
                    Stall.Check(ref since, "the Kill handler's answer");
                }
            }

            samples[n++] = answers.Read<long>(8) - start;
            if (Stopwatch.GetTimestamp() >= until)
            {
                break;
            }
        }

        return n;
    }
}
