using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Interconnect.Machines;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// A process started on a simulated machine (<see cref="SimulatedMachine.Start"/>): its output read as it comes, line
/// by line (so it never blocks on a full pipe), commands sent on its stdin, every wait with a deadline. The cluster
/// kills it when disposed; <see cref="Dispose"/> kills it first if it still runs.
/// </summary>
internal sealed class MachineProcess : IDisposable
{
    private readonly BlockingCollection<string> _lines = [];
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly Process _process;

    private MachineProcess(Process process, string name, bool stderrIsOutput)
    {
        _process = process;
        Name = name;
        var open = stderrIsOutput ? 2 : 1;
        process.OutputDataReceived += (_, e) => Take(e.Data, toLines: true);
        process.ErrorDataReceived += (_, e) => Take(e.Data, toLines: stderrIsOutput);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        void Take(string? line, bool toLines)
        {
            if (line is null)
            {
                if (toLines && Interlocked.Decrement(ref open) == 0)
                {
                    _lines.CompleteAdding();
                }

                return;
            }

            if (toLines)
            {
                _lines.Add(line);
            }
            else
            {
                _errors.Enqueue(line);
            }
        }
    }

    public string Name { get; }

    public int Pid => _process.Id;

    /// <summary>What the process said on stderr (or, when stderr is read as output, nothing).</summary>
    public string Errors => string.Join(" | ", _errors);

    /// <summary>Starts <paramref name="file"/> on <paramref name="machine"/>; with <paramref name="stderrIsOutput"/> both streams are its lines.</summary>
    public static MachineProcess Start(SimulatedMachine machine, string name, string file, IEnumerable<string> arguments,
        IDictionary<string, string?>? environment = null, bool stderrIsOutput = false) =>
        new(machine.Start(file, arguments, environment), $"{name} on {machine.Name}", stderrIsOutput);

    /// <summary>The next line, or null at the end of the output; throws at the deadline.</summary>
    public string? ReadLine(TimeSpan timeout)
    {
        if (_lines.TryTake(out var line, timeout))
        {
            return line;
        }

        if (_lines.IsCompleted)
        {
            return null;
        }

        throw new TimeoutException($"{Name} said nothing for {timeout.TotalSeconds} s; stderr: {Errors}");
    }

    /// <summary>Reads lines until one starts with <paramref name="prefix"/> and returns it; throws at the end of the output or the deadline.</summary>
    public string WaitFor(string prefix, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var left = timeout - clock.Elapsed;
            var line = left > TimeSpan.Zero ? ReadLine(left) : throw new TimeoutException($"{Name}: no '{prefix}' within {timeout.TotalSeconds} s; stderr: {Errors}");
            if (line is null)
            {
                _process.WaitForExit(5_000);
                throw new InvalidOperationException(
                    $"{Name} ended (exit {(_process.HasExited ? _process.ExitCode.ToString(CultureInfo.InvariantCulture) : "?")}) before saying '{prefix}'; stderr: {Errors}");
            }

            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return line;
            }
        }
    }

    public void Send(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>CPU time (user + system) the process has used so far.</summary>
    public TimeSpan CpuTime()
    {
        _process.Refresh();
        return _process.HasExited ? TimeSpan.Zero : _process.TotalProcessorTime;
    }

    /// <summary>Waits for the process to end by itself; throws unless it exits 0 in time.</summary>
    public void WaitExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            throw new TimeoutException($"{Name} did not exit within {timeout.TotalSeconds} s");
        }

        _process.WaitForExit();
        if (_process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Name} failed (exit {_process.ExitCode}): {Errors}");
        }
    }

    /// <summary>SIGTERM (a clean leave), then SIGKILL if it is still there after <paramref name="grace"/>.</summary>
    public void Stop(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }

        _ = Interop.Signals.Terminate(_process.Id);
        if (!_process.WaitForExit(grace))
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // It had already gone.
        }

        _process.Dispose();
    }
}
