namespace Interconnect.Latency.Reporting;

/// <summary>The reported figures of one histogram (already scaled, e.g. one-way), in nanoseconds.</summary>
internal sealed record Stats(double P50, double P99, double P999, double Max, long Count)
{
    public static Stats Of(Measurement m) =>
        new(m.Quantile(0.50), m.Quantile(0.99), m.Quantile(0.999), m.Max, m.Histogram.Count);
}
