using System.Diagnostics;
using System.Globalization;
using Interconnect.Latency.Protocol;
using Interconnect.Latency.Reporting;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// The C floor (<c>native/build/imc_floor</c>) in one of its modes, run as a child; its stdout carries one histogram
/// of nanosecond samples per parameter ("begin MODE PARAM METRIC", "h VALUE COUNT"..., "end ...").
/// </summary>
internal sealed class NativeFloorScenario(string mode) : ILatencyScenario
{
    public const string PingPong = "pingpong";
    public const string Broadcast = "broadcast";
    public const string CacheLine = "cacheline";

    public string Name => mode switch
    {
        PingPong => "C floor ping-pong",
        Broadcast => "C floor broadcast",
        _ => "C floor cache-line ping-pong",
    };

    public ScenarioRun Run(RoundContext round)
    {
        var info = new ProcessStartInfo(round.FloorBinary) { UseShellExecute = false, RedirectStandardOutput = true };
        info.ArgumentList.Add(mode);
        info.ArgumentList.Add("--sizes");
        info.ArgumentList.Add(string.Join(',', PingPongProtocol.Sizes));
        info.ArgumentList.Add("--receivers");
        info.ArgumentList.Add(string.Join(',', ImcLayout.ReceiverCounts));
        info.ArgumentList.Add("--warmup-ms");
        info.ArgumentList.Add(Ms(round.Options.FloorWarmup));
        info.ArgumentList.Add("--duration-ms");
        info.ArgumentList.Add(Ms(round.Plan.PerParameter));
        info.ArgumentList.Add("--max-samples");
        info.ArgumentList.Add(round.Plan.MaxSamples.ToString(CultureInfo.InvariantCulture));
        info.ArgumentList.Add("--cpus");
        info.ArgumentList.Add("0,1");
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {round.FloorBinary}");
        var output = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill();
            throw new TimeoutException($"{round.FloorBinary} {mode} did not finish within 5 minutes");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{round.FloorBinary} {mode} failed (exit {process.ExitCode})");
        }

        var (measurements, comments) = Parse(output.Result);
        return new ScenarioRun(Name, round.Round, measurements, comments);
    }

    private static string Ms(TimeSpan span) => ((long)span.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);

    private static (List<Measurement>, List<string>) Parse(string output)
    {
        var measurements = new List<Measurement>();
        var comments = new List<string>();
        Histogram? histogram = null;
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var words = line.Split(' ');
            switch (words[0])
            {
                case "#":
                    if (!line.StartsWith("# imc_floor ", StringComparison.Ordinal))
                    {
                        comments.Add(line[2..]); // e.g. "not pinned"; the header line only repeats the plan
                    }

                    break;
                case "begin":
                    histogram = new Histogram();
                    break;
                case "h":
                    histogram!.Record(long.Parse(words[1], CultureInfo.InvariantCulture), long.Parse(words[2], CultureInfo.InvariantCulture));
                    break;
                case "end":
                    measurements.Add(ToMeasurement(words[1], int.Parse(words[2], CultureInfo.InvariantCulture), words[3], histogram!));
                    histogram = null;
                    break;
                default:
                    throw new InvalidOperationException($"unexpected line from imc_floor: {line}");
            }
        }

        return (measurements, comments);
    }

    private static Measurement ToMeasurement(string mode, int parameter, string metric, Histogram histogram) => mode switch
    {
        PingPong => new Measurement(Groups.PingPong, Groups.Floor, parameter, Groups.OneWay, histogram, 0.5),
        CacheLine => new Measurement(Groups.CacheLine, Groups.Floor, parameter, Groups.OneWay, histogram, 0.5),
        _ => new Measurement(Groups.Broadcast, Groups.Floor, parameter, metric, histogram, 1),
    };
}
