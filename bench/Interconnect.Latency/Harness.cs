using System.Diagnostics;
using Interconnect.Latency.Reporting;
using Interconnect.Latency.Scenarios;

namespace Interconnect.Latency;

/// <summary>
/// Builds the C floor, runs every scenario once per round (the order rotating from round to round, so slow drifts of
/// the machine touch every scenario alike), then prints the report and writes the JSON file.
/// </summary>
internal static class Harness
{
    public static int Run(HarnessOptions options)
    {
        var info = new RunInfo { Started = DateTimeOffset.UtcNow, CommandLine = options.CommandLine, LoadBefore = RunInfo.LoadAverage() };
        var repository = FindRepository();
        var floor = options.Machines ? "" : BuildFloor(repository); // across machines needs no C floor
        var root = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), $"imc-latency-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        var scenarios = (options.Machines ? ScenarioCatalog.AcrossMachines(options) : ScenarioCatalog.Measured)
            .Where(s => options.Only.Count == 0 || options.Only.Any(w => s.Name.Contains(w, StringComparison.OrdinalIgnoreCase)))
            .ToList();
        var samples = Touched(options.MaxSamples);
        var moreSamples = Touched(options.MaxSamples);
        var runs = new List<ScenarioRun>();
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        try
        {
            for (var round = 1; round <= options.Rounds; round++)
            {
                var context = new RoundContext(round, options, root, floor, samples, moreSamples);
                for (var i = 0; i < scenarios.Count; i++)
                {
                    var scenario = scenarios[(i + round - 1) % scenarios.Count];
                    Console.Error.WriteLine($"[{clock.Elapsed:mm\\:ss}] round {round}/{options.Rounds}: {scenario.Name}");
                    try
                    {
                        runs.Add(scenario.Run(context));
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        failures.Add($"round {round}, {scenario.Name}: {e.GetType().Name}: {e.Message}");
                        Console.Error.WriteLine($"  failed: {e.Message}");
                    }
                }
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }

        info.LoadAfter = RunInfo.LoadAverage();
        var aggregates = Aggregate.Of(runs);
        MarkdownReport.Write(Console.Out, info, options, runs, aggregates, failures);
        var json = options.JsonPath ?? Path.Combine(repository, "artifacts", "latency", $"latency-{info.Started:yyyyMMdd-HHmmss}.json");
        JsonReport.Write(json, info, options, runs, aggregates, failures);
        Console.WriteLine($"JSON: {json}");
        Console.Error.WriteLine($"[{clock.Elapsed:mm\\:ss}] done");
        return failures.Count == 0 ? 0 : 1;
    }

    /// <summary>The repository this program was built from: the first folder above it holding native/Makefile.</summary>
    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "native", "Makefile")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no native/Makefile above {AppContext.BaseDirectory}: run the harness from its repository");
    }

    /// <summary>
    /// Runs <c>make -C native bench</c> (nothing prebuilt in git: the floor, libimc.so and the floor's ping-pong over it)
    /// and returns the floor binary.
    /// </summary>
    private static string BuildFloor(string repository)
    {
        var info = new ProcessStartInfo("make") { UseShellExecute = false, RedirectStandardOutput = true };
        info.ArgumentList.Add("-s");
        info.ArgumentList.Add("-C");
        info.ArgumentList.Add(Path.Combine(repository, "native"));
        info.ArgumentList.Add("bench");
        using var make = Process.Start(info) ?? throw new InvalidOperationException("could not run make");
        var output = make.StandardOutput.ReadToEnd();
        make.WaitForExit();
        if (make.ExitCode != 0)
        {
            throw new InvalidOperationException($"make -C native failed (exit {make.ExitCode}): {output}");
        }

        return Path.Combine(repository, "native", "build", "imc_floor");
    }

    private static long[] Touched(int length)
    {
        var array = new long[length];
        Array.Fill(array, 1L); // fault every page in now, not inside a measured round trip
        return array;
    }
}
