namespace Interconnect.Latency.Reporting;

/// <summary>One DESIGN.md performance target, what this run measured for it, and whether it is met.</summary>
internal sealed record TargetResult(string Target, string Measured, string Verdict);
