using System.Collections.Concurrent;
using System.Diagnostics;
using Interconnect.Machines;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests.AcrossMachines;

/// <summary>
/// A cluster across simulated machines, as a user would run one: etcd on the bridge, one <c>imcd</c> per machine,
/// and test peers (imc-test-peer) on hosts of those machines with <c>IMC_DIRECTORY</c> set. Everything started here
/// stops at <see cref="Dispose"/>, and the machines go with nothing left behind.
/// </summary>
public sealed class ImcMachines : IDisposable
{
    public const string ClusterName = "xm";
    private static readonly TimeSpan s_ready = TimeSpan.FromSeconds(60);
    private readonly List<PeerProcess> _peers = [];
    private readonly Dictionary<string, Agent> _agents = [];

    private readonly string _progress;

    private ImcMachines(SimulatedCluster cluster, string progress)
    {
        Cluster = cluster;
        _progress = progress;
    }

    public SimulatedCluster Cluster { get; }

    public SimulatedMachine this[int index] => Cluster.Machines[index];

    public static string ImcdPath => Path.Combine(AppContext.BaseDirectory, "imcd.dll");

    /// <summary>
    /// <c>IMC_TEST_ETCD_TLS=1</c>: every cluster of these tests runs against an etcd that requires client certificates,
    /// to run a whole suite that way (<c>IMC_TEST_ETCD_TLS=1 dotnet test --filter ...</c>).
    /// </summary>
    public static bool EtcdTlsRequested => System.Environment.GetEnvironmentVariable("IMC_TEST_ETCD_TLS") == "1";

    /// <summary>
    /// Makes <paramref name="machines"/> machines with an imcd each, or skips the test saying why it cannot.
    /// <paramref name="progress"/> is imcd's <c>--progress</c>: "wait" (the tests' default: it sleeps between events)
    /// or "spin" (imcd's own default). Agents spinning on every machine would share this box's two cores with the
    /// test's peers and turn every delivery into a wait for a time slice. With <paramref name="etcdTls"/>, etcd
    /// requires client certificates, with etcd's auth on: the machines' certificate names a user granted this cluster's
    /// role alone, and every machine's environment gives the certificate through <c>IMC_ETCD_*</c>.
    /// </summary>
    public static ImcMachines Start(int machines, string progress = "wait", int leaseSeconds = 3, bool etcdTls = false)
    {
        UcxLibraries.Require(); // imcd's data path: without it every imcd would die at start
        var cluster = SimulatedMachines.Create(machines, etcdTls: etcdTls || EtcdTlsRequested);
        var imc = new ImcMachines(cluster, progress);
        try
        {
            if (cluster.EtcdTls is not null)
            {
                cluster.GrantCluster(EtcdCertificates.ClientUser, ClusterName);
            }

            foreach (var machine in cluster.Machines)
            {
                imc.StartAgent(machine, leaseSeconds);
            }

            return imc;
        }
        catch
        {
            imc.Dispose();
            throw;
        }
    }

    /// <summary>The environment of an Imc process on a machine (on top of the machine's own): on <paramref name="host"/>, or for imcd.</summary>
    public static Dictionary<string, string?> Environment(string? host = null) => new()
    {
        ["IMC_ROOT"] = "/dev/shm/imc",
        ["IMC_CLUSTER"] = ClusterName,
        ["IMC_HOST"] = host,
        ["IMC_AUTO_INIT"] = host is null ? null : "1",
        ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
    };

    /// <summary>Brings <paramref name="host"/> up on <paramref name="machine"/> as an operator would: <c>imc_init --host</c>.</summary>
    public static void InitHost(SimulatedMachine machine, string host)
    {
        var init = machine.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imc_init.dll"), "--host", host],
            TimeSpan.FromSeconds(60), Environment());
        Assert.That(init.ExitCode, Is.Zero, init.Stdout + init.Stderr);
    }

    /// <summary>
    /// Starts imcd on <paramref name="machine"/> with this cluster's progress mode (and <paramref name="options"/>) and
    /// waits for its "imcd: ready" line.
    /// </summary>
    public void StartAgent(SimulatedMachine machine, int leaseSeconds = 3, params string[] options)
    {
        var process = machine.Start("dotnet",
            [ImcdPath, "--lease", leaseSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "--progress", _progress, .. options],
            Environment());
        var agent = new Agent(process);
        _agents[machine.Name] = agent;
        if (!agent.WaitReady(s_ready))
        {
            throw new InvalidOperationException($"imcd on {machine} did not get ready within {s_ready.TotalSeconds} s: {agent.Output}");
        }
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to the imcd of <paramref name="machine"/> (SIGSTOP, SIGCONT: a stall). A SIGSTOP
    /// returns once every thread of it has stopped: until then imcd still answers (<see cref="Signals.IsStopped"/>).
    /// </summary>
    public void SignalAgent(SimulatedMachine machine, int signal)
    {
        var pid = _agents[machine.Name].Process.Id;
        Signals.Send(pid, signal);
        if (signal == Signals.Stop)
        {
            Poll.Until(() => Signals.IsStopped(pid), $"imcd on {machine} to stop", TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>Whether the imcd of <paramref name="machine"/> is still running (it did not crash).</summary>
    public bool AgentRunning(SimulatedMachine machine) => !_agents[machine.Name].Process.HasExited;

    /// <summary>The pid of the imcd of <paramref name="machine"/>.</summary>
    public int AgentPid(SimulatedMachine machine) => _agents[machine.Name].Process.Id;

    /// <summary>
    /// The socket of the imcd of <paramref name="machine"/> as the tests' own process reaches it: through that
    /// process's root (<c>/proc/PID/root</c>), since its <c>/dev/shm</c> is the machine's own.
    /// </summary>
    public string AgentSocket(SimulatedMachine machine) => $"/proc/{AgentPid(machine)}/root/dev/shm/imc/{ClusterName}/imcd.sock";

    /// <summary>SIGKILLs the imcd of <paramref name="machine"/>: the machine's lease then expires.</summary>
    public void KillAgent(SimulatedMachine machine) => _agents[machine.Name].Process.Kill();

    /// <summary>SIGTERMs the imcd of <paramref name="machine"/> and returns its exit code and output.</summary>
    public (int ExitCode, string Output) StopAgent(SimulatedMachine machine)
    {
        var agent = _agents[machine.Name];
        Signals.Send(agent.Process.Id, Signals.SigTerm);
        if (!agent.Process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            agent.Process.Kill();
            throw new TimeoutException($"imcd on {machine} did not leave within 30 s of SIGTERM: {agent.Output}");
        }

        // Exited; its output ends once nothing it started holds the pipes (waited for, with a deadline).
        if (!ProcessWait.ForExitAndOutput(agent.Process, ProcessWait.OutputGrace))
        {
            throw new TimeoutException($"imcd on {machine} exited but its output did not end within {ProcessWait.OutputGrace.TotalSeconds} s: {agent.Output}");
        }

        return (agent.Process.ExitCode, agent.Output);
    }

    /// <summary>
    /// A test peer on host <paramref name="host"/> of <paramref name="machine"/>, its context open; as
    /// <paramref name="user"/> when given (setpriv: the test needs [Category(DotnetProcess.AsAnotherUser)]), with
    /// <paramref name="environment"/> on top of the machine's; not opened when <paramref name="open"/> is false.
    /// </summary>
    public PeerProcess Peer(SimulatedMachine machine, string host, string? user = null, IDictionary<string, string?>? environment = null,
        bool open = true)
    {
        var start = DotnetProcess.StartInfo(PeerProcess.PeerPath, user);
        var variables = Environment(host);
        foreach (var name in new[] { "HOME", "DOTNET_CLI_HOME" })
        {
            if (start.Environment.TryGetValue(name, out var value))
            {
                variables[name] = value;
            }
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            variables[name] = value;
        }

        var process = machine.Start(start.FileName, start.ArgumentList, variables);
        var peer = PeerProcess.Adopt(process, host);
        _peers.Add(peer);
        if (open)
        {
            peer.Send("open");
        }

        return peer;
    }

    /// <summary>
    /// A test peer on <paramref name="machine"/> that opens no context: it never asks imcd for anything, so it holds no
    /// registration and no cluster key (a stranger that merely reaches the machines' network and etcd).
    /// </summary>
    public PeerProcess Stranger(SimulatedMachine machine)
    {
        var start = DotnetProcess.StartInfo(PeerProcess.PeerPath, null);
        var variables = Environment();
        foreach (var name in new[] { "HOME", "DOTNET_CLI_HOME" })
        {
            if (start.Environment.TryGetValue(name, out var value))
            {
                variables[name] = value;
            }
        }

        var peer = PeerProcess.Adopt(machine.Start(start.FileName, start.ArgumentList, variables), "stranger");
        _peers.Add(peer);
        return peer;
    }

    /// <summary>The error count of logical rail 0 as <paramref name="peer"/> reads it now: McError (-24) inside its error window.</summary>
    public static int ErrorCount(PeerProcess peer) =>
        int.Parse(peer.Send("error-count 0"), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The error count of logical rail 0 as <paramref name="peer"/> reads it once its error window has passed.</summary>
    public static int SettledErrorCount(PeerProcess peer) => Poll.Until(() => ErrorCount(peer), count => count >= 0,
        $"{peer.Host}'s error count to settle after its error window", TimeSpan.FromSeconds(30));

    /// <summary>What every imcd printed so far (its warnings say why a pass failed).</summary>
    public string AgentOutput() => string.Join("\n", _agents.Select(a => $"{a.Key}: {a.Value.Output}"));

    public void Dispose()
    {
        foreach (var peer in _peers)
        {
            peer.Dispose();
        }

        foreach (var agent in _agents.Values)
        {
            if (!agent.Process.HasExited)
            {
                Signals.Send(agent.Process.Id, Signals.SigTerm);
                _ = agent.Process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }

        Cluster.Dispose();
    }

    /// <summary>One imcd: its output read as it comes, so it never blocks on a full pipe.</summary>
    private sealed class Agent
    {
        private readonly ConcurrentQueue<string> _lines = new();
        private readonly ManualResetEventSlim _ready = new();

        public Agent(Process process)
        {
            Process = process;
            process.OutputDataReceived += (_, e) => Take(e.Data);
            process.ErrorDataReceived += (_, e) => Take(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public string Output => string.Join(" | ", _lines);

        public bool WaitReady(TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < timeout)
            {
                if (_ready.Wait(100))
                {
                    return true;
                }

                if (Process.HasExited)
                {
                    return false;
                }
            }

            return false;
        }

        private void Take(string? line)
        {
            if (line is null)
            {
                return;
            }

            _lines.Enqueue(line);
            if (line.StartsWith("imcd: ready", StringComparison.Ordinal))
            {
                _ready.Set();
            }
        }
    }
}
