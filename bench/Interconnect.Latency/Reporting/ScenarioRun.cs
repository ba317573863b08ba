namespace Interconnect.Latency.Reporting;

/// <summary>
/// What one scenario produced in one round: its histograms, notes for people (JIT counts, pinning), and figures that
/// are single numbers (the across-machines scenario's ucx_perftest results and bandwidths).
/// </summary>
internal sealed record ScenarioRun(string Scenario, int Round, IReadOnlyList<Measurement> Measurements, IReadOnlyList<string> Notes,
    IReadOnlyList<Figure>? Figures = null);
