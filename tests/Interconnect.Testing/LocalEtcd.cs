using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NUnit.Framework;

namespace Interconnect.Testing;

/// <summary>
/// One etcd member of its own for a test, on loopback ports picked free, its data in a fresh temporary folder. Disposing
/// it kills etcd and removes the folder. Where /usr/bin/etcd is missing the test is skipped saying so, never passed.
/// </summary>
public sealed class LocalEtcd : IDisposable
{
    private const string Program = "/usr/bin/etcd";
    // etcd 3.4 with zap says so once it has a leader and serves; "securely" or "insecurely" follows.
    private const string ReadyLine = "serving client traffic";
    private const int LogLines = 60;
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly DirectoryInfo _data;
    private readonly Queue<string> _log = new();
    private bool _started;

    private LocalEtcd(Process process, DirectoryInfo data, string clientUrl)
    {
        _process = process;
        _data = data;
        ClientUrl = clientUrl;
    }

    /// <summary>etcd's client URL, <c>http://127.0.0.1:PORT</c> (<c>https://</c> with certificates).</summary>
    public string ClientUrl { get; }

    /// <summary>The port of <see cref="ClientUrl"/>.</summary>
    public int ClientPort => new Uri(ClientUrl).Port;

    /// <summary>
    /// Starts etcd and returns once it serves clients; fails with its log when it does not within a minute. With
    /// <paramref name="tls"/> (made for 127.0.0.1) it serves https:// only to clients with a certificate of its CA.
    /// </summary>
    public static LocalEtcd Start(Interconnect.Machines.EtcdCertificates? tls = null)
    {
        if (!File.Exists(Program))
        {
            Assert.Ignore($"{Program} is not installed here (Debian's etcd-server package provides it)");
        }

        var data = System.IO.Directory.CreateTempSubdirectory("imc-etcd-");
        var clientUrl = $"{(tls is null ? "http" : "https")}://127.0.0.1:{FreePort()}";
        var peerUrl = $"http://127.0.0.1:{FreePort()}";
        var info = new ProcessStartInfo(Program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] arguments =
        [
            "--name", "test",
            "--data-dir", data.FullName,
            "--listen-client-urls", clientUrl,
            "--advertise-client-urls", clientUrl,
            "--listen-peer-urls", peerUrl,
            "--initial-advertise-peer-urls", peerUrl,
            "--initial-cluster", $"test={peerUrl}",
            // One member: the election timeout only delays its first leadership.
            "--heartbeat-interval=10", "--election-timeout=100",
            "--logger=zap", "--log-outputs=stderr",
            .. tls?.EtcdArguments ?? [],
        ];
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // The machine's environment must not steer the test's etcd (ETCD_* sets any flag).
        foreach (var name in info.Environment.Keys.Where(key => key.StartsWith("ETCD_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        var process = new Process { StartInfo = info };
        var etcd = new LocalEtcd(process, data, clientUrl);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }

            lock (etcd._log)
            {
                etcd._log.Enqueue(e.Data);
                while (etcd._log.Count > LogLines)
                {
                    etcd._log.Dequeue();
                }
            }

            if (e.Data.Contains(ReadyLine, StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        }

        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        try
        {
            process.Start();
            etcd._started = true;
            process.StandardInput.Close();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var clock = Stopwatch.StartNew();
            while (!ready.Task.Wait(20))
            {
                if (process.HasExited || clock.Elapsed > s_deadline)
                {
                    var why = process.HasExited
                        ? $"etcd exited with {process.ExitCode} before it served clients"
                        : $"etcd did not serve clients within {s_deadline.TotalSeconds} s";
                    throw new InvalidOperationException($"{why} (on {clientUrl}, data in {data.FullName}); its log ends:\n{etcd.LogTail}");
                }
            }
        }
        catch
        {
            etcd.Dispose();
            throw;
        }

        return etcd;
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

    public void Dispose()
    {
        try
        {
            if (_started)
            {
                _process.Kill(); // nothing if it has exited already
                if (!_process.WaitForExit(s_deadline))
                {
                    throw new InvalidOperationException(
                        $"etcd (pid {_process.Id}, on {ClientUrl}) did not exit within {s_deadline.TotalSeconds} s of SIGKILL");
                }
            }
        }
        finally
        {
            _process.Dispose();
            _data.Delete(recursive: true);
        }
    }

    /// <summary>
    /// A loopback port free now: bound and released at once. Another process could take it before etcd binds it; then
    /// etcd exits saying so, and the start fails with its log.
    /// </summary>
    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
