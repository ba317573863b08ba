using System.Diagnostics;

namespace Interconnect.Latency.Reporting;

/// <summary>
/// Stopwatch ticks to nanoseconds. On Linux a tick is a nanosecond of CLOCK_MONOTONIC (the clock the C floor reads),
/// one clock for every process of the machine, so a timestamp taken in one process can be compared with another's.
/// </summary>
internal static class Ticks
{
    private static readonly double s_nanosecondsPerTick = 1e9 / Stopwatch.Frequency;

    public static long ToNanoseconds(long ticks) =>
        Stopwatch.Frequency == 1_000_000_000 ? ticks : (long)Math.Round(ticks * s_nanosecondsPerTick);

    public static long FromTimeSpan(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    public static Histogram ToHistogram(long[] samples, int count)
    {
        var histogram = new Histogram();
        for (var i = 0; i < count; i++)
        {
            histogram.Record(ToNanoseconds(samples[i]));
        }

        return histogram;
    }
}
