using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Interconnect.Driver;
using Interconnect.Driver.Status;
using Spectre.Console;

namespace Interconnect.Imcs;

/// <summary>
/// imcs: the status of a cluster, as imcs(1). It reads the control file through a read-only mapping, so it never
/// changes the cluster and never makes a writer wait. Exit codes: 0 success (and, with --check, no violation),
/// 1 a violation or an error, 2 bad usage, 3 no cluster, 4 (--check) the directory kept changing: check again.
/// </summary>
internal static class Program
{
    public const int ExitViolations = 1;
    public const int ExitBadUsage = 2;
    public const int ExitNoCluster = 3;
    public const int ExitBusy = 4;

    private static int Main(string[] args)
    {
        var hosts = new Option<bool>("-m") { Description = "Hosts that initialised the API." };
        var locks = new Option<bool>("-l") { Description = "Lock sets." };
        var regions = new Option<bool>("-r") { Description = "Regions." };
        var full = new Option<bool>("-f") { Description = "Everything." };
        var statistics = new Option<bool>("-s") { Description = "Statistics and rail usage." };
        var json = new Option<bool>("--json") { Description = "One JSON document for scripts (schema in README.md)." };
        var watch = new Option<double?>("--watch")
        {
            Description = "Redraw every SECONDS (default 1) with per-rail rates, until interrupted.",
            Arity = ArgumentArity.ZeroOrOne,
            HelpName = "SECONDS",
        };
        var iterations = new Option<int?>("--iterations")
        {
            Description = "With --watch: stop after this many views (for scripts).",
            HelpName = "N",
        };
        var check = new Option<bool>("--check")
        {
            Description = "Verify the cluster's invariants; exit 0 only when none is violated.",
        };

        var command = new RootCommand("Shows the status of the Interconnect cluster under IMC_ROOT/IMC_CLUSTER.")
        {
            hosts, locks, regions, full, statistics, json, watch, iterations, check,
        };
        command.SetAction(parse =>
        {
            var any = parse.GetValue(hosts) || parse.GetValue(locks) || parse.GetValue(regions) || parse.GetValue(statistics);
            var view = parse.GetValue(full)
                ? ViewOptions.Full
                : any
                    ? new ViewOptions(parse.GetValue(hosts), parse.GetValue(regions), parse.GetValue(locks), parse.GetValue(statistics))
                    : ViewOptions.Default;
            try
            {
                var paths = ClusterPaths.Resolve();
                if (parse.GetValue(check))
                {
                    return Check(paths, parse.GetValue(json));
                }

                if (parse.GetResult(watch) is not null)
                {
                    var seconds = parse.GetValue(watch) ?? 1;
                    if (seconds is <= 0 or > 3600 || double.IsNaN(seconds))
                    {
                        Console.Error.WriteLine("imcs: --watch takes 0.05 to 3600 seconds");
                        return ExitBadUsage;
                    }

                    return Watch(paths, view with { Statistics = true }, TimeSpan.FromSeconds(Math.Max(seconds, 0.05)), parse.GetValue(iterations));
                }

                var status = ClusterAdmin.ReadStatus(paths);
                if (parse.GetValue(json))
                {
                    Console.WriteLine(JsonSerializer.Serialize(status, ImcsJson.Default.ClusterStatus));
                }
                else
                {
                    Console.Write(Render(status, view, rates: null));
                }

                return 0;
            }
            catch (DriverException e) when (e.Status == DriverStatus.NotInitialized)
            {
                Console.Error.WriteLine($"imcs: {e.Message}");
                Console.Error.WriteLine("imcs: create one with: imc_init --host NAME   (see README.md)");
                return ExitNoCluster;
            }
            catch (DriverException e)
            {
                Console.Error.WriteLine($"imcs: {e.Message}");
                return 1;
            }
        });

        var parsed = command.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // Bad usage exits 2 (README), not the parser's 1, which imcs keeps for an error of the cluster.
            foreach (var error in parsed.Errors)
            {
                Console.Error.WriteLine($"imcs: {error.Message}");
            }

            Console.Error.WriteLine("imcs: see imcs --help");
            return ExitBadUsage;
        }

        return parsed.Invoke();
    }

    /// <summary>A console that writes plain text (no colours, no cursor tricks) wide enough not to wrap tables.</summary>
    internal static IAnsiConsole CreateConsole(TextWriter? writer = null)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer ?? Console.Out),
        });
        console.Profile.Width = 400;
        return console;
    }

    /// <summary>The view as text, each line without the padding the table leaves at its end.</summary>
    internal static string Render(ClusterStatus status, ViewOptions view, RateSample? rates)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        StatusView.Render(CreateConsole(writer), status, view, rates);
        var lines = writer.ToString().ReplaceLineEndings("\n").Split('\n').Select(l => l.TrimEnd());
        return string.Join('\n', lines).TrimEnd() + "\n";
    }

    private static int Check(ClusterPaths paths, bool json)
    {
        var report = ClusterAdmin.Check(paths);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(
                new CheckDocument(report.Clean, report.Busy, report.Violations, report.AwaitingReclamation), ImcsJson.Default.CheckDocument));
        }
        else
        {
            foreach (var line in report.AwaitingReclamation)
            {
                Console.WriteLine($"awaiting reclamation: {line}");
            }

            foreach (var line in report.Violations)
            {
                Console.WriteLine($"violation: {line}");
            }

            Console.WriteLine(report.Busy
                ? $"imcs: the directory of cluster '{paths.Cluster}' kept changing; no consistent reading was had: check again"
                : report.Clean
                    ? $"imcs: cluster '{paths.Cluster}' is consistent"
                    : string.Create(CultureInfo.InvariantCulture, $"imcs: cluster '{paths.Cluster}' has {report.Violations.Count} violation(s)"));
        }

        return report.Busy ? ExitBusy : report.Clean ? 0 : ExitViolations;
    }

    private static int Watch(ClusterPaths paths, ViewOptions view, TimeSpan interval, int? iterations)
    {
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        var terminal = !Console.IsOutputRedirected;
        ClusterStatus? previous = null;
        var clock = Stopwatch.StartNew();
        var lastAt = TimeSpan.Zero;
        for (var shown = 0; !stop.IsCancellationRequested && (iterations is null || shown < iterations); shown++)
        {
            var status = ClusterAdmin.ReadStatus(paths);
            var now = clock.Elapsed;
            var rates = previous is null ? null : new RateSample(previous, status, now - lastAt);
            if (terminal)
            {
                Console.Write("\u001b[H\u001b[2J"); // home and clear: redraw in place
            }
            else if (shown > 0)
            {
                Console.WriteLine();
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"imcs --watch {interval.TotalSeconds:0.##}: {DateTime.Now:HH:mm:ss}, Ctrl+C to stop"));
            Console.Write(Render(status, view, rates ?? new RateSample(status, status, TimeSpan.FromSeconds(1))));
            previous = status;
            lastAt = now;
            if (iterations is null || shown + 1 < iterations)
            {
                stop.Token.WaitHandle.WaitOne(interval);
            }
        }

        return 0;
    }
}
