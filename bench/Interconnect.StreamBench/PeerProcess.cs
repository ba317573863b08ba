using System.Collections.Concurrent;
using System.Diagnostics;

namespace Interconnect.StreamBench;

/// <summary>This program started again as the peer, its output read line by line, every wait with a deadline.</summary>
internal sealed class PeerProcess : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = [];
    private readonly ConcurrentQueue<string> _errors = new();

    private PeerProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _lines.CompleteAdding();
            }
            else
            {
                _lines.Add(e.Data);
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _errors.Enqueue(e.Data);
            }
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Errors => string.Join('\n', _errors);

    public static PeerProcess Start(IEnumerable<string> args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "imc-stream-bench.dll"));
        info.ArgumentList.Add("peer");
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return new PeerProcess(Process.Start(info)!);
    }

    public string WaitForLine(string prefix)
    {
        var deadline = TimeSpan.FromSeconds(120);
        var watch = Stopwatch.StartNew();
        while (true)
        {
            if (!_lines.TryTake(out var line, deadline - watch.Elapsed))
            {
                throw new TimeoutException($"the peer did not print \"{prefix}\" in time\n{Errors}");
            }

            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return line;
            }
        }
    }

    public void ThrowIfExited()
    {
        if (_process.HasExited)
        {
            throw new IOException($"the peer exited with {_process.ExitCode}: {Errors}");
        }
    }

    public void WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            _process.Kill();
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.Dispose();
    }
}
