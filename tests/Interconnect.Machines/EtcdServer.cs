using System.Diagnostics;
using System.Globalization;

namespace Interconnect.Machines;

/// <summary>
/// One etcd member inside the hub namespace, listening for clients on the bridge's address, its data in the
/// cluster's folder (so a stop and a start keep the keys). Its log is kept, the last lines of it, for the messages
/// of a start that fails.
/// </summary>
internal sealed class EtcdServer
{
    private const int LogLines = 60;
    // etcd 3.4 with zap says so once it has a leader and serves (before that it waits for ReadyNotify);
    // "securely" or "insecurely" follows.
    private const string ReadyLine = "serving client traffic";
    private readonly string _hubNamespace;
    private readonly string _address;
    private readonly string _dataDirectory;
    private readonly string _token;
    private readonly Queue<string> _log = new();
    private Process? _process;

    public EtcdServer(string hubNamespace, string address, string dataDirectory, string token)
    {
        _hubNamespace = hubNamespace;
        _address = address;
        _dataDirectory = dataDirectory;
        _token = token;
    }

    /// <summary>
    /// When set (before <see cref="Start"/>): etcd serves https:// with these certificates and requires a client
    /// certificate of their CA (<c>--client-cert-auth</c>).
    /// </summary>
    public EtcdCertificates? Tls { get; set; }

    public string ClientUrl => $"{(Tls is null ? "http" : "https")}://{_address}:2379";

    /// <summary>Where etcd serves its metrics, plain HTTP whether or not clients need TLS.</summary>
    public string MetricsUrl => $"http://{_address}:2381";

    /// <summary>Starts etcd and returns once it serves clients; throws with its log when it does not in time.</summary>
    public void Start(TimeSpan timeout)
    {
        if (_process is { HasExited: false })
        {
            return;
        }

        var info = new ProcessStartInfo("nsenter")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Peers on the hub's loopback: nobody else needs them, and the bridge carries only client traffic.
        string[] arguments =
        [
            $"--net={OwnerTag.NetnsFolder}/{_hubNamespace}", "--", "etcd",
            "--name", "hub",
            "--data-dir", _dataDirectory,
            "--listen-client-urls", ClientUrl,
            "--advertise-client-urls", ClientUrl,
            "--listen-metrics-urls", MetricsUrl,
            "--listen-peer-urls", "http://127.0.0.1:2380",
            "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
            "--initial-cluster", "hub=http://127.0.0.1:2380",
            "--initial-cluster-token", _token,
            // One member: the election timeout only delays its first leadership (about 1 s at the default 1000 ms,
            // 0.15 s at 100), at every start, so at every StartEtcd a test makes; no peer can miss a heartbeat.
            "--heartbeat-interval=10", "--election-timeout=100",
            "--logger=zap", "--log-outputs=stderr",
            .. Tls?.EtcdArguments ?? [],
        ];
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // The machine's environment must not steer the simulated cluster's etcd (ETCD_* sets any flag).
        foreach (var name in info.Environment.Keys.Where(key => key.StartsWith("ETCD_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info };
        void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }

            lock (_log)
            {
                _log.Enqueue(e.Data);
                while (_log.Count > LogLines)
                {
                    _log.Dequeue();
                }
            }

            if (e.Data.Contains(ReadyLine, StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        }

        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        lock (_log)
        {
            _log.Clear();
        }

        process.Start();
        _process = process;
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (!ready.Task.Wait(20))
        {
            if (process.HasExited || clock.Elapsed > timeout)
            {
                var why = process.HasExited
                    ? string.Create(CultureInfo.InvariantCulture, $"etcd exited with {process.ExitCode} before it served clients")
                    : $"etcd did not serve clients within {timeout.TotalSeconds:0.#} s";
                Kill();
                throw new InvalidOperationException($"{why} (on {ClientUrl}, data in {_dataDirectory}); its log ends:\n{LogTail}");
            }
        }
    }

    /// <summary>Stops etcd as a service manager would: SIGTERM, then SIGKILL when it has not ended in time.</summary>
    public void Stop(TimeSpan timeout)
    {
        if (_process is not { } process)
        {
            return;
        }

        if (!process.HasExited)
        {
            Libc.Signal(process.Id, Libc.SigTerm);
            if (!process.WaitForExit(HostCommand.Clamp(timeout)))
            {
                process.Kill();
            }

            _ = ProcessWait.ForExitAndOutput(process, ProcessWait.OutputGrace);
        }

        process.Dispose();
        _process = null;
    }

    /// <summary>Kills etcd at once (the cluster is going away, and its data with it).</summary>
    public void Kill()
    {
        if (_process is not { } process)
        {
            return;
        }

        try
        {
            process.Kill();
            _ = ProcessWait.ForExitAndOutput(process, ProcessWait.OutputGrace);
        }
        catch (InvalidOperationException)
        {
            // It had already exited.
        }

        process.Dispose();
        _process = null;
    }

    /// <summary>
    /// Runs <c>etcdctl</c> in the hub against this etcd as its administrator (with TLS: the root certificate, which is
    /// etcd's root user once auth is enabled); throws with what it printed when it fails.
    /// </summary>
    public string Administer(IEnumerable<string> arguments, TimeSpan timeout)
    {
        string[] command =
        [
            $"--net={OwnerTag.NetnsFolder}/{_hubNamespace}", "--", "etcdctl", "--endpoints", ClientUrl,
            "--dial-timeout=5s", "--command-timeout=10s",
            .. Tls is null ? [] : new[] { "--cacert", Tls.CaFile, "--cert", Tls.RootCertFile, "--key", Tls.RootKeyFile },
            .. arguments,
        ];
        var ran = HostCommand.Run("nsenter", command, timeout, new Dictionary<string, string?> { ["ETCDCTL_API"] = "3" });
        if (ran.ExitCode != 0)
        {
            throw new InvalidOperationException($"etcdctl {string.Join(' ', arguments)} failed ({ran.ExitCode}): {ran.Stdout}{ran.Stderr}");
        }

        return ran.Stdout;
    }

    /// <summary>The last lines etcd printed.</summary>
    public string LogTail
    {
        get
        {
            lock (_log)
            {
                return string.Join('\n', _log);
            }
        }
    }
}
