using System.Diagnostics;
using Interconnect.Machines;

namespace Interconnect.Testing;

/// <summary>What a command printed and how it exited.</summary>
public sealed record CommandResult(int ExitCode, string Output, string Error);

/// <summary>Runs one of the project's commands (built beside the tests) against a cluster, with a deadline.</summary>
public static class Command
{
    public static CommandResult Run(string command, string root, string? cluster, params string[] args) =>
        RunAs(null, command, root, cluster, args);

    /// <summary>Runs the command as another user (needs root), through setpriv.</summary>
    public static CommandResult RunAs(string? user, string command, string root, string? cluster, params string[] args)
    {
        var info = DotnetProcess.StartInfo(Path.Combine(AppContext.BaseDirectory, command + ".dll"), user);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["IMC_ROOT"] = root;
        if (cluster is null)
        {
            info.Environment.Remove("IMC_CLUSTER");
        }
        else
        {
            info.Environment["IMC_CLUSTER"] = cluster;
        }

        info.Environment.Remove("IMC_HOST");
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{command} {string.Join(' ', args)} did not finish within 60 s");
        }

        if (!ProcessWait.ForOutput(ProcessWait.OutputGrace, output, error))
        {
            throw new TimeoutException($"{command} {string.Join(' ', args)} exited ({process.ExitCode}) but its output did not end " +
                $"within {ProcessWait.OutputGrace.TotalSeconds} s: a process it started still holds the pipe");
        }

        return new CommandResult(process.ExitCode, output.Result, error.Result);
    }
}
