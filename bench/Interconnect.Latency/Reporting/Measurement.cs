namespace Interconnect.Latency.Reporting;

/// <summary>
/// One histogram of one round: <paramref name="Group"/> (ping-pong, broadcast, cache line) and
/// <paramref name="Parameter"/> (message size, or receiver count) say what was measured, <paramref name="Transport"/>
/// over what, <paramref name="Metric"/> which time. <paramref name="Scale"/> turns a recorded value into the reported
/// one: 0.5 for a round trip reported one-way.
/// </summary>
internal sealed record Measurement(string Group, string Transport, int Parameter, string Metric, Histogram Histogram, double Scale)
{
    public double Quantile(double quantile) => Histogram.Quantile(quantile) * Scale;

    public double Max => Histogram.Max * Scale;
}
