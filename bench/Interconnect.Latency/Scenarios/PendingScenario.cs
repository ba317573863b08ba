namespace Interconnect.Latency.Scenarios;

/// <summary>A scenario the report lists as not measured yet, and why: never a number made up in its place.</summary>
internal sealed record PendingScenario(string Name, string Reason, string Floor);
