using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace Interconnect.StreamBench;

/// <summary>The charts of a run, drawn with OxyPlot and exported as SVG (no native library involved).</summary>
internal static class Plots
{
    public static void Write(Report report, string directory)
    {
        if (report.Throughput.Count > 0)
        {
            Export(Throughput(report), Path.Combine(directory, "throughput.svg"));
        }

        foreach (var size in report.Latency.Select(l => l.MessageBytes).Distinct())
        {
            Export(Latency(report, size), Path.Combine(directory, $"latency-{size}.svg"));
        }
    }

    private static PlotModel Throughput(Report report)
    {
        var transports = report.Throughput.Select(t => t.Transport).Distinct().ToList();
        var model = Model($"Streaming throughput, MiB/s (higher is better), {report.StartedUtc:yyyy-MM-dd}, load before: {report.LoadBefore.Split(' ')[0]}");
        model.Axes.Add(new CategoryAxis { Position = AxisPosition.Left, ItemsSource = transports, GapWidth = 0.4 });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Minimum = 0, Title = "MiB/s", MajorGridlineStyle = LineStyle.Dot });
        foreach (var size in report.Throughput.Select(t => t.WriteBytes).Distinct())
        {
            var series = new BarSeries { Title = $"{size / 1024} KiB writes", LabelFormatString = "{0:0}" };
            foreach (var transport in transports)
            {
                series.Items.Add(new BarItem(report.Throughput.FirstOrDefault(t => t.Transport == transport && t.WriteBytes == size)?.MibPerSecond is { } rate && !double.IsNaN(rate) ? rate : 0));
            }

            model.Series.Add(series);
        }

        return model;
    }

    private static PlotModel Latency(Report report, int size)
    {
        var rows = report.Latency.Where(l => l.MessageBytes == size).ToList();
        var model = Model($"Ping-pong one-way latency, {size} B, ns (log scale, lower is better), {report.StartedUtc:yyyy-MM-dd}");
        model.Axes.Add(new CategoryAxis { Position = AxisPosition.Left, ItemsSource = rows.Select(r => r.Transport).ToList(), GapWidth = 0.3 });
        model.Axes.Add(new LogarithmicAxis { Position = AxisPosition.Bottom, Minimum = 10, Title = "ns", MajorGridlineStyle = LineStyle.Dot });
        foreach (var (title, pick) in new (string, Func<LatencyResult, double>)[] { ("p50", r => r.P50Ns), ("p99", r => r.P99Ns), ("p99.9", r => r.P999Ns) })
        {
            var series = new BarSeries { Title = title, BaseValue = 10, LabelFormatString = title == "p50" ? "{0:0}" : null };
            foreach (var row in rows)
            {
                series.Items.Add(new BarItem(double.IsNaN(pick(row)) ? 10 : Math.Max(pick(row), 10)));
            }

            model.Series.Add(series);
        }

        return model;
    }

    private static PlotModel Model(string title)
    {
        var model = new PlotModel { Title = title, TitleFontSize = 13, Background = OxyColors.White };
        model.Legends.Add(new Legend { LegendPosition = LegendPosition.RightBottom, LegendPlacement = LegendPlacement.Inside });
        return model;
    }

    private static void Export(PlotModel model, string path)
    {
        using var stream = File.Create(path);
        new SvgExporter { Width = 900, Height = 520 }.Export(model, stream);
    }
}
