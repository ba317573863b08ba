using System.Diagnostics;

namespace Interconnect.Machines;

/// <summary>
/// One simulated machine: a network namespace with one veth link into the cluster's bridge, and a mount namespace of
/// its own with a private tmpfs on <c>/dev/shm</c> and a sysfs that shows its own network devices (UCX lists
/// devices from <c>/sys/class/net</c>). The rest of the file system is the host's, so built programs run as they are.
/// Processes enter it with nsenter and keep their pid (there is no pid namespace).
/// </summary>
public sealed class SimulatedMachine
{
    private readonly SimulatedCluster _cluster;

    internal SimulatedMachine(SimulatedCluster cluster, string name, string address, string networkNamespace,
        string mountNamespaceFile, string device, IReadOnlyDictionary<string, string> environment)
    {
        _cluster = cluster;
        Name = name;
        Address = address;
        NetworkNamespace = networkNamespace;
        MountNamespaceFile = mountNamespaceFile;
        Device = device;
        Environment = environment;
    }

    /// <summary>The machine's name in the cluster (<c>m1</c>, <c>m2</c>, ...), also its <c>IMC_MACHINE</c>.</summary>
    public string Name { get; }

    /// <summary>The address of its veth link, on the bridge's /24.</summary>
    public string Address { get; }

    /// <summary>The name of its network namespace (<c>ip netns</c>, <c>/run/netns/NAME</c>).</summary>
    public string NetworkNamespace { get; }

    /// <summary>The file its mount namespace is bound to (<c>nsenter --mount=FILE</c>).</summary>
    public string MountNamespaceFile { get; }

    /// <summary>The name of the veth link inside the machine, for <c>UCX_NET_DEVICES</c>.</summary>
    public string Device { get; }

    /// <summary>
    /// What a process on this machine needs to take part: <c>UCX_TLS=tcp</c> (else UCX finds the other "machines"
    /// through shared memory on the one kernel), <c>UCX_NET_DEVICES</c>, <c>IMC_DIRECTORY</c>, <c>IMC_MACHINE</c>.
    /// </summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    /// <summary>
    /// Starts a process on this machine with its stdio redirected and <see cref="Environment"/> set, then
    /// <paramref name="environment"/> on top (null removes a variable). The cluster kills it when disposed.
    /// </summary>
    public Process Start(string fileName, IEnumerable<string> arguments, IDictionary<string, string?>? environment = null) =>
        _cluster.Start(this, fileName, arguments, environment);

    /// <summary>Runs a process on this machine to its end; throws <see cref="TimeoutException"/> (after killing it) at the deadline.</summary>
    public (int ExitCode, string Stdout, string Stderr) Run(string fileName, IEnumerable<string> arguments, TimeSpan timeout,
        IDictionary<string, string?>? environment = null)
    {
        var process = Start(fileName, arguments, environment);
        try
        {
            var result = HostCommand.Collect(process, $"{fileName} on {Name}", timeout);
            return (result.ExitCode, result.Stdout, result.Stderr);
        }
        finally
        {
            _cluster.Forget(process);
            process.Dispose();
        }
    }

    /// <summary>
    /// The bytes its link (<see cref="Device"/>) has received and sent so far, as the kernel counts them inside the
    /// machine (<c>/sys/class/net/DEVICE/statistics</c> of its own sysfs): what really crossed between machines.
    /// </summary>
    public (long Received, long Transmitted) LinkBytes()
    {
        var statistics = $"/sys/class/net/{Device}/statistics";
        var read = Run("cat", [$"{statistics}/rx_bytes", $"{statistics}/tx_bytes"], TimeSpan.FromSeconds(30));
        var lines = read.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (read.ExitCode != 0 || lines.Length != 2)
        {
            throw new InvalidOperationException($"could not read the link counters of {this}: {read.Stdout}{read.Stderr}");
        }

        return (long.Parse(lines[0], System.Globalization.CultureInfo.InvariantCulture),
            long.Parse(lines[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    public override string ToString() => $"{Name} ({Address})";
}
