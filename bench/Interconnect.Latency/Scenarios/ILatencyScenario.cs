using Interconnect.Latency.Reporting;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// One thing the harness measures once per round (rounds interleave every scenario). A scenario starts its own peer
/// process, measures, and stops it. To add one (the lock hand-off and Kill delivery of issue 3), implement this,
/// add it to <see cref="ScenarioCatalog.Measured"/> and remove its line from <see cref="ScenarioCatalog.Pending"/>.
/// </summary>
internal interface ILatencyScenario
{
    string Name { get; }

    ScenarioRun Run(RoundContext round);
}
