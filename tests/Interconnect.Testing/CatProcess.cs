using System.Collections.Concurrent;
using System.Diagnostics;
using Interconnect.Machines;

namespace Interconnect.Testing;

/// <summary>
/// imccat running as a child process on one emulated host, its standard input and output as raw byte streams (or its
/// output appended to a file, through the shell), its standard error collected line by line. Every wait has a
/// deadline; disposing kills it if it still runs. <see cref="Start(string, string, string[])"/> runs it in a cluster
/// on this machine; <see cref="Adopt"/> takes one started elsewhere (on a simulated machine, through nsenter).
/// </summary>
public sealed class CatProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly string _name;

    private CatProcess(Process process, string name)
    {
        _process = process;
        _name = name;
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _errors.Enqueue(e.Data);
            }
        };
        _process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;

    public Stream Input => _process.StandardInput.BaseStream;

    public Stream Output => _process.StandardOutput.BaseStream;

    public IReadOnlyList<string> ErrorLines => [.. _errors];

    public string Transcript => $"--- {_name} (pid {_process.Id}) stderr:\n{string.Join('\n', _errors)}";

    /// <summary>The path of imccat.dll beside the tests (a test project that runs imccat references its project).</summary>
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "imccat.dll");

    /// <summary>
    /// Takes over <paramref name="process"/>, an imccat started with its standard input, output and error redirected;
    /// <paramref name="name"/> names it in messages.
    /// </summary>
    public static CatProcess Adopt(Process process, string name) => new(process, name);

    /// <summary>Starts <c>dotnet imccat.dll args</c> as a process of <paramref name="host"/> in the cluster under <paramref name="root"/>.</summary>
    public static CatProcess Start(string root, string host, params string[] args) => Start(root, host, null, args);

    /// <summary>As <see cref="Start(string, string, string[])"/>, with standard output appended to a file (<c>&gt;&gt; file</c>).</summary>
    public static CatProcess StartAppending(string root, string host, string file, params string[] args) => Start(root, host, file, args);

    private static CatProcess Start(string root, string host, string? appendTo, string[] args)
    {
        var dll = Dll;
        var info = DotnetProcess.StartInfo(dll);
        if (appendTo is not null)
        {
            // The shell opens the file for append and then becomes dotnet (exec): the pid killed is imccat's.
            info.FileName = "sh";
            info.ArgumentList.Clear();
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add("exec dotnet \"$0\" \"$@\" >> \"$IMCCAT_TEST_OUTPUT\"");
            info.ArgumentList.Add(dll);
            info.Environment["IMCCAT_TEST_OUTPUT"] = appendTo;
            info.RedirectStandardOutput = false;
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["IMC_ROOT"] = root;
        info.Environment["IMC_CLUSTER"] = TemporaryCluster.ClusterName;
        info.Environment["IMC_HOST"] = host;
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start imccat");
        return new CatProcess(process, $"imccat {string.Join(' ', args)} on host {host}");
    }

    /// <summary>Waits for the exit and returns the exit code; kills it and throws when it does not exit in time.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            Kill();
            throw new TimeoutException($"{_name} did not exit within {timeout.TotalSeconds} s\n{Transcript}");
        }

        // It has exited; its standard error ends once no process it started holds the pipe (waited for, with a deadline).
        if (!ProcessWait.ForExitAndOutput(_process, ProcessWait.OutputGrace))
        {
            throw new TimeoutException(
                $"{_name} exited ({_process.ExitCode}) but its standard error did not end within {ProcessWait.OutputGrace.TotalSeconds} s\n{Transcript}");
        }

        return _process.ExitCode;
    }

    /// <summary>SIGKILL, and wait until the process is gone.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        try
        {
            Kill();
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }
}
