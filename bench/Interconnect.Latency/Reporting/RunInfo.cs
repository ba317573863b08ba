using System.Collections;
using System.Runtime;
using System.Runtime.InteropServices;

namespace Interconnect.Latency.Reporting;

/// <summary>When, where and how a run was made: what RESULTS.md has to say beside the numbers.</summary>
internal sealed class RunInfo
{
    private static readonly string[] s_appContextSwitches =
    [
        "System.Runtime.TieredCompilation",
        "System.Runtime.TieredCompilation.QuickJit",
        "System.Runtime.TieredCompilation.QuickJitForLoops",
        "System.Runtime.TieredPGO",
        "System.GC.Server",
        "System.GC.Concurrent",
    ];

    public required DateTimeOffset Started { get; init; }

    public required string CommandLine { get; init; }

    public string Cpu { get; } = CpuModel();

    public int ProcessorCount { get; } = Environment.ProcessorCount;

    public string Kernel { get; } = ReadFirstLine("/proc/sys/kernel/osrelease");

    public string Framework { get; } = RuntimeInformation.FrameworkDescription;

    public required string LoadBefore { get; init; }

    public string LoadAfter { get; set; } = "";

    /// <summary>Every DOTNET_/COMPlus_ variable and runtime switch that is set, and the GC mode; "default" for the rest.</summary>
    public IReadOnlyList<(string Name, string Value)> RuntimeSettings { get; } = ReadRuntimeSettings();

    public static string LoadAverage() => ReadFirstLine("/proc/loadavg");

    /// <summary>The 1-minute load average, or 0 if it cannot be read.</summary>
    public static double Load1(string loadAverage) =>
        double.TryParse(loadAverage.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : 0;

    private static List<(string, string)> ReadRuntimeSettings()
    {
        var settings = new List<(string, string)>();
        foreach (DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            var name = (string)variable.Key;
            if (name.StartsWith("DOTNET_", StringComparison.Ordinal) || name.StartsWith("COMPlus_", StringComparison.Ordinal))
            {
                settings.Add((name, (string?)variable.Value ?? ""));
            }
        }

        foreach (var name in s_appContextSwitches)
        {
            settings.Add((name, AppContext.GetData(name)?.ToString() ?? "default"));
        }

        settings.Add(("GC", $"{(GCSettings.IsServerGC ? "server" : "workstation")}, latency mode {GCSettings.LatencyMode}"));
        settings.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        return settings;
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? RuntimeInformation.ProcessArchitecture.ToString() : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }

    private static string ReadFirstLine(string path)
    {
        try
        {
            return File.ReadLines(path).FirstOrDefault()?.Trim() ?? "";
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }
}
