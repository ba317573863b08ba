using System.Diagnostics;
using System.Globalization;

namespace Interconnect.Latency;

/// <summary>
/// A peer: this same program started again with <c>--peer ROLE</c>, on the other CPU. It says "ready" on stdout once
/// set up, and "jit N" (methods it compiled while measured) when it ends. Every wait has a deadline.
/// </summary>
internal sealed class PeerProcess : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly string _role;

    private PeerProcess(Process process, string role)
    {
        _process = process;
        _role = role;
    }

    public static PeerProcess Start(string role, int cpu, params string[] args)
    {
        var info = new ProcessStartInfo { UseShellExecute = false, RedirectStandardOutput = true };
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell this program's path");
        info.FileName = self;
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            info.ArgumentList.Add(typeof(PeerProcess).Assembly.Location);
        }

        info.ArgumentList.Add("--peer");
        info.ArgumentList.Add(role);
        info.ArgumentList.Add("--cpu");
        info.ArgumentList.Add(cpu.ToString(CultureInfo.InvariantCulture));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return new PeerProcess(Process.Start(info) ?? throw new InvalidOperationException($"could not start the {role} peer"), role);
    }

    /// <summary>The peer's process id (for <c>Kill</c>).</summary>
    public int Pid => _process.Id;

    /// <summary>Waits for the peer's "ready".</summary>
    public void WaitReady()
    {
        var line = ReadLine();
        if (line != "ready")
        {
            throw new InvalidOperationException($"the {_role} peer said '{line}' instead of 'ready'");
        }
    }

    /// <summary>Waits for the peer to end; returns the number of methods it compiled while measured.</summary>
    public long Finish()
    {
        long jit = -1;
        string? line;
        while ((line = ReadLine()) is not null)
        {
            if (line.StartsWith("jit ", StringComparison.Ordinal))
            {
                jit = long.Parse(line.AsSpan(4), CultureInfo.InvariantCulture);
            }
        }

        if (!_process.WaitForExit(s_timeout))
        {
            throw new TimeoutException($"the {_role} peer did not exit within {s_timeout.TotalSeconds} s");
        }

        return _process.ExitCode == 0 ? jit : throw new InvalidOperationException($"the {_role} peer failed (exit {_process.ExitCode})");
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
    }

    private string? ReadLine()
    {
        var read = _process.StandardOutput.ReadLineAsync();
        return read.Wait(s_timeout)
            ? read.Result
            : throw new TimeoutException($"the {_role} peer said nothing for {s_timeout.TotalSeconds} s");
    }
}
