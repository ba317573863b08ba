using Interconnect.Latency.Reporting;

namespace Interconnect.Latency.Protocol;

/// <summary>Round-trip histograms per size, how long the warm-up took, and what the JIT did after it.</summary>
internal sealed record PingPongResult(
    IReadOnlyList<(int Size, Histogram RoundTrip)> Histograms,
    TimeSpan Warmup,
    long MethodsCompiledWhileMeasuring);
