using System.Collections.Concurrent;
using System.Diagnostics;
using Interconnect.Machines;

namespace Interconnect.Testing;

/// <summary>
/// A program built beside the tests (an example, a command) running as a child process on one emulated host, with
/// its standard output read line by line as it comes. Every wait has a deadline: a program that does not print what
/// is expected, or does not exit, in time fails the test with everything it printed, and never hangs it. Disposing
/// kills the program if it still runs.
/// </summary>
public sealed class ProgramProcess : IDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly BlockingCollection<string> _unread = [];
    private readonly ConcurrentQueue<string> _output = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly string _name;
    private bool _disposed;

    private ProgramProcess(Process process, string name, string host)
    {
        _process = process;
        _name = name;
        Host = host;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _unread.CompleteAdding();
                return;
            }

            _output.Enqueue(e.Data);
            _unread.Add(e.Data);
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

    /// <summary>The emulated host the program runs on (its <c>IMC_HOST</c>).</summary>
    public string Host { get; }

    /// <summary>The program's process id: <c>dotnet program.dll</c> runs the program in the process it starts.</summary>
    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Every line the program printed on standard output so far.</summary>
    public IReadOnlyList<string> Lines => [.. _output];

    /// <summary>The lines printed on standard error so far.</summary>
    public IReadOnlyList<string> ErrorLines => [.. _errors];

    /// <summary>Everything printed so far on standard output, then standard error, for failure messages.</summary>
    public string Transcript =>
        $"--- {_name} on host {Host} (pid {_process.Id}), stdout:\n{string.Join('\n', _output)}\n--- stderr:\n{string.Join('\n', _errors)}";

    /// <summary>Takes charge of a program that something else started (a simulated machine), redirected both ways.</summary>
    public static ProgramProcess Adopt(Process process, string program, string host) => new(process, program, host);

    /// <summary>
    /// Starts <c>dotnet <paramref name="program"/>.dll <paramref name="args"/></c> from the test's directory with
    /// <c>IMC_ROOT</c>, <c>IMC_CLUSTER</c> and <c>IMC_HOST</c> set (and <c>IMC_AUTO_INIT</c> unset): a process of
    /// <paramref name="host"/> in that cluster. Standard input stays open for <see cref="WriteLine"/>.
    /// </summary>
    public static ProgramProcess Start(string program, string root, string cluster, string host, params string[] args)
    {
        var info = DotnetProcess.StartInfo(Path.Combine(AppContext.BaseDirectory, program + ".dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["IMC_ROOT"] = root;
        info.Environment["IMC_CLUSTER"] = cluster;
        info.Environment["IMC_HOST"] = host;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}");
        return new ProgramProcess(process, $"{program} {string.Join(' ', args)}".TrimEnd(), host);
    }

    /// <summary>
    /// Starts the native executable <paramref name="path"/> (a C program) as <see cref="Start"/> starts a .NET one:
    /// <c>IMC_ROOT</c>, <c>IMC_CLUSTER</c> and <c>IMC_HOST</c> set, <c>IMC_AUTO_INIT</c> unset, then
    /// <paramref name="environment"/> (such as <c>LD_LIBRARY_PATH</c>).
    /// </summary>
    public static ProgramProcess StartExecutable(string path, IReadOnlyDictionary<string, string> environment, string root,
        string cluster, string host, params string[] args)
    {
        var info = new ProcessStartInfo(path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment.Remove("IMC_AUTO_INIT");
        info.Environment["IMC_ROOT"] = root;
        info.Environment["IMC_CLUSTER"] = cluster;
        info.Environment["IMC_HOST"] = host;
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {path}");
        return new ProgramProcess(process, $"{Path.GetFileName(path)} {string.Join(' ', args)}".TrimEnd(), host);
    }

    /// <summary>
    /// Reads lines until one contains <paramref name="text"/> and returns it; lines before it are consumed. Throws
    /// <see cref="TimeoutException"/> when no such line comes within the deadline or the program ends without it.
    /// </summary>
    public string WaitForLine(string text, TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var left = limit - watch.Elapsed;
            string? line = null;
            bool taken;
            try
            {
                taken = left > TimeSpan.Zero && _unread.TryTake(out line, left);
            }
            catch (InvalidOperationException)
            {
                taken = false; // the output ended
            }

            if (!taken)
            {
                var why = _unread.IsCompleted ? "ended without printing it" : $"did not print it within {limit.TotalSeconds} s";
                throw new TimeoutException($"waited for a line containing \"{text}\": the program {why}\n{Transcript}");
            }

            if (line!.Contains(text, StringComparison.Ordinal))
            {
                return line;
            }
        }
    }

    /// <summary>Writes one line to the program's standard input.</summary>
    public void WriteLine(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>Closes the program's standard input (end of input).</summary>
    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>
    /// Waits until the program exits and its output is read to the end; returns its exit code. Kills it and throws
    /// <see cref="TimeoutException"/> when it does not exit within the deadline.
    /// </summary>
    public int WaitForExit(TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        if (!_process.WaitForExit(limit))
        {
            Kill();
            throw new TimeoutException($"the program did not exit within {limit.TotalSeconds} s\n{Transcript}");
        }

        // It has exited; its output ends once no process it started holds the pipes (waited for, with a deadline).
        if (!ProcessWait.ForExitAndOutput(_process, ProcessWait.OutputGrace))
        {
            throw new TimeoutException(
                $"the program exited ({_process.ExitCode}) but its output did not end within {ProcessWait.OutputGrace.TotalSeconds} s: " +
                $"a process it started still holds the pipe\n{Transcript}");
        }

        return _process.ExitCode;
    }

    /// <summary>Whether the program exits within <paramref name="timeout"/> (it is left running if not).</summary>
    public bool ExitsWithin(TimeSpan timeout) => _process.WaitForExit(timeout);

    /// <summary>
    /// Whether the program has mapped the file <paramref name="path"/> (as its own mount namespace names it), from
    /// <c>/proc/PID/maps</c>: a C program has run <c>imc_api_init</c> once it maps the cluster's control file.
    /// </summary>
    public bool HasMapped(string path)
    {
        try
        {
            return File.ReadAllText($"/proc/{_process.Id}/maps").Contains(path, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false; // gone
        }
    }

    /// <summary>SIGKILL, and wait until the process is gone.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        // Gone, and its output read to the end (as far as it ends: a process it started may still hold the pipe).
        _ = ProcessWait.ForExitAndOutput(_process, TimeSpan.FromSeconds(10));
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            Kill();
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        if (_unread.IsAddingCompleted)
        {
            _unread.Dispose(); // only once the output handler can add nothing more
        }
    }
}
