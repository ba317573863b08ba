namespace Interconnect.Latency.Protocol;

/// <summary>
/// How long one process pair warms up and measures. <see cref="Warmup"/> is the least warm-up: it goes on, in
/// passes of <see cref="WarmupPass"/> over every parameter, until a pass compiles no new method in this process
/// (tiered compilation has promoted the hot path) or <see cref="MaxWarmup"/> has passed.
/// </summary>
internal sealed record MeasurePlan(
    TimeSpan Warmup,
    TimeSpan MaxWarmup,
    TimeSpan PerParameter,
    int MaxSamples)
{
    public static readonly TimeSpan WarmupPass = TimeSpan.FromMilliseconds(200);
}
