using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Interconnect.Machines;

/// <summary>
/// Machines simulated on one box, joined by a network, with etcd on it: what the across-machines tests and the
/// benchmark run the product on.
/// </summary>
/// <remarks>
/// <para>
/// Layout, all of it named after an <see cref="OwnerTag"/> (<c>imcm-PID-START-SEQ</c>) so that it can be found again:
/// a "hub" network namespace holds the bridge (<c>br0</c>, 10.231.X.1/24) and etcd; each machine is a network namespace
/// with a veth link (<c>imc0</c>, 10.231.X.(10+i)) whose other end is on the bridge, and a persistent mount namespace
/// (a file in the cluster's folder) with its own tmpfs on <c>/dev/shm</c>. Nothing is made in the root network
/// namespace: the links are created directly inside the hub and the machines, and the addresses exist only there.
/// </para>
/// <para>
/// The mount namespace files live in a folder bind-mounted on itself and made private: a namespace file cannot be
/// mounted where the mount would propagate. A new mount namespace copies every mount, including the shared
/// <c>/run/netns</c> (<c>ip netns add</c> makes it a shared bind mount and mounts each namespace file there); a private
/// copy would keep every network namespace named then (other clusters' and other users' too) alive until the machine
/// goes, so each machine unmounts its copies of network namespace files at once.
/// </para>
/// <para>
/// <see cref="Dispose"/> kills every process found in the cluster's namespaces, unmounts, deletes the namespaces and
/// the folder, then checks that nothing is left. A cluster not disposed is disposed when the process exits normally
/// (<see cref="AppDomain.ProcessExit"/>) or ends on SIGTERM, SIGINT or SIGHUP; what an owner killed outright leaves is removed by
/// <see cref="Sweep"/>, which every <see cref="Create"/> runs first.
/// </para>
/// </remarks>
public sealed class SimulatedCluster : IDisposable
{
    private const string MachineDevice = "imc0";
    private const string Bridge = "br0";
    private const int MaxMachines = 200;
    private static readonly List<SimulatedCluster> s_live = [];
    // Kept for the life of the process: a registration that is collected stops handling its signal.
    private static readonly PosixSignalRegistration[] s_signals;
    private readonly object _lock = new();
    private readonly OwnerTag _tag;
    private readonly TimeSpan _deadline;
    private readonly string _subnet;
    private readonly List<SimulatedMachine> _machines = [];
    private readonly List<Process> _started = [];
    private readonly EtcdServer _etcd;
    private bool _disposed;

    static SimulatedCluster()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => DisposeAll();
        // .NET raises ProcessExit on a normal exit only: SIGTERM (a test runner stopping its host), SIGINT (Ctrl+C)
        // and SIGHUP end the process without it. Clean up, then let the signal end the process as it would have.
        s_signals = [.. new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGHUP }
            .Select(signal => PosixSignalRegistration.Create(signal, _ => DisposeAll()))];
    }

    private SimulatedCluster(OwnerTag tag, TimeSpan deadline)
    {
        _tag = tag;
        _deadline = deadline;
        // The third octet only tells clusters apart in a packet trace: the addresses live in the cluster's own
        // namespaces, where nothing else can collide with them.
        _subnet = string.Create(CultureInfo.InvariantCulture, $"10.231.{((tag.Pid + tag.Sequence) % 250) + 1}");
        _etcd = new EtcdServer(HubNamespace, BridgeAddress, Path.Combine(tag.Folder, "etcd"), tag.Name);
    }

    /// <summary>The machines, in the order they were made.</summary>
    public IReadOnlyList<SimulatedMachine> Machines
    {
        get
        {
            lock (_lock)
            {
                return [.. _machines];
            }
        }
    }

    /// <summary>etcd's client URL on the bridge: reachable from inside the machines (and the hub) only.</summary>
    public string EtcdEndpoints => _etcd.ClientUrl;

    /// <summary>etcd's metrics, over plain HTTP (also when clients need TLS).</summary>
    public string EtcdMetricsUrl => _etcd.MetricsUrl;

    /// <summary>
    /// The certificates etcd serves with and requires of its clients when the cluster was made with TLS
    /// (<see cref="Create"/>), else null. Every machine's <see cref="SimulatedMachine.Environment"/> gives its client
    /// files (<c>IMC_ETCD_*</c>).
    /// </summary>
    public EtcdCertificates? EtcdTls => _etcd.Tls;

    /// <summary>The name of the hub's network namespace (bridge and etcd).</summary>
    public string HubNamespace => _tag.NetworkNamespace("hub");

    /// <summary>The cluster's folder (mount namespace files, etcd's data); removed by <see cref="Dispose"/>.</summary>
    public string Folder => _tag.Folder;

    /// <summary>The prefix of every name the cluster made (namespaces, folder).</summary>
    public string Tag => _tag.Name;

    private string BridgeAddress => _subnet + ".1";

    /// <summary>
    /// Makes <paramref name="machines"/> machines and starts etcd, within <paramref name="deadline"/> (also the deadline
    /// of <see cref="Dispose"/> and of each etcd start and stop). Throws <see cref="MachinesUnavailableException"/> with
    /// the reason when namespaces cannot be made here; any other failure removes what was made and throws. With
    /// <paramref name="etcdTls"/>, etcd serves https:// and requires client certificates (<see cref="EtcdTls"/>, made in
    /// the cluster's folder), and every machine's environment gives them.
    /// </summary>
    public static SimulatedCluster Create(int machines, TimeSpan deadline, bool etcdTls = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(machines);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(machines, MaxMachines);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(deadline, TimeSpan.Zero);
        EnsureAvailable();
        Sweep();

        var clock = Stopwatch.StartNew();
        var cluster = new SimulatedCluster(OwnerTag.ForThisProcess(), deadline);
        lock (s_live)
        {
            s_live.Add(cluster);
        }

        try
        {
            cluster.MakeHub(deadline - clock.Elapsed);
            if (etcdTls)
            {
                cluster._etcd.Tls = EtcdCertificates.Make(cluster.BridgeAddress, parent: cluster.Folder);
            }

            for (var i = 0; i < machines; i++)
            {
                cluster.AddMachine(deadline - clock.Elapsed);
            }

            cluster._etcd.Start(Remaining(deadline - clock.Elapsed));
            if (etcdTls)
            {
                // As API.md has an operator run it: etcd's auth on, so a certificate's common name is a user whose
                // roles bound what it may touch (GrantCluster gives the machines' their cluster).
                cluster._etcd.Administer(["user", "add", "root", "--no-password"], Remaining(deadline - clock.Elapsed));
                cluster._etcd.Administer(["auth", "enable"], Remaining(deadline - clock.Elapsed));
            }

            return cluster;
        }
        catch (Exception failure)
        {
            try
            {
                cluster.Dispose();
            }
            catch (InvalidOperationException leftover)
            {
                throw new AggregateException(failure, leftover);
            }

            throw;
        }
    }

    /// <summary>
    /// Removes what clusters of owners that are gone (killed before they could dispose) left behind: their processes,
    /// mounts, namespaces and folders. Returns the tags it removed; throws when something could not be removed.
    /// </summary>
    public static IReadOnlyList<string> Sweep()
    {
        var tags = new HashSet<OwnerTag>();
        if (Directory.Exists(OwnerTag.BaseFolder))
        {
            tags.UnionWith(Directory.EnumerateDirectories(OwnerTag.BaseFolder).Select(Path.GetFileName).Select(name => OwnerTag.Parse(name!)).OfType<OwnerTag>());
        }

        if (Directory.Exists(OwnerTag.NetnsFolder))
        {
            tags.UnionWith(Directory.EnumerateFileSystemEntries(OwnerTag.NetnsFolder).Select(Path.GetFileName).Select(name => OwnerTag.Parse(name!)).OfType<OwnerTag>());
        }

        var failures = new List<string>();
        var swept = new List<string>();
        foreach (var tag in tags.Where(tag => !tag.IsOwnerAlive))
        {
            var left = Teardown.Remove(tag, TimeSpan.FromSeconds(30));
            swept.Add(tag.Name);
            failures.AddRange(left);
        }

        if (failures.Count > 0)
        {
            throw new InvalidOperationException(
                $"could not remove what dead owners of simulated machines left: {string.Join("; ", failures)}");
        }

        return swept;
    }

    /// <summary>
    /// With TLS: gives the etcd user <paramref name="user"/> (a client certificate's common name) the role of
    /// <paramref name="cluster"/>, made if new: read and write on <c>/imc/{cluster}/</c> and nothing else, as
    /// docs/across-machines.md has an operator do for each machine.
    /// </summary>
    public void GrantCluster(string user, string cluster)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var role = $"imc-{cluster}";
            if (!_etcd.Administer(["role", "list"], _deadline).Split('\n').Contains(role))
            {
                _etcd.Administer(["role", "add", role], _deadline);
                _etcd.Administer(["role", "grant-permission", role, "--prefix=true", "readwrite", $"/imc/{cluster}/"], _deadline);
            }

            if (!_etcd.Administer(["user", "list"], _deadline).Split('\n').Contains(user))
            {
                _etcd.Administer(["user", "add", user, "--no-password"], _deadline);
            }

            _etcd.Administer(["user", "grant-role", user, role], _deadline);
        }
    }

    /// <summary>Adds a machine (a late joiner), with the next name.</summary>
    public SimulatedMachine AddMachine() => AddMachine(_deadline);

    /// <summary>Stops etcd (SIGTERM, then SIGKILL at the deadline); its data stays for <see cref="StartEtcd"/>.</summary>
    public void StopEtcd()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _etcd.Stop(_deadline);
        }
    }

    /// <summary>Starts etcd again on the same data and address, and returns once it serves clients.</summary>
    public void StartEtcd()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _etcd.Start(_deadline);
        }
    }

    /// <summary>
    /// Kills every process started in a machine and any other process found in the cluster's namespaces, stops etcd,
    /// unmounts, deletes the namespaces and the folder; then throws if anything of it is still there. Idempotent.
    /// </summary>
    public void Dispose()
    {
        List<Process> started;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            started = [.. _started];
            _started.Clear();
        }

        lock (s_live)
        {
            s_live.Remove(this);
        }

        _etcd.Kill();
        foreach (var process in started)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It had already exited.
            }
        }

        var left = Teardown.Remove(_tag, _deadline);
        if (left.Count > 0)
        {
            throw new InvalidOperationException($"simulated cluster {_tag.Name} left behind: {string.Join("; ", left)}");
        }
    }

    internal Process Start(SimulatedMachine machine, string fileName, IEnumerable<string> arguments,
        IDictionary<string, string?>? environment)
    {
        var info = new ProcessStartInfo("nsenter")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // nsenter enters both namespaces and then executes the program (no fork): the pid returned is the program's.
        info.ArgumentList.Add($"--net={OwnerTag.NetnsFolder}/{machine.NetworkNamespace}");
        info.ArgumentList.Add($"--mount={machine.MountNamespaceFile}");
        info.ArgumentList.Add($"--wd={System.Environment.CurrentDirectory}");
        info.ArgumentList.Add("--");
        info.ArgumentList.Add(fileName);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in machine.Environment)
        {
            info.Environment[name] = value;
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        lock (_lock)
        {
            // Under the lock: a process is either started before Dispose looks, or not at all.
            ObjectDisposedException.ThrowIf(_disposed, this);
            var process = Process.Start(info) ?? throw new InvalidOperationException($"nsenter did not start {fileName}");
            _started.Add(process);
            return process;
        }
    }

    /// <summary>A process that ended need not be killed at Dispose.</summary>
    internal void Forget(Process process)
    {
        lock (_lock)
        {
            _started.Remove(process);
        }
    }

    private static void DisposeAll()
    {
        SimulatedCluster[] live;
        lock (s_live)
        {
            live = [.. s_live];
        }

        foreach (var cluster in live)
        {
            try
            {
                cluster.Dispose();
            }
            catch (Exception exception) when (exception is InvalidOperationException or IOException or TimeoutException)
            {
                // Best effort while the process exits: whatever is left is a dead owner's, for the next Sweep.
                Console.Error.WriteLine(exception.Message);
            }
        }
    }

    private static void EnsureAvailable()
    {
        if (!System.Environment.IsPrivilegedProcess)
        {
            throw new MachinesUnavailableException(
                "simulated machines need root (they make network and mount namespaces); this process is not root");
        }

        (string Command, string Package)[] tools =
        [
            ("ip", "iproute2"), ("nsenter", "util-linux"), ("unshare", "util-linux"), ("findmnt", "util-linux"),
            ("mount", "mount"), ("umount", "mount"), ("etcd", "etcd-server"),
        ];
        foreach (var (command, package) in tools)
        {
            if (!HostCommand.IsOnPath(command))
            {
                throw new MachinesUnavailableException(
                    $"simulated machines need '{command}', which is not on PATH (Debian package {package})");
            }
        }
    }

    private static TimeSpan Remaining(TimeSpan left) =>
        left > TimeSpan.Zero ? left : throw new TimeoutException("the simulated cluster was not up within its deadline");

    private void MakeHub(TimeSpan timeout)
    {
        var folder = _tag.MountNamespaceFolder;
        try
        {
            // The first namespace commands: where they are refused, simulated machines cannot be made here at all.
            _ = HostCommand.Script(
                $"""
                mkdir -p {folder}
                mount --bind {folder} {folder}
                mount --make-private {folder}
                ip netns add {HubNamespace}
                """, Remaining(timeout));
        }
        catch (InvalidOperationException exception)
        {
            throw new MachinesUnavailableException($"cannot make namespaces here: {exception.Message}", exception);
        }

        _ = HostCommand.Script(
            $"""
            ip -n {HubNamespace} link set lo up
            ip -n {HubNamespace} link add {Bridge} type bridge
            ip -n {HubNamespace} addr add {BridgeAddress}/24 dev {Bridge}
            ip -n {HubNamespace} link set {Bridge} up
            """, Remaining(timeout));
    }

    private SimulatedMachine AddMachine(TimeSpan timeout)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var index = _machines.Count + 1;
            if (index > MaxMachines)
            {
                throw new InvalidOperationException($"a simulated cluster has at most {MaxMachines} machines");
            }

            var name = string.Create(CultureInfo.InvariantCulture, $"m{index}");
            var address = string.Create(CultureInfo.InvariantCulture, $"{_subnet}.{10 + index}");
            var netns = _tag.NetworkNamespace(name);
            var mountFile = _tag.MountNamespaceFile(name);
            // Inside the new mount namespace (entered from the machine's network namespace, so that a fresh sysfs
            // shows the machine's devices, as "ip netns exec" does): its own /dev/shm, and no copies of network
            // namespace files (see the remarks on the type).
            const string Inside = """
                umount --lazy /sys
                mount -t sysfs sysfs /sys
                mount -t tmpfs -o mode=1777 tmpfs /dev/shm
                findmnt -rn -t nsfs -o TARGET | while read -r target; do umount --lazy "$target"; done
                """;
            _ = HostCommand.Script(
                $"""
                ip netns add {netns}
                ip -n {HubNamespace} link add v-{name} type veth peer name {MachineDevice} netns {netns}
                ip -n {HubNamespace} link set v-{name} master {Bridge} up
                ip -n {netns} link set lo up
                ip -n {netns} addr add {address}/24 dev {MachineDevice}
                ip -n {netns} link set {MachineDevice} up
                touch {mountFile}
                nsenter --net={OwnerTag.NetnsFolder}/{netns} -- unshare --mount={mountFile} --propagation private -- sh -ec '{Inside}'
                """, Remaining(timeout));
            var environment = new Dictionary<string, string>
            {
                ["UCX_TLS"] = "tcp",
                ["UCX_NET_DEVICES"] = MachineDevice,
                ["IMC_DIRECTORY"] = EtcdEndpoints,
                ["IMC_MACHINE"] = name,
            };
            foreach (var (variable, file) in _etcd.Tls?.Environment ?? new Dictionary<string, string>())
            {
                environment[variable] = file;
            }

            var machine = new SimulatedMachine(this, name, address, netns, mountFile, MachineDevice, environment);
            _machines.Add(machine);
            return machine;
        }
    }
}
