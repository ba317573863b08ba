using Interconnect.Latency.Scenarios;

namespace Interconnect.Latency.Reporting;

/// <summary>The report on stdout: markdown tables, ready to paste into bench/RESULTS.md.</summary>
internal static class MarkdownReport
{
    private static readonly string[] s_pingPongOrder = [Groups.Floor, Groups.CLibImc, Groups.Imc, Groups.UnixSocket, Groups.Tcp, Groups.Pipe];

    public static void Write(TextWriter o, RunInfo info, HarnessOptions options, IReadOnlyList<ScenarioRun> runs,
        IReadOnlyList<Aggregate> aggregates, IReadOnlyList<string> failures)
    {
        o.WriteLine($"# Interconnect latency, {info.Started:yyyy-MM-dd HH:mm} UTC");
        o.WriteLine();
        o.WriteLine($"- command: `{info.CommandLine}`");
        o.WriteLine($"- machine: {info.Cpu}, {info.ProcessorCount} CPUs, Linux {info.Kernel}; load average before: {info.LoadBefore}, after: {info.LoadAfter}");
        o.WriteLine($"- runtime: {info.Framework}; " + string.Join("; ", info.RuntimeSettings.Select(s => $"{s.Name}={s.Value}")));
        if (options.Machines)
        {
            var modes = string.Join(", ", options.Progress);
            o.WriteLine(Format.Invariant(
                $"- plan: {options.Rounds} rounds of each imcd --progress mode ({modes}), each on a fresh cluster of simulated machines (UCX_TLS=tcp); per round ucx_perftest -n {options.MachinesLatencyIterations} (ucp_am_lat and ucp_put_lat 8 B) and -n {options.MachinesBandwidthIterations} (ucp_am_bw and ucp_put_bw 64 KiB), raw UCX and Imc ping-pong {options.MachinesLatencyIterations:#,0} round trips or 20 s after a warm-up of at least {options.Warmup.TotalMilliseconds:0} ms, 3 Imc streams of {options.MachinesBandwidthIterations} × 64 KiB after a warm-up stream, {options.MachinesKeys} keys × 3 hosts allocated and attached after 5 warm-up keys"));
            if (options.MachinesParts.Contains(MachinesScenario.ScalePart))
            {
                o.WriteLine(Format.Invariant(
                    $"- scale: for each of {string.Join(", ", options.MachineCounts)} machines a fresh cluster, an imcd each; etcd's requests (its /metrics) over {options.IdleWindow.TotalSeconds:0} s idle with imcd alone and {options.IdleWindow.TotalSeconds:0} s with an idle host per machine (each after 3 s of settling), then {options.MachinesKeys} keys × a host per machine allocated and attached after 5 warm-up keys, counted over the measured keys; imcd VmRSS after the first idle window and with every key attached"));
            }

            o.WriteLine("- pinned: the ping side (machine 1) to CPU 0, the echo side (machine 2) to CPU 1, ucx_perftest's client and server alike (-c 0, -c 1); imcd is not pinned");
            o.WriteLine("- figures: median over rounds of each round's figure; ns unless marked; \"p50 range\" is the lowest and highest round p50");
            o.WriteLine();
            MachinesReport.Write(o, runs, aggregates);
            Notes(o, runs, failures);
            return;
        }

        o.WriteLine(Format.Invariant(
            $"- plan: {options.Rounds} interleaved rounds (scenario order rotates each round); per size and round {options.PerParameter.TotalMilliseconds:0} ms or {options.MaxSamples:#,0} samples; .NET warm-up at least {options.Warmup.TotalMilliseconds:0} ms and until a {MeasurePlanPass()} ms pass compiles no method (at most {options.Plan.MaxWarmup.TotalMilliseconds:0} ms); C floor warm-up {options.FloorWarmup.TotalMilliseconds:0} ms"));
        o.WriteLine("- hot threads pinned: the measuring thread to CPU 0, the peer's to CPU 1 (sched_setaffinity); other runtime threads are not pinned");
        o.WriteLine("- figures: median over rounds of each round's percentile, in ns; \"p50 range\" is the lowest and highest round p50; \"× floor\" divides by the C floor's same figure");
        // The load after a run includes the harness's own two spinning threads (≈2), so only the load before tells of
        // other work.
        if (RunInfo.Load1(info.LoadBefore) > 0.5)
        {
            o.WriteLine("- **the machine may have been busy** (1-minute load average above 0.5 before the run): other work shares its CPUs with the hot threads");
        }

        o.WriteLine();
        if (options.Machines)
        {
            MachinesReport.Write(o, runs, aggregates);
            Notes(o, runs, failures);
            return;
        }

        PingPong(o, aggregates);
        Broadcast(o, aggregates);
        CacheLine(o, aggregates);
        Others(o, aggregates);
        Pending(o);
        TargetsTable(o, aggregates);
        Notes(o, runs, failures);
    }

    private static double MeasurePlanPass() => Protocol.MeasurePlan.WarmupPass.TotalMilliseconds;

    private static void PingPong(TextWriter o, IReadOnlyList<Aggregate> aggregates)
    {
        var rows = aggregates.Where(a => a.Group == Groups.PingPong).ToList();
        if (rows.Count == 0)
        {
            return;
        }

        o.WriteLine("## Ping-pong, one-way latency (round trip / 2), ns");
        o.WriteLine();
        o.WriteLine("| size | transport | p50 | p99 | p99.9 | max | p50 × floor | p99 × floor | × Imc (p50) | p50 range | samples/round |");
        o.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var size in rows.Select(r => r.Parameter).Distinct().Order())
        {
            var floor = rows.FirstOrDefault(r => r.Parameter == size && r.Transport == Groups.Floor);
            var imc = rows.FirstOrDefault(r => r.Parameter == size && r.Transport == Groups.Imc);
            foreach (var row in rows.Where(r => r.Parameter == size).OrderBy(r => Array.IndexOf(s_pingPongOrder, r.Transport)))
            {
                var m = row.Median;
                var versusImc = imc is null || row == imc || row == floor ? "" : Format.Ratio(m.P50 / imc.Median.P50);
                o.WriteLine($"| {Format.Size(size)} | {row.Transport} | {Format.Ns(m.P50)} | {Format.Ns(m.P99)} | {Format.Ns(m.P999)} | {Format.Ns(m.Max)} | " +
                    $"{RatioTo(m.P50, floor?.Median.P50)} | {RatioTo(m.P99, floor?.Median.P99)} | {versusImc} | {Format.Range(row.P50Range)} | {m.Count:#,0} |");
            }
        }

        o.WriteLine();
    }

    private static void Broadcast(TextWriter o, IReadOnlyList<Aggregate> aggregates)
    {
        var rows = aggregates.Where(a => a.Group == Groups.Broadcast).ToList();
        if (rows.Count == 0)
        {
            return;
        }

        o.WriteLine("## Broadcast of 4 KiB, ns");
        o.WriteLine();
        o.WriteLine("\"delivery\": from before the write until the last receiving host has the flag (the receiver's timestamp);");
        o.WriteLine("\"write\": the writer's own time in the write (payload to every receiver, then the flag).");
        o.WriteLine();
        o.WriteLine("| receivers | metric | transport | p50 | p99 | p99.9 | max | p50 per receiver | p50 × floor | p99 × floor | p50 range | samples/round |");
        o.WriteLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var group in rows.GroupBy(r => (r.Parameter, r.Metric)).OrderBy(g => g.Key.Parameter).ThenBy(g => g.Key.Metric))
        {
            var floor = group.FirstOrDefault(r => r.Transport == Groups.Floor);
            foreach (var row in group.OrderBy(r => r.Transport == Groups.Floor ? 0 : 1))
            {
                var m = row.Median;
                o.WriteLine($"| {row.Parameter} | {row.Metric} | {row.Transport} | {Format.Ns(m.P50)} | {Format.Ns(m.P99)} | {Format.Ns(m.P999)} | {Format.Ns(m.Max)} | " +
                    $"{Format.Ns(m.P50 / row.Parameter)} | {RatioTo(m.P50, floor?.Median.P50)} | {RatioTo(m.P99, floor?.Median.P99)} | {Format.Range(row.P50Range)} | {m.Count:#,0} |");
            }
        }

        o.WriteLine();
    }

    private static void CacheLine(TextWriter o, IReadOnlyList<Aggregate> aggregates)
    {
        var rows = aggregates.Where(a => a.Group == Groups.CacheLine).ToList();
        if (rows.Count == 0)
        {
            return;
        }

        o.WriteLine("## Cache-line ping-pong (the floor of a lock hand-off), one-way, ns");
        o.WriteLine();
        o.WriteLine("| transport | p50 | p99 | p99.9 | max | p50 range | samples/round |");
        o.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var row in rows)
        {
            var m = row.Median;
            o.WriteLine($"| {row.Transport} | {Format.Ns(m.P50)} | {Format.Ns(m.P99)} | {Format.Ns(m.P999)} | {Format.Ns(m.Max)} | {Format.Range(row.P50Range)} | {m.Count:#,0} |");
        }

        o.WriteLine();
    }

    /// <summary>Any group without a table of its own (a scenario added later, e.g. the lock hand-off of issue 3).</summary>
    private static void Others(TextWriter o, IReadOnlyList<Aggregate> aggregates)
    {
        string[] known = [Groups.PingPong, Groups.Broadcast, Groups.CacheLine];
        foreach (var group in aggregates.Where(a => !known.Contains(a.Group)).GroupBy(a => a.Group))
        {
            o.WriteLine($"## {group.Key}, ns");
            o.WriteLine();
            o.WriteLine("| parameter | metric | transport | p50 | p99 | p99.9 | max | p50 range | samples/round |");
            o.WriteLine("|---|---|---|---:|---:|---:|---:|---:|---:|");
            foreach (var row in group.OrderBy(r => r.Parameter).ThenBy(r => r.Metric, StringComparer.Ordinal))
            {
                var m = row.Median;
                o.WriteLine($"| {row.Parameter} | {row.Metric} | {row.Transport} | {Format.Ns(m.P50)} | {Format.Ns(m.P99)} | {Format.Ns(m.P999)} | {Format.Ns(m.Max)} | {Format.Range(row.P50Range)} | {m.Count:#,0} |");
            }

            o.WriteLine();
        }
    }

    private static void Pending(TextWriter o)
    {
        o.WriteLine("## Not yet measured");
        o.WriteLine();
        o.WriteLine("| scenario | status | floor |");
        o.WriteLine("|---|---|---|");
        foreach (var pending in ScenarioCatalog.Pending)
        {
            o.WriteLine($"| {pending.Name} | {pending.Reason} | {pending.Floor} |");
        }

        o.WriteLine();
    }

    private static void TargetsTable(TextWriter o, IReadOnlyList<Aggregate> aggregates)
    {
        o.WriteLine("## DESIGN.md targets");
        o.WriteLine();
        o.WriteLine("| target | measured (Imc / floor, medians) | verdict |");
        o.WriteLine("|---|---|---|");
        foreach (var target in Targets.Evaluate(aggregates))
        {
            o.WriteLine($"| {target.Target} | {target.Measured} | {target.Verdict} |");
        }

        o.WriteLine();
    }

    internal static void Notes(TextWriter o, IReadOnlyList<ScenarioRun> runs, IReadOnlyList<string> failures)
    {
        o.WriteLine("## Per-round notes");
        o.WriteLine();
        foreach (var run in runs.Where(r => r.Notes.Count > 0).OrderBy(r => r.Scenario, StringComparer.Ordinal).ThenBy(r => r.Round))
        {
            o.WriteLine($"- round {run.Round}, {run.Scenario}: {string.Join("; ", run.Notes)}");
        }

        foreach (var failure in failures)
        {
            o.WriteLine($"- **failed**: {failure}");
        }

        o.WriteLine();
    }

    private static string RatioTo(double value, double? floor) => floor is > 0 ? Format.Ratio(value / floor.Value) : "";
}
