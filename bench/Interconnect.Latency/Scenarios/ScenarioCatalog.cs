namespace Interconnect.Latency.Scenarios;

/// <summary>Every scenario the harness runs each round, and those it cannot run yet.</summary>
internal static class ScenarioCatalog
{
    public static IReadOnlyList<ILatencyScenario> Measured { get; } =
    [
        new NativeFloorScenario(NativeFloorScenario.PingPong),
        new ImcPingPongScenario(),
        new SocketPingPongScenario(unixDomain: true),
        new SocketPingPongScenario(unixDomain: false),
        new PipePingPongScenario(),
        new NativeFloorScenario(NativeFloorScenario.Broadcast),
        new ImcBroadcastScenario(),
        new NativeFloorScenario(NativeFloorScenario.CacheLine),
        new ImcLockHandOffScenario(),
        // To add: Kill delivery (ImcContext.Kill to a peer whose handler writes a timestamp back; Groups.Kill, reported
        // in a table of its own). A new peer role goes in PeerMain. Then drop its line from Pending below.
    ];

    public static IReadOnlyList<PendingScenario> Pending { get; } =
    [
        new("lock acquire + release, uncontended", "a per-call cost: measured by the BenchmarkDotNet suite (LockBenchmarks)",
            "two compare-and-swaps (RawCompareExchangePair)"),
        new("Kill delivery (signal sent to handler running)", "not yet measured: the scenario is still to be written",
            "none yet"),
    ];
}
