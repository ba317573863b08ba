using System.Numerics;

namespace Interconnect.Latency.Reporting;

/// <summary>
/// Every sample of one measurement, in nanoseconds: exact below 2048 ns, then log-linear buckets 1/1024 wide
/// (a relative error under 0.1 %, as HdrHistogram with three significant digits). Recording allocates nothing.
/// </summary>
internal sealed class Histogram
{
    private const int SubBits = 10;
    private const int SubCount = 1 << SubBits;           // buckets per power of two above the exact range
    private const long ExactLimit = 2L * SubCount;        // values below it have a bucket each
    private const int Powers = 64 - SubBits - 1;
    private readonly long[] _counts = new long[ExactLimit + (Powers * SubCount)];

    public long Count { get; private set; }

    public long Max { get; private set; }

    public long Min { get; private set; } = long.MaxValue;

    public double Sum { get; private set; }

    public void Record(long value, long count = 1)
    {
        if (value < 0)
        {
            value = 0;
        }

        _counts[Index(value)] += count;
        Count += count;
        Sum += (double)value * count;
        if (value > Max)
        {
            Max = value;
        }

        if (value < Min)
        {
            Min = value;
        }
    }

    /// <summary>The smallest recorded value (a bucket's lower bound) at or below which a <paramref name="quantile"/> of samples lie.</summary>
    public long Quantile(double quantile)
    {
        if (Count == 0)
        {
            return 0;
        }

        if (quantile >= 1)
        {
            return Max;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(quantile * Count));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(ValueAt(i), Max);
            }
        }

        return Max;
    }

    public double Mean => Count == 0 ? 0 : Sum / Count;

    /// <summary>The non-empty buckets, as (lower bound in ns, count), ascending.</summary>
    public IEnumerable<(long Value, long Count)> Buckets()
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            if (_counts[i] != 0)
            {
                yield return (ValueAt(i), _counts[i]);
            }
        }
    }

    private static int Index(long value)
    {
        if (value < ExactLimit)
        {
            return (int)value;
        }

        var shift = 63 - BitOperations.LeadingZeroCount((ulong)value) - SubBits; // >= 1 here
        var sub = (int)(value >> shift) - SubCount;                              // 0 .. SubCount - 1
        return (int)ExactLimit + ((shift - 1) * SubCount) + sub;
    }

    private static long ValueAt(int index)
    {
        if (index < ExactLimit)
        {
            return index;
        }

        var shift = ((index - (int)ExactLimit) / SubCount) + 1;
        var sub = (index - (int)ExactLimit) % SubCount;
        return (long)(SubCount + sub) << shift;
    }
}
