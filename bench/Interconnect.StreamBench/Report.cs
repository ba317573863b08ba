namespace Interconnect.StreamBench;

/// <summary>One run of the benchmark, as written to streams.json.</summary>
internal sealed record Report(DateTime StartedUtc, string Machine, int Cpus, string LoadBefore, string LoadAfter, string Runtime,
    string Command, long ThroughputBytes, long ThroughputWarmupBytes, int ThroughputRuns, int LatencySamples, List<ThroughputResult> Throughput,
    List<LatencyResult> Latency);
