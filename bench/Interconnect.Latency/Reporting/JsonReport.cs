using System.Text.Json;
using Interconnect.Latency.Scenarios;

namespace Interconnect.Latency.Reporting;

/// <summary>
/// The machine-readable report: run info, the medians and spreads, each round's figures and histogram (non-empty
/// buckets as [lower bound ns, count], values as recorded, before the one-way scale), targets and pending scenarios.
/// </summary>
internal static class JsonReport
{
    public static void Write(string path, RunInfo info, HarnessOptions options, IReadOnlyList<ScenarioRun> runs,
        IReadOnlyList<Aggregate> aggregates, IReadOnlyList<string> failures)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("started", info.Started);
        json.WriteString("command", info.CommandLine);
        json.WriteStartObject("machine");
        json.WriteString("cpu", info.Cpu);
        json.WriteNumber("processors", info.ProcessorCount);
        json.WriteString("kernel", info.Kernel);
        json.WriteString("loadBefore", info.LoadBefore);
        json.WriteString("loadAfter", info.LoadAfter);
        json.WriteEndObject();
        json.WriteStartObject("runtime");
        json.WriteString("framework", info.Framework);
        foreach (var (name, value) in info.RuntimeSettings)
        {
            json.WriteString(name, value);
        }

        json.WriteEndObject();
        json.WriteStartObject("plan");
        json.WriteNumber("rounds", options.Rounds);
        json.WriteBoolean("quick", options.Quick);
        json.WriteNumber("perParameterMs", options.PerParameter.TotalMilliseconds);
        json.WriteNumber("maxSamples", options.MaxSamples);
        json.WriteNumber("warmupMs", options.Warmup.TotalMilliseconds);
        json.WriteNumber("maxWarmupMs", options.Plan.MaxWarmup.TotalMilliseconds);
        json.WriteNumber("floorWarmupMs", options.FloorWarmup.TotalMilliseconds);
        json.WriteEndObject();

        json.WriteStartArray("results");
        foreach (var a in aggregates)
        {
            json.WriteStartObject();
            json.WriteString("group", a.Group);
            json.WriteString("transport", a.Transport);
            json.WriteNumber("parameter", a.Parameter);
            json.WriteString("metric", a.Metric);
            json.WriteNumber("scale", a.Rounds[0].Scale);
            WriteStats(json, "median", a.Median);
            json.WriteStartArray("p50Range");
            json.WriteNumberValue(a.P50Range.Low);
            json.WriteNumberValue(a.P50Range.High);
            json.WriteEndArray();
            json.WriteStartArray("p99Range");
            json.WriteNumberValue(a.P99Range.Low);
            json.WriteNumberValue(a.P99Range.High);
            json.WriteEndArray();
            json.WriteStartArray("rounds");
            for (var i = 0; i < a.Rounds.Count; i++)
            {
                json.WriteStartObject();
                WriteStats(json, "stats", a.RoundStats[i]);
                json.WriteStartArray("histogram");
                foreach (var (value, count) in a.Rounds[i].Histogram.Buckets())
                {
                    json.WriteStartArray();
                    json.WriteNumberValue(value);
                    json.WriteNumberValue(count);
                    json.WriteEndArray();
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();

        json.WriteStartArray("figures");
        foreach (var figure in MachinesReport.Figures(runs))
        {
            json.WriteStartObject();
            json.WriteString("group", figure.Group);
            json.WriteString("transport", figure.Transport);
            json.WriteNumber("parameter", figure.Parameter);
            json.WriteString("metric", figure.Metric);
            json.WriteString("unit", figure.Unit);
            json.WriteNumber("median", figure.Median);
            json.WriteStartArray("rounds");
            figure.Rounds.ToList().ForEach(json.WriteNumberValue);
            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("targets");
        foreach (var target in options.Machines ? MachinesReport.Targets(runs, aggregates) : Targets.Evaluate(aggregates))
        {
            json.WriteStartObject();
            json.WriteString("target", target.Target);
            json.WriteString("measured", target.Measured);
            json.WriteString("verdict", target.Verdict);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("pending");
        foreach (var pending in ScenarioCatalog.Pending)
        {
            json.WriteStartObject();
            json.WriteString("scenario", pending.Name);
            json.WriteString("status", pending.Reason);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("notes");
        foreach (var run in runs)
        {
            foreach (var note in run.Notes)
            {
                json.WriteStringValue($"round {run.Round}, {run.Scenario}: {note}");
            }
        }

        json.WriteEndArray();
        json.WriteStartArray("failures");
        failures.ToList().ForEach(json.WriteStringValue);
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteStats(Utf8JsonWriter json, string name, Stats stats)
    {
        json.WriteStartObject(name);
        json.WriteNumber("p50", stats.P50);
        json.WriteNumber("p99", stats.P99);
        json.WriteNumber("p999", stats.P999);
        json.WriteNumber("max", stats.Max);
        json.WriteNumber("samples", stats.Count);
        json.WriteEndObject();
    }
}
