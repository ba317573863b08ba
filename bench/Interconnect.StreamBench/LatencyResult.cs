namespace Interconnect.StreamBench;

/// <summary>Ping-pong latency of one transport at one message size: one-way (round trip / 2) percentiles, in ns.</summary>
internal sealed record LatencyResult(string Transport, int MessageBytes, double P50Ns, double P99Ns, double P999Ns, long Samples, string? Failure = null);
