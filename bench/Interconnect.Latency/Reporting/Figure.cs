namespace Interconnect.Latency.Reporting;

/// <summary>
/// One number of one round that is not a histogram of this harness's own samples: a figure another program printed
/// (ucx_perftest's p50, its bandwidth) or a rate this harness computed (a stream's GB/s). <paramref name="Unit"/>
/// says what it is in ("ns", "GB/s").
/// </summary>
internal sealed record Figure(string Group, string Transport, int Parameter, string Metric, double Value, string Unit);
