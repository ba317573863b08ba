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
        // Issue 3 adds here: a lock hand-off between two processes (two processes on two hosts taking one lock of an
        // ImcLockSet in turn; a Measurement(Groups.LockHandOff, Groups.Imc, 8, Groups.OneWay, roundTrips, 0.5), which
        // Targets checks against the cache-line floor) and Kill delivery (ImcContext.Kill to a peer whose handler writes
        // a timestamp back; Groups.Kill, reported in a table of its own). A new peer role goes in PeerMain. Then drop
        // their lines from Pending below.
    ];

    public static IReadOnlyList<PendingScenario> Pending { get; } =
    [
        new("lock hand-off between two processes", "not yet measured (needs issue 3: ImcLockSet)",
            "C floor cache-line ping-pong, measured below"),
        new("lock acquire + release, uncontended", "not yet measured (needs issue 3: ImcLockSet)",
            "a per-call cost: BenchmarkDotNet suite, bench/Interconnect.Benchmarks"),
        new("Kill delivery (signal sent to handler running)", "not yet measured (needs issue 3: ImcContext.Kill)",
            "none yet"),
    ];
}
