namespace Interconnect.Latency.Reporting;

/// <summary>What one scenario produced in one round: its histograms, and notes for people (JIT counts, pinning).</summary>
internal sealed record ScenarioRun(string Scenario, int Round, IReadOnlyList<Measurement> Measurements, IReadOnlyList<string> Notes);
