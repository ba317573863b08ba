using System.Diagnostics;

namespace Interconnect.Machines;

/// <summary>What a command printed and how it exited.</summary>
internal readonly record struct CommandOutput(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// Runs the system's tools (ip, mount, nsenter, ...) with a deadline: namespaces and mounts are made with the same
/// commands an administrator would type, so what the helper did can be read, repeated and undone by hand.
/// </summary>
internal static class HostCommand
{
    /// <summary>Runs <paramref name="fileName"/>; a command still running at <paramref name="timeout"/> is killed and throws.</summary>
    public static CommandOutput Run(string fileName, IEnumerable<string> arguments, TimeSpan timeout,
        IDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            foreach (var (name, value) in environment)
            {
                if (value is null)
                {
                    info.Environment.Remove(name);
                }
                else
                {
                    info.Environment[name] = value;
                }
            }
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{fileName} did not start");
        return Collect(process, $"{fileName} {string.Join(' ', info.ArgumentList)}", timeout);
    }

    /// <summary>Closes the input of a started process, reads what it prints and waits for it, killing it at the deadline.</summary>
    public static CommandOutput Collect(Process process, string what, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Clamp(timeout)))
        {
            process.Kill(entireProcessTree: true);
            _ = process.WaitForExit(Clamp(ProcessWait.OutputGrace));
            _ = ProcessWait.ForOutput(ProcessWait.OutputGrace, stdout, stderr);
            throw new TimeoutException(
                $"{what} did not finish within {timeout.TotalSeconds:0.#} s; it printed: {ProcessWait.TextOf(stdout)}{ProcessWait.TextOf(stderr)}");
        }

        // It has exited; its output ends when no process it started holds the pipes any more, which is waited for
        // with what is left of the deadline (and a little more), never for ever.
        var left = timeout - clock.Elapsed;
        if (!ProcessWait.ForOutput(left > ProcessWait.OutputGrace ? left : ProcessWait.OutputGrace, stdout, stderr))
        {
            throw new TimeoutException(
                $"{what} exited ({process.ExitCode}) but its output did not end: a process it started still holds the pipe; " +
                $"it printed: {ProcessWait.TextOf(stdout)}{ProcessWait.TextOf(stderr)}");
        }

        return new CommandOutput(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs a shell script (<c>sh -ec</c>: it stops at the first failing command) and throws with its stderr when it fails.</summary>
    public static string Script(string script, TimeSpan timeout)
    {
        var result = Run("sh", ["-ec", script], timeout);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"a namespace command failed (exit {result.ExitCode}): {result.Stderr.Trim()}\nscript:\n{script}");
        }

        return result.Stdout;
    }

    /// <summary>True when <paramref name="name"/> is an executable file in a folder of PATH.</summary>
    public static bool IsOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(folder => File.Exists(Path.Combine(folder, name)));

    /// <summary>A wait of at least one millisecond and at most int.MaxValue, from what is left of a deadline.</summary>
    public static int Clamp(TimeSpan timeout) =>
        (int)Math.Clamp(Math.Ceiling(timeout.TotalMilliseconds), 1, int.MaxValue);
}
