using System.Diagnostics;
using Interconnect.Machines;

namespace Interconnect.Cluster.Tests;

/// <summary>
/// What of a simulated cluster can still be seen from the root namespaces, found the way an administrator would look
/// (ip netns list, /proc/self/mountinfo, live processes naming it, its folder), independently of the helper's own check.
/// </summary>
internal static class Traces
{
    public static List<string> Of(string tag, string folder, IEnumerable<int>? pids = null)
    {
        var traces = new List<string>();
        traces.AddRange(Lines("ip", "netns", "list").Where(line => line.StartsWith(tag + "-", StringComparison.Ordinal))
            .Select(line => $"netns {line}"));
        traces.AddRange(File.ReadLines("/proc/self/mountinfo").Where(line => line.Contains(tag, StringComparison.Ordinal))
            .Select(line => $"mount {line}"));
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var pid) && IsRunning(pid)
                && CommandLine(pid).Contains(tag, StringComparison.Ordinal))
            {
                traces.Add($"process {pid}: {CommandLine(pid)}");
            }
        }

        traces.AddRange((pids ?? []).Where(IsRunning).Select(pid => $"process {pid}: {CommandLine(pid)}"));
        if (Directory.Exists(folder))
        {
            traces.Add($"folder {folder}");
        }

        return traces;
    }

    /// <summary>Whether the root namespace has a link of the given name (the helper makes none there).</summary>
    public static bool RootHasLink(string name) =>
        Lines("ip", "-o", "link", "show").Any(line => line.Split(':', 3) is [_, var ifname, _] && ifname.Trim().Split('@')[0] == name);

    /// <summary>The addresses of the root network namespace.</summary>
    public static string RootAddresses() => string.Join('\n', Lines("ip", "-o", "addr", "show"));

    /// <summary>Alive and not a zombie (a killed orphan may stay a zombie where nobody reaps it; it holds nothing).</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static List<string> Lines(string fileName, params string[] arguments)
    {
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(10_000) || !ProcessWait.ForOutput(ProcessWait.OutputGrace, output))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish (or its output did not end) within 10 s");
        }

        return [.. output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }
}
