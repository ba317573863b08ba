using System.Diagnostics;
using Interconnect.Latency.Reporting;

namespace Interconnect.Latency.Protocol;

/// <summary>
/// The measuring side of every ping-pong: warms up over every size until the JIT settles, marks the start, then
/// takes round trips at each size for the plan's time or sample count. Round trip = one <c>Send</c> and its
/// <c>WaitEcho</c>; the clock is read once per round trip (each reading ends one sample and starts the next), and a
/// sample is stored in a preallocated array, as the C floor does, then put into a histogram after the size's run.
/// </summary>
internal static class PingPongDriver
{
    public static PingPongResult Run<TChannel>(ref TChannel channel, IReadOnlyList<int> sizes, MeasurePlan plan, long[] samples)
        where TChannel : struct, IPingChannel
    {
        var size = sizes[0];
        ulong sequence = 0;
        var jit = new JitWatch(plan);
        var slice = MeasurePlan.WarmupPass / sizes.Count;
        do
        {
            foreach (var next in sizes)
            {
                Switch(ref channel, ref size, ref sequence, next);
                var count = RoundTrips(ref channel, size, ref sequence, samples, Until(slice), Math.Min(plan.MaxSamples, samples.Length));
                _ = Ticks.ToHistogram(samples, count); // warms up what runs between measured sizes too
            }
        }
        while (!jit.Settled());

        var warmup = jit.Elapsed;
        Command(ref channel, size, ref sequence, PingPongProtocol.Mark);
        jit.Mark();
        var histograms = new List<(int Size, Histogram RoundTrip)>();
        foreach (var next in sizes)
        {
            Switch(ref channel, ref size, ref sequence, next);
            var count = RoundTrips(ref channel, size, ref sequence, samples, Until(plan.PerParameter), Math.Min(plan.MaxSamples, samples.Length));
            histograms.Add((size, Ticks.ToHistogram(samples, count)));
        }

        var compiled = jit.CompiledSinceMark;
        Command(ref channel, size, ref sequence, PingPongProtocol.Stop);
        return new PingPongResult(histograms, warmup, compiled);
    }

    private static long Until(TimeSpan span) => Stopwatch.GetTimestamp() + Ticks.FromTimeSpan(span);

    private static void Switch<TChannel>(ref TChannel channel, ref int size, ref ulong sequence, int next)
        where TChannel : struct, IPingChannel
    {
        if (next != size)
        {
            Command(ref channel, size, ref sequence, PingPongProtocol.SwitchToSize(next));
            size = next;
        }
    }

    private static void Command<TChannel>(ref TChannel channel, int size, ref ulong sequence, uint command)
        where TChannel : struct, IPingChannel
    {
        var flag = PingPongProtocol.Flag(++sequence, command);
        channel.Send(size, flag);
        channel.WaitEcho(size, flag);
    }

    private static int RoundTrips<TChannel>(ref TChannel channel, int size, ref ulong sequence, long[] samples, long until, int max)
        where TChannel : struct, IPingChannel
    {
        var n = 0;
        var t = Stopwatch.GetTimestamp();
        while (n < max)
        {
            var flag = PingPongProtocol.Flag(++sequence);
            channel.Send(size, flag);
            channel.WaitEcho(size, flag);
            var t2 = Stopwatch.GetTimestamp();
            samples[n] = t2 - t;
            n++;
            t = t2;
            if (t2 >= until)
            {
                break;
            }
        }

        return n;
    }
}
