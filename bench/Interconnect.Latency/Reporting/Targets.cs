namespace Interconnect.Latency.Reporting;

/// <summary>The performance targets of DESIGN.md, checked against the medians of this run.</summary>
internal static class Targets
{
    private const double OneWayP50 = 1.3;
    private const double OneWayP99 = 2.0;
    private const double BroadcastRatio = 1.5;
    private const double SocketFactor = 10;
    private const double HandOffRatio = 2.0;

    public static IReadOnlyList<TargetResult> Evaluate(IReadOnlyList<Aggregate> aggregates)
    {
        var results = new List<TargetResult>();
        var finder = new Finder(aggregates);
        foreach (var size in new[] { 8, 64 })
        {
            var imc = finder.Find(Groups.PingPong, Groups.Imc, size, Groups.OneWay);
            var floor = finder.Find(Groups.PingPong, Groups.Floor, size, Groups.OneWay);
            results.Add(Ratio($"{size} B one-way p50 within {OneWayP50}× of the floor", imc?.Median.P50, floor?.Median.P50, OneWayP50));
            results.Add(Ratio($"{size} B one-way p99 within {OneWayP99}× of the floor", imc?.Median.P99, floor?.Median.P99, OneWayP99));
            var c = finder.Find(Groups.PingPong, Groups.CLibImc, size, Groups.OneWay);
            if (c is not null)
            {
                results.Add(Ratio($"C via libimc.so: {size} B one-way p50 within {OneWayP50}× of the floor", c.Median.P50, floor?.Median.P50, OneWayP50));
            }
        }

        foreach (var receivers in new[] { 1, 2, 4 })
        {
            var imc = finder.Find(Groups.Broadcast, Groups.Imc, receivers, Groups.Delivery);
            var floor = finder.Find(Groups.Broadcast, Groups.Floor, receivers, Groups.Delivery);
            var imcWrite = finder.Find(Groups.Broadcast, Groups.Imc, receivers, Groups.Write);
            var floorWrite = finder.Find(Groups.Broadcast, Groups.Floor, receivers, Groups.Write);
            var result = Ratio($"4 KiB broadcast to {receivers}, until the last receiver has it (p50), within {BroadcastRatio}× of the floor",
                imc?.Median.P50, floor?.Median.P50, BroadcastRatio);
            if (imcWrite is not null && floorWrite is not null)
            {
                result = result with
                {
                    Measured = result.Measured + Format.Invariant(
                        $"; writer's own time {Format.Ns(imcWrite.Median.P50)} / {Format.Ns(floorWrite.Median.P50)} ns = {Format.Ratio(imcWrite.Median.P50 / floorWrite.Median.P50)}"),
                };
            }

            results.Add(result);
        }

        var line = finder.Find(Groups.CacheLine, Groups.Floor, 8, Groups.OneWay);
        var handOff = finder.Find(Groups.LockHandOff, Groups.Imc, 8, Groups.OneWay);
        results.Add(new TargetResult("lock acquire + release, uncontended, under 50 ns",
            "a per-call cost: not measured by this harness", "see LockBenchmarks in the BenchmarkDotNet suite (bench/RESULTS.md)"));
        results.Add(handOff is null
            ? new TargetResult($"lock hand-off between two processes within {HandOffRatio}× of the floor's cache-line ping-pong",
                line is null ? "–" : $"floor: cache-line one-way p50 {Format.Ns(line.Median.P50)} ns", "not yet measured (needs issue 3)")
            : Ratio($"lock hand-off between two processes (p50) within {HandOffRatio}× of the floor's cache-line ping-pong",
                handOff.Median.P50, line?.Median.P50, HandOffRatio));

        foreach (var transport in new[] { Groups.UnixSocket, Groups.Tcp, Groups.Pipe })
        {
            results.Add(Beaten(finder, transport));
        }

        results.Add(new TargetResult("zero bytes allocated per write, read, acquire and release",
            "not measured by this harness", "see the BenchmarkDotNet suite (MemoryDiagnoser) and tests/Interconnect.Benchmarks.Tests"));
        return results;
    }

    private static TargetResult Ratio(string target, double? measured, double? floor, double limit)
    {
        if (measured is not { } m || floor is not { } f || f <= 0)
        {
            return new TargetResult(target, "–", "not measured in this run");
        }

        var ratio = m / f;
        var text = $"{Format.Ns(m)} / {Format.Ns(f)} ns = {Format.Ratio(ratio)}";
        return new TargetResult(target, text, ratio <= limit
            ? "met"
            : Format.Invariant($"missed: {Format.Ratio(ratio)} is {(ratio / limit - 1) * 100:0}% over {limit}×"));
    }

    private static TargetResult Beaten(Finder finder, string transport)
    {
        var target = $"{transport} ping-pong more than {SocketFactor}× slower than Imc (p50, every size)";
        var ratios = new List<(int Size, double Ratio)>();
        foreach (var imc in finder.All(Groups.PingPong, Groups.Imc, Groups.OneWay))
        {
            if (finder.Find(Groups.PingPong, transport, imc.Parameter, Groups.OneWay) is { } other && imc.Median.P50 > 0)
            {
                ratios.Add((imc.Parameter, other.Median.P50 / imc.Median.P50));
            }
        }

        if (ratios.Count == 0)
        {
            return new TargetResult(target, "–", "not measured in this run");
        }

        var measured = string.Join(", ", ratios.Select(r => $"{Format.Size(r.Size)} {Format.Ratio(r.Ratio)}"));
        var tooClose = ratios.Where(r => r.Ratio <= SocketFactor).ToList();
        return new TargetResult(target, measured, tooClose.Count == 0
            ? "met"
            : "missed at " + string.Join(", ", tooClose.Select(r => $"{Format.Size(r.Size)} ({Format.Ratio(r.Ratio)})")));
    }

    private sealed class Finder(IReadOnlyList<Aggregate> aggregates)
    {
        public Aggregate? Find(string group, string transport, int parameter, string metric) =>
            aggregates.FirstOrDefault(a => a.Group == group && a.Transport == transport && a.Parameter == parameter && a.Metric == metric);

        public IEnumerable<Aggregate> All(string group, string transport, string metric) =>
            aggregates.Where(a => a.Group == group && a.Transport == transport && a.Metric == metric).OrderBy(a => a.Parameter);
    }
}
