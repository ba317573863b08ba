using System.Globalization;
using System.Text;

namespace Interconnect.StreamBench;

/// <summary>The run as markdown tables, for bench/RESULTS.md.</summary>
internal static class Markdown
{
    public static string Render(Report report)
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"- started {report.StartedUtc:yyyy-MM-dd HH:mm} UTC on {report.Machine} ({report.Cpus} CPUs), .NET {report.Runtime}");
        text.AppendLine(c, $"- command: `{report.Command}`");
        text.AppendLine(c, $"- load average before: {report.LoadBefore}; after: {report.LoadAfter}");
        text.AppendLine(c, $"- throughput: {report.ThroughputBytes >> 20} MiB per run timed after {report.ThroughputWarmupBytes >> 20} MiB of warm-up, median of {report.ThroughputRuns} run(s); latency: {report.LatencySamples} round trips after warm-up");
        text.AppendLine();
        text.AppendLine("| write size | transport | MiB/s (median) | runs | × C limit |");
        text.AppendLine("|---|---|---:|---|---:|");
        foreach (var row in report.Throughput)
        {
            var limit = report.Throughput.First(t => t.WriteBytes == row.WriteBytes).MibPerSecond;
            text.AppendLine(c, $"| {row.WriteBytes / 1024} KiB | {row.Transport} | {row.MibPerSecond:0} | {string.Join(", ", row.Runs.Select(r => r.ToString("0", c)))} | {row.MibPerSecond / limit:0.00} |{(row.Failure is null ? "" : $" failed: {row.Failure}")}");
        }

        text.AppendLine();
        text.AppendLine("| size | transport | p50 ns | p99 ns | p99.9 ns | samples | p50 × C limit |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var row in report.Latency.OrderBy(l => l.MessageBytes))
        {
            var limit = report.Latency.First(l => l.MessageBytes == row.MessageBytes).P50Ns;
            text.AppendLine(c, $"| {row.MessageBytes} B | {row.Transport} | {row.P50Ns:0} | {row.P99Ns:0} | {row.P999Ns:0} | {row.Samples} | {row.P50Ns / limit:0.0} |{(row.Failure is null ? "" : $" failed: {row.Failure}")}");
        }

        return text.ToString();
    }
}
