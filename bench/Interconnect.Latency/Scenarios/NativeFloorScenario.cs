using System.Diagnostics;
using System.Globalization;
using Interconnect.Latency.Protocol;
using Interconnect.Latency.Reporting;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// The C floor (<c>native/build/imc_floor</c>) in one of its modes, run as a child; its stdout carries one histogram
/// of nanosecond samples per parameter ("begin MODE PARAM METRIC", "h VALUE COUNT"..., "end ...").
/// <paramref name="throughLibImc"/>: the same ping-pong program built over libimc.so (<c>native/build/imc_cpingpong</c>),
/// its two processes hosts alpha and beta of a fresh cluster, its mappings regions attached from C.
/// </summary>
internal sealed class NativeFloorScenario(string mode, bool throughLibImc = false) : ILatencyScenario
{
    public const string PingPong = "pingpong";
    public const string Broadcast = "broadcast";
    public const string CacheLine = "cacheline";

    public string Name => throughLibImc ? "C via libimc.so ping-pong" : mode switch
    {
        PingPong => "C floor ping-pong",
        Broadcast => "C floor broadcast",
        _ => "C floor cache-line ping-pong",
    };

    public ScenarioRun Run(RoundContext round)
    {
        var binary = throughLibImc ? Path.Combine(Path.GetDirectoryName(round.FloorBinary)!, "imc_cpingpong") : round.FloorBinary;
        var info = new ProcessStartInfo(binary) { UseShellExecute = false, RedirectStandardOutput = true };
        if (throughLibImc)
        {
            info.Environment["IMC_ROOT"] = round.ImcRoot;
            info.Environment["IMC_CLUSTER"] = round.ClusterName("cpingpong");
        }

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
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {binary}");
        var output = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill();
            throw new TimeoutException($"{binary} {mode} did not finish within 5 minutes");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{binary} {mode} failed (exit {process.ExitCode})");
        }

        var (measurements, comments) = Parse(output.Result, throughLibImc ? Groups.CLibImc : Groups.Floor);
        return new ScenarioRun(Name, round.Round, measurements, comments);
    }

    private static string Ms(TimeSpan span) => ((long)span.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);

    private static (List<Measurement>, List<string>) Parse(string output, string transport)
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
                    measurements.Add(ToMeasurement(words[1], int.Parse(words[2], CultureInfo.InvariantCulture), words[3], histogram!, transport));
                    histogram = null;
                    break;
                default:
                    throw new InvalidOperationException($"unexpected line from imc_floor: {line}");
            }
        }

        return (measurements, comments);
    }

    private static Measurement ToMeasurement(string mode, int parameter, string metric, Histogram histogram, string transport) => mode switch
    {
        PingPong => new Measurement(Groups.PingPong, transport, parameter, Groups.OneWay, histogram, 0.5),
        CacheLine => new Measurement(Groups.CacheLine, Groups.Floor, parameter, Groups.OneWay, histogram, 0.5),
        _ => new Measurement(Groups.Broadcast, Groups.Floor, parameter, metric, histogram, 1),
    };
}
