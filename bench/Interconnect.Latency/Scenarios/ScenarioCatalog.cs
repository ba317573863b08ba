namespace Interconnect.Latency.Scenarios;

/// <summary>Every scenario the harness runs each round, and those it cannot run yet.</summary>
internal static class ScenarioCatalog
{
    public static IReadOnlyList<ILatencyScenario> Measured { get; } =
    [
        new NativeFloorScenario(NativeFloorScenario.PingPong),
        new NativeFloorScenario(NativeFloorScenario.PingPong, throughLibImc: true),
        new ImcPingPongScenario(),
        new SocketPingPongScenario(unixDomain: true),
        new SocketPingPongScenario(unixDomain: false),
        new PipePingPongScenario(),
        new NativeFloorScenario(NativeFloorScenario.Broadcast),
        new ImcBroadcastScenario(),
        new NativeFloorScenario(NativeFloorScenario.CacheLine),
        new ImcLockHandOffScenario(),
        new ImcKillScenario(),
    ];

    /// <summary>With --machines: the across-machines scenario once per imcd progress mode and UCX environment.</summary>
    public static IReadOnlyList<ILatencyScenario> AcrossMachines(HarnessOptions options) =>
        [.. options.Progress.SelectMany(mode => options.UcxVariants.Select(variant => new MachinesScenario(mode, variant)))];

    public static IReadOnlyList<PendingScenario> Pending { get; } =
    [
        new("lock acquire + release, uncontended", "a per-call cost: measured by the BenchmarkDotNet suite (LockBenchmarks)",
            "two compare-and-swaps (RawCompareExchangePair)"),

    ];
}
