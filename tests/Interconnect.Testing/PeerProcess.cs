using System.Collections.Concurrent;
using System.Diagnostics;
using Interconnect.Machines;

namespace Interconnect.Testing;

/// <summary>
/// A child process running imc-test-peer on an emulated host. Every command waits for its answer with a deadline;
/// a peer that does not answer in time fails the test, never hangs it.
/// </summary>
public sealed class PeerProcess : IDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = [];
    private readonly ConcurrentQueue<string> _errors = new();
    private bool _disposed;

    private PeerProcess(Process process, string host)
    {
        _process = process;
        Host = host;
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

    public string Host { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The path of the peer program, beside the test assembly.</summary>
    public static string PeerPath => Path.Combine(AppContext.BaseDirectory, "imc-test-peer.dll");

    /// <summary>Takes charge of a peer that something else started (a simulated machine), redirected both ways.</summary>
    public static PeerProcess Adopt(Process process, string host) => new(process, host);

    public static PeerProcess Start(string root, string cluster, string host, string? user = null) =>
        Start(new Dictionary<string, string?> { ["IMC_ROOT"] = root, ["IMC_CLUSTER"] = cluster, ["IMC_HOST"] = host }, user);

    /// <summary>
    /// Starts a peer with exactly the IMC_ variables given (a null value leaves one unset), for tests of how the
    /// library reads its environment; <c>host</c> is then IMC_HOST, or "-" when unset.
    /// </summary>
    public static PeerProcess Start(IReadOnlyDictionary<string, string?> environment, string? user = null)
    {
        var info = DotnetProcess.StartInfo(PeerPath, user);
        foreach (var name in new[] { "IMC_ROOT", "IMC_CLUSTER", "IMC_HOST", "IMC_AUTO_INIT" })
        {
            info.Environment.Remove(name);
        }

        foreach (var (name, value) in environment)
        {
            if (value is not null)
            {
                info.Environment[name] = value;
            }
        }

        var host = environment.GetValueOrDefault("IMC_HOST") ?? "-";
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the test peer");
        return new PeerProcess(process, host);
    }

    /// <summary>Sends a command; returns what follows "ok", or throws <see cref="PeerException"/> for "err".</summary>
    public string Send(string command, TimeSpan? timeout = null)
    {
        var reply = Ask(command, timeout);
        return reply.Ok ? reply.Text : throw new PeerException(command, reply.Status, reply.Text);
    }

    /// <summary>Sends a command and returns its answer, success or not.</summary>
    public PeerReply Ask(string command, TimeSpan? timeout = null)
    {
        _process.StandardInput.WriteLine(command);
        _process.StandardInput.Flush();
        return Receive(command, timeout);
    }

    /// <summary>Sends a command without waiting; collect the answer later with <see cref="Receive"/>.</summary>
    public void Post(string command)
    {
        _process.StandardInput.WriteLine(command);
        _process.StandardInput.Flush();
    }

    public PeerReply Receive(string command, TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        if (!_lines.TryTake(out var line, limit))
        {
            // An empty, completed collection answers at once: the peer ended (crashed) without answering.
            throw _lines.IsCompleted
                ? (Exception)new PeerEndedException($"peer on host {Host} (pid {Pid}) ended without answering '{command}'{ExitNote()}; stderr: {Errors}")
                : new TimeoutException(
                    $"peer on host {Host} (pid {Pid}) did not answer '{command}' within {limit.TotalSeconds} s; stderr: {Errors}");
        }

        if (line.StartsWith("ok", StringComparison.Ordinal))
        {
            return new PeerReply(true, "Success", line.Length > 3 ? line[3..] : "");
        }

        var parts = line.Split(' ', 3);
        return new PeerReply(false, parts.Length > 1 ? parts[1] : "", parts.Length > 2 ? parts[2] : line);
    }

    /// <summary>Takes an answer if one arrives within <paramref name="timeout"/>; false otherwise.</summary>
    public bool TryReceive(out PeerReply? reply, TimeSpan timeout)
    {
        if (_lines.TryTake(out var line, timeout))
        {
            reply = line.StartsWith("ok", StringComparison.Ordinal)
                ? new PeerReply(true, "Success", line.Length > 3 ? line[3..] : "")
                : new PeerReply(false, line.Split(' ', 3).ElementAtOrDefault(1) ?? "", line);
            return true;
        }

        reply = null;
        return false;
    }

    /// <summary>SIGKILL, and wait until the process is gone.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }
    }

    private string ExitNote()
    {
        // Its output ended; the exit and the rest of its standard error follow at once.
        return ProcessWait.ForExitAndOutput(_process, TimeSpan.FromSeconds(5)) ? $" (exit code {_process.ExitCode})" : "";
    }

    public string Errors => string.Join(" | ", _errors);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.WriteLine("exit");
                _process.StandardInput.Flush();
                if (!_process.WaitForExit(5_000))
                {
                    _process.Kill();
                }
            }
        }
        catch (IOException)
        {
            Kill();
        }

        // _lines is not disposed: the output reader may still deliver the end of the stream (CompleteAdding) after
        // the process has exited and this returned, and a disposed collection would throw on the thread pool and
        // take the whole test host down. It holds no kernel handle; the collector takes it.
        _process.Dispose();
    }
}

/// <summary>A peer's answer: ok with its values, or a status name and message.</summary>
public sealed record PeerReply(bool Ok, string Status, string Text);

/// <summary>A peer answered "err".</summary>
public sealed class PeerException : Exception
{
    public PeerException(string command, string status, string message)
        : base($"'{command}' failed: {status} {message}")
    {
        Status = status;
    }

    public PeerException()
    {
        Status = "";
    }

    public PeerException(string message)
        : base(message)
    {
        Status = "";
    }

    public PeerException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = "";
    }

    public string Status { get; }
}

/// <summary>A peer ended (crashed, or was killed) before it answered a command.</summary>
public sealed class PeerEndedException : Exception
{
    public PeerEndedException()
    {
    }

    public PeerEndedException(string message)
        : base(message)
    {
    }

    public PeerEndedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
