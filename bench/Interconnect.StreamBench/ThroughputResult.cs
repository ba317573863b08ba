namespace Interconnect.StreamBench;

/// <summary>Streaming throughput of one transport at one write size: the median of the runs, in MiB/s.</summary>
internal sealed record ThroughputResult(string Transport, int WriteBytes, double MibPerSecond, List<double> Runs, string? Failure = null);
