using System.Diagnostics;
using NUnit.Framework;

namespace Interconnect.Testing;

/// <summary>Shell commands run as another user (through setpriv, which needs root), for a test that plays that user.</summary>
public static class AnotherUser
{
    /// <summary>Skips the test, saying why, unless it runs as root (which it needs to act as another user).</summary>
    public static void RequireRoot(string why)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Assert.Ignore($"{why}: needs root (setpriv to act as another user, and a root process to test); CI runs as root");
        }
    }

    /// <summary>The uid of <paramref name="user"/>, as /etc/passwd has it.</summary>
    public static int Uid(string user) =>
        File.ReadLines("/etc/passwd").Select(line => line.Split(':')).FirstOrDefault(fields => fields[0] == user) is { Length: > 2 } found
            ? int.Parse(found[2], System.Globalization.CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"no user '{user}' in /etc/passwd");

    /// <summary>
    /// Runs <paramref name="command"/> with /bin/sh as <paramref name="user"/> ("user" or "user:group"), with no
    /// supplementary groups, within 30 s; fails the test with what it printed when it exits other than 0.
    /// </summary>
    public static void Shell(string user, string command)
    {
        var parts = user.Split(':', 2);
        var info = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        foreach (var argument in new[]
                 {
                     $"--reuid={parts[0]}", $"--regid={(parts.Length == 2 ? parts[1] : parts[0] == "nobody" ? "nogroup" : parts[0])}",
                     "--clear-groups", "/bin/sh", "-c", command,
                 })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(30_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"'{command}' as {user} did not finish within 30 s");
        }

        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, $"'{command}' as {user}: {output.Result}{error.Result}");
    }
}
