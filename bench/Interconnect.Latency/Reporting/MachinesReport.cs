using Interconnect.Latency.Scenarios;

namespace Interconnect.Latency.Reporting;

/// <summary>
/// The report of the across-machines scenarios (--machines): Imc beside ucx_perftest over the same transport between
/// the same simulated machines, the directory's allocate + attach on three machines, imcd's CPU use, and the targets of
/// DESIGN.md "Across machines".
/// </summary>
internal static class MachinesReport
{
    private const double LatencyRatio = 1.5;
    private const double BandwidthRatio = 0.7;
    private const double AttachMs = 20;
    private const int ScaleMachines = 8; // issue 23 item 8: allocate + attach with 8 machines, p50 under 30 ms
    private const double ScaleAttachMs = 30;

    /// <summary>One figure over every round: the median of the rounds' values.</summary>
    public sealed record FigureAggregate(string Group, string Transport, int Parameter, string Metric, string Unit, IReadOnlyList<double> Rounds)
    {
        public double Median
        {
            get
            {
                var sorted = Rounds.Order().ToArray();
                var middle = sorted.Length / 2;
                return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
            }
        }
    }

    public static IReadOnlyList<FigureAggregate> Figures(IEnumerable<ScenarioRun> runs) =>
        runs.SelectMany(r => r.Figures ?? [])
            .GroupBy(f => (f.Group, f.Transport, f.Parameter, f.Metric, f.Unit))
            .Select(g => new FigureAggregate(g.Key.Group, g.Key.Transport, g.Key.Parameter, g.Key.Metric, g.Key.Unit, [.. g.Select(f => f.Value)]))
            .ToList();

    public static void Write(TextWriter o, IReadOnlyList<ScenarioRun> runs, IReadOnlyList<Aggregate> aggregates)
    {
        var figures = Figures(runs);
        var anchorLat = MachinesScenario.PerftestRow(MachinesScenario.AmLat);
        var perftestP50 = Find(figures, MachinesScenario.PingPongGroup, anchorLat, "p50");
        var perftestBandwidth = Find(figures, MachinesScenario.StreamGroup, MachinesScenario.PerftestRow(MachinesScenario.AmBw), MachinesScenario.Bandwidth);

        // A run of some parts only (--parts) leaves the others' sections out.
        if (aggregates.Any(a => a.Group == MachinesScenario.PingPongGroup) || figures.Any(f => f.Group == MachinesScenario.PingPongGroup))
        {
            Latency(o, aggregates, figures, anchorLat, perftestP50);
        }

        if (figures.Any(f => f.Group == MachinesScenario.StreamGroup))
        {
            Stream(o, runs, figures, perftestBandwidth);
        }

        if (aggregates.Any(a => a.Group == MachinesScenario.DirectoryGroup))
        {
            Attach(o, aggregates);
        }

        if (aggregates.Any(a => a.Group == MachinesScenario.ScaleGroup) || figures.Any(f => f.Group == MachinesScenario.ScaleEtcdGroup))
        {
            Scale(o, aggregates, figures);
        }

        o.WriteLine("## DESIGN.md targets, across machines");
        o.WriteLine();
        o.WriteLine("| target | measured (medians) | verdict |");
        o.WriteLine("|---|---|---|");
        foreach (var target in Targets(runs, aggregates))
        {
            o.WriteLine($"| {target.Target} | {target.Measured} | {target.Verdict} |");
        }

        o.WriteLine();
    }

    private static void Latency(TextWriter o, IReadOnlyList<Aggregate> aggregates, IReadOnlyList<FigureAggregate> figures, string anchorLat,
        FigureAggregate? perftestP50)
    {
        o.WriteLine("## Across machines: 8 B one-way latency (round trip / 2), machine 1 → machine 2, ns");
        o.WriteLine();
        o.WriteLine("| transport | p50 | p99 | p99.9 | max | average | × ucp_am_lat p50 | p50 range | samples/round |");
        o.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        // ucx_perftest's rows, the anchor ucp_am_lat first (it prints p50 and average only).
        foreach (var p50 in figures.Where(f => f.Group == MachinesScenario.PingPongGroup && f.Metric == "p50" &&
            f.Transport.StartsWith(MachinesScenario.Perftest, StringComparison.Ordinal))
            .OrderBy(f => f.Transport == anchorLat ? 0 : 1).ThenBy(f => f.Transport, StringComparer.Ordinal))
        {
            var average = Find(figures, MachinesScenario.PingPongGroup, p50.Transport, "average");
            o.WriteLine($"| {p50.Transport} | {Format.Ns(p50.Median)} | – | – | – | {(average is null ? "–" : Format.Ns(average.Median))} | {Ratio(p50.Median, perftestP50?.Median)} | {Format.Range((p50.Rounds.Min(), p50.Rounds.Max()))} | – |");
        }

        foreach (var row in aggregates.Where(a => a.Group == MachinesScenario.PingPongGroup).OrderBy(a => a.Transport, StringComparer.Ordinal))
        {
            var m = row.Median;
            var mean = row.Rounds.Select(r => r.Histogram.Mean * r.Scale).Order().ElementAt(row.Rounds.Count / 2);
            o.WriteLine($"| {row.Transport} | {Format.Ns(m.P50)} | {Format.Ns(m.P99)} | {Format.Ns(m.P999)} | {Format.Ns(m.Max)} | {Format.Ns(mean)} | {Ratio(m.P50, perftestP50?.Median)} | {Format.Range(row.P50Range)} | {m.Count:#,0} |");
        }

        o.WriteLine();
        foreach (var row in aggregates.Where(a => a.Group == MachinesScenario.WriteGroup).OrderBy(a => a.Transport, StringComparer.Ordinal))
        {
            o.WriteLine($"{row.Transport}: the writer's own time in one 8-byte write to a host on the other machine (the call, not its delivery): " +
                $"p50 {Format.Ns(row.Median.P50)} ns, p99 {Format.Ns(row.Median.P99)} ns.");
            o.WriteLine();
        }
    }

    private static void Stream(TextWriter o, IReadOnlyList<ScenarioRun> runs, IReadOnlyList<FigureAggregate> figures, FigureAggregate? perftestBandwidth)
    {
        o.WriteLine("## Across machines: 64 KiB streaming bandwidth, machine 1 → machine 2, GB/s (10^9 B/s)");
        o.WriteLine();
        o.WriteLine("| transport | GB/s (median of rounds) | rounds | × ucp_am_bw |");
        o.WriteLine("|---|---:|---|---:|");
        foreach (var row in figures.Where(f => f.Group == MachinesScenario.StreamGroup && f.Metric == MachinesScenario.Bandwidth)
            .OrderBy(f => f.Transport == perftestBandwidth?.Transport ? 0 : f.Transport.StartsWith(MachinesScenario.Perftest, StringComparison.Ordinal) ? 1 : 2)
            .ThenBy(f => f.Transport, StringComparer.Ordinal))
        {
            var name = row.Transport.StartsWith(MachinesScenario.Perftest, StringComparison.Ordinal) ? row.Transport : row.Transport + " (ring of 8 × 64 KiB, credit word)";
            o.WriteLine(Format.Invariant($"| {name} | {row.Median:0.000} | {string.Join(", ", row.Rounds.Select(r => r.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)))} | {Ratio(row.Median, perftestBandwidth?.Median)} |"));
        }

        o.WriteLine();
        var cpu = figures.Where(f => f.Transport == MachinesScenario.ImcdCpu).ToList();
        if (cpu.Count > 0)
        {
            o.WriteLine("imcd CPU use during the ping-pong and stream (% of one core; the scenario's rounds are in its notes): " +
                string.Join("; ", runs.Where(r => r.Figures is not null).Select(r => r.Scenario).Distinct().Select(s =>
                    s + ": " + string.Join(", ", runs.Where(r => r.Scenario == s).SelectMany(r => r.Figures!)
                        .Where(f => f.Transport == MachinesScenario.ImcdCpu).Select(f => Format.Invariant($"{f.Metric} {f.Value:0}%"))))));
            o.WriteLine();
        }
    }

    private static void Attach(TextWriter o, IReadOnlyList<Aggregate> aggregates)
    {
        o.WriteLine("## Across machines: allocate + receive attach, 3 machines (a host on each, one after another), ms");
        o.WriteLine();
        o.WriteLine("| imcd | metric | p50 | p99 | max | p50 range | samples/round |");
        o.WriteLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var row in aggregates.Where(a => a.Group == MachinesScenario.DirectoryGroup).OrderBy(a => a.Transport, StringComparer.Ordinal).ThenBy(a => a.Metric, StringComparer.Ordinal))
        {
            var m = row.Median;
            o.WriteLine(Format.Invariant($"| {row.Transport} | {row.Metric} | {Ms(m.P50)} | {Ms(m.P99)} | {Ms(m.Max)} | {Ms(row.P50Range.Low)}–{Ms(row.P50Range.High)} | {m.Count:#,0} |"));
        }

        o.WriteLine();
    }

    /// <summary>The scale part: allocate + attach and imcd's memory by machine count, then etcd's requests.</summary>
    private static void Scale(TextWriter o, IReadOnlyList<Aggregate> aggregates, IReadOnlyList<FigureAggregate> figures)
    {
        o.WriteLine("## Across machines: scale, allocate + receive attach (a host on each machine, one after another), ms; imcd VmRSS, MiB");
        o.WriteLine();
        o.WriteLine("| imcd | machines | alloc+attach p50 | p99 | max | first (creates) p50 | later p50 | p50 range | samples/round | imcd VmRSS idle, median / max | with every key attached | imcd CPU idle, median / max |");
        o.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in aggregates.Where(a => a.Group == MachinesScenario.ScaleGroup && a.Metric == MachinesScenario.AllocAttach)
            .OrderBy(a => a.Transport, StringComparer.Ordinal).ThenBy(a => a.Parameter))
        {
            var m = row.Median;
            var firstP50 = aggregates.FirstOrDefault(a => a.Group == row.Group && a.Transport == row.Transport && a.Parameter == row.Parameter && a.Metric == MachinesScenario.AllocAttachFirst);
            var laterP50 = aggregates.FirstOrDefault(a => a.Group == row.Group && a.Transport == row.Transport && a.Parameter == row.Parameter && a.Metric == MachinesScenario.AllocAttachLater);
            string Pair(string transport, string when, string format) =>
                Find(figures, MachinesScenario.ScaleGroup, transport, row.Parameter, $"{when}, median") is { } median &&
                Find(figures, MachinesScenario.ScaleGroup, transport, row.Parameter, $"{when}, max") is { } max
                    ? median.Median.ToString(format, System.Globalization.CultureInfo.InvariantCulture) + " / " + max.Median.ToString(format, System.Globalization.CultureInfo.InvariantCulture)
                    : "–";
            o.WriteLine(Format.Invariant(
                $"| {row.Transport} | {row.Parameter} | {Ms(m.P50)} | {Ms(m.P99)} | {Ms(m.Max)} | {(firstP50 is null ? "–" : Ms(firstP50.Median.P50))} | {(laterP50 is null ? "–" : Ms(laterP50.Median.P50))} | {Ms(row.P50Range.Low)}–{Ms(row.P50Range.High)} | {m.Count:#,0} | {Pair(MachinesScenario.ImcdRss, "idle", "0.0")} | {Pair(MachinesScenario.ImcdRss, "attached", "0.0")} | {Pair(MachinesScenario.ImcdIdleCpu, MachinesScenario.IdleAlone, "0.0")} % |"));
        }

        o.WriteLine();
        o.WriteLine("etcd's requests (messages its clients sent, `grpc_server_msg_received_total` by method): idle, per machine and second; " +
            "per allocate + attach, every machine's requests over the measured keys (keep-alives included) divided by the alloc+attach calls.");
        o.WriteLine();
        o.WriteLine("| imcd | machines | window | unit | all | LeaseKeepAlive | all but LeaseKeepAlive | the others, by method |");
        o.WriteLine("|---|---:|---|---|---:|---:|---:|---|");
        var etcd = figures.Where(f => f.Group == MachinesScenario.ScaleEtcdGroup).ToList();
        string[] windows = [MachinesScenario.IdleAlone, MachinesScenario.IdleHosts, MachinesScenario.PerAttach];
        foreach (var (transport, machines) in etcd.Select(f => (f.Transport, f.Parameter)).Distinct()
            .OrderBy(t => t.Transport, StringComparer.Ordinal).ThenBy(t => t.Parameter))
        {
            foreach (var window in windows)
            {
                var rows = etcd.Where(f => f.Transport == transport && f.Parameter == machines && f.Metric.StartsWith(window + ": ", StringComparison.Ordinal)).ToList();
                if (rows.Count == 0)
                {
                    continue;
                }

                // A method a round did not see has no figure in that round: it counts as 0 there.
                var rounds = rows.Max(f => f.Rounds.Count);
                double Padded(FigureAggregate f) => (f with { Rounds = [.. f.Rounds, .. Enumerable.Repeat(0.0, rounds - f.Rounds.Count)] }).Median;
                double Value(string name) => rows.FirstOrDefault(f => f.Metric == $"{window}: {name}") is { } f ? Padded(f) : 0;
                var others = rows.Select(f => (Method: f.Metric[(window.Length + 2)..], Median: Padded(f)))
                    .Where(f => f.Method is not (MachinesScenario.AllRequests or MachinesScenario.NotKeepAlive or MachinesScenario.KeepAlive) && f.Median > 0)
                    .OrderByDescending(f => f.Median)
                    .Select(f => Format.Invariant($"{f.Method} {f.Median:0.###}"));
                o.WriteLine(Format.Invariant(
                    $"| {transport} | {machines} | {window} | {rows[0].Unit} | {Value(MachinesScenario.AllRequests):0.###} | {Value(MachinesScenario.KeepAlive):0.###} | {Value(MachinesScenario.NotKeepAlive):0.###} | {string.Join(", ", others)} |"));
            }
        }

        o.WriteLine();
    }

    public static IReadOnlyList<TargetResult> Targets(IEnumerable<ScenarioRun> runs, IReadOnlyList<Aggregate> aggregates)
    {
        var figures = Figures(runs);
        var perftestP50 = Find(figures, MachinesScenario.PingPongGroup, MachinesScenario.PerftestRow(MachinesScenario.AmLat), "p50")?.Median;
        var perftestBandwidth = Find(figures, MachinesScenario.StreamGroup, MachinesScenario.PerftestRow(MachinesScenario.AmBw), MachinesScenario.Bandwidth)?.Median;
        var results = new List<TargetResult>();
        // The targets are the product's: the raw UCX row is a profile, not a transport a user has.
        foreach (var transport in aggregates.Where(a => a.Group is MachinesScenario.PingPongGroup or MachinesScenario.DirectoryGroup)
            .Select(a => a.Transport).Where(t => t != MachinesScenario.RawUcx).Distinct().Order(StringComparer.Ordinal))
        {
            var latency = aggregates.FirstOrDefault(a => a.Group == MachinesScenario.PingPongGroup && a.Transport == transport);
            if (latency is not null && perftestP50 is { } lat)
            {
                var ratio = latency.Median.P50 / lat;
                results.Add(new TargetResult($"{transport}: 8 B one-way p50 within {LatencyRatio}× of ucp_am_lat",
                    $"{Format.Ns(latency.Median.P50)} / {Format.Ns(lat)} ns = {Format.Ratio(ratio)}", Verdict(ratio <= LatencyRatio, ratio / LatencyRatio)));
            }

            var stream = Find(figures, MachinesScenario.StreamGroup, transport, MachinesScenario.Bandwidth);
            if (stream is not null && perftestBandwidth is { } bw && bw > 0)
            {
                var ratio = stream.Median / bw;
                results.Add(new TargetResult($"{transport}: 64 KiB streaming bandwidth at least {BandwidthRatio}× of ucp_am_bw",
                    Format.Invariant($"{stream.Median:0.000} / {bw:0.000} GB/s = {Format.Ratio(ratio)}"),
                    ratio >= BandwidthRatio ? "met" : Format.Invariant($"missed: {Format.Ratio(ratio)} is {(1 - ratio / BandwidthRatio) * 100:0}% under {BandwidthRatio}×")));
            }

            var attach = aggregates.FirstOrDefault(a => a.Group == MachinesScenario.DirectoryGroup && a.Transport == transport && a.Metric == MachinesScenario.AllocAttach);
            if (attach is not null)
            {
                var ms = attach.Median.P50 / 1e6;
                results.Add(new TargetResult($"{transport}: allocate + attach with 3 machines, p50 under {AttachMs} ms",
                    $"{Ms(attach.Median.P50)} ms", Verdict(ms < AttachMs, ms / AttachMs)));
            }
        }

        foreach (var transport in aggregates.Where(a => a.Group == MachinesScenario.ScaleGroup).Select(a => a.Transport).Distinct().Order(StringComparer.Ordinal))
        {
            var attach = aggregates.FirstOrDefault(a => a.Group == MachinesScenario.ScaleGroup && a.Transport == transport &&
                a.Parameter == ScaleMachines && a.Metric == MachinesScenario.AllocAttach);
            if (attach is not null)
            {
                var ms = attach.Median.P50 / 1e6;
                results.Add(new TargetResult($"{transport}: allocate + attach with {ScaleMachines} machines, p50 under {ScaleAttachMs} ms (issue 23)",
                    $"{Ms(attach.Median.P50)} ms", Verdict(ms < ScaleAttachMs, ms / ScaleAttachMs)));
            }
        }

        // DESIGN.md: an idle machine's imcd makes no etcd request between lease renewals (its keep-alives).
        foreach (var transport in figures.Where(f => f.Group == MachinesScenario.ScaleEtcdGroup).Select(f => f.Transport).Distinct().Order(StringComparer.Ordinal))
        {
            var idle = figures.Where(f => f.Group == MachinesScenario.ScaleEtcdGroup && f.Transport == transport &&
                    f.Metric is $"{MachinesScenario.IdleAlone}: {MachinesScenario.NotKeepAlive}" or $"{MachinesScenario.IdleHosts}: {MachinesScenario.NotKeepAlive}")
                .OrderBy(f => f.Parameter).ThenBy(f => f.Metric, StringComparer.Ordinal).ToList();
            if (idle.Count > 0)
            {
                results.Add(new TargetResult($"{transport}: an idle machine's imcd makes no etcd request but its lease keep-alives",
                    "requests other than LeaseKeepAlive, per machine and second: " + string.Join("; ", idle.Select(f =>
                        Format.Invariant($"{f.Parameter} machines, {f.Metric[..f.Metric.IndexOf(':', StringComparison.Ordinal)]}: {f.Rounds.Max():0.###} (highest round)"))),
                    idle.All(f => f.Rounds.All(r => r == 0)) ? "met" : "missed"));
            }
        }

        return results;
    }

    private static string Verdict(bool met, double overBy) =>
        met ? "met" : Format.Invariant($"missed: {(overBy - 1) * 100:0}% over");

    private static FigureAggregate? Find(IReadOnlyList<FigureAggregate> figures, string group, string transport, string metric) =>
        figures.FirstOrDefault(f => f.Group == group && f.Transport == transport && f.Metric == metric);

    private static FigureAggregate? Find(IReadOnlyList<FigureAggregate> figures, string group, string transport, int parameter, string metric) =>
        figures.FirstOrDefault(f => f.Group == group && f.Transport == transport && f.Parameter == parameter && f.Metric == metric);

    private static string Ratio(double value, double? baseline) => baseline is > 0 ? Format.Ratio(value / baseline.Value) : "–";

    private static string Ms(double nanoseconds) => Format.Invariant($"{nanoseconds / 1e6:0.00}");
}
