using Interconnect.Driver.Directory;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// The directory of a cluster on one machine: the memory-mapped control file (the embedded default). Every change is
/// made under the control file's robust directory lock, and entering it first reclaims what dead processes held, so
/// no daemon is needed. Receive memory is made and removed through the cluster's <see cref="IFabric"/>.
/// </summary>
internal sealed partial class ControlFileDirectory : IServedDirectory
{
    private readonly Cluster _cluster;
    private bool _created;

    private ControlFileDirectory(Cluster cluster) => _cluster = cluster;

    public string ClusterName => _cluster.Paths.Cluster;

    public IFabric Fabric => _cluster.Fabric;

    public int LogicalRails => _cluster.Control.Header.LogicalRails;

    /// <summary>The control-file store under the directory, for the driver's tests and repairs.</summary>
    internal Cluster Cluster => _cluster;

    /// <summary>Opens an existing cluster; <see cref="DriverStatus.NotInitialized"/> when there is none.</summary>
    public static ControlFileDirectory Open(ClusterPaths paths, ControlAccess access = ControlAccess.All) =>
        new(Cluster.Open(paths, access));

    /// <summary>
    /// Opens the cluster, creating it first if it does not exist, with the rails and error window given (the defaults
    /// for those left null). An existing cluster must have been created with the values given: rails are fixed at
    /// creation (<see cref="DriverStatus.InitError"/>).
    /// </summary>
    public static ControlFileDirectory OpenOrCreate(ClusterPaths paths, int? physicalRails = null, int? railStyle = null,
        int? errorWindowMs = null)
    {
        var defaults = new ClusterConfiguration();
        var configuration = defaults with
        {
            PhysicalRails = physicalRails ?? defaults.PhysicalRails,
            RailStyle = railStyle ?? defaults.RailStyle,
            ErrorWindowMs = errorWindowMs ?? defaults.ErrorWindowMs,
        };
        configuration.Validate();
        var created = !Cluster.Exists(paths);
        var cluster = Cluster.OpenOrCreate(paths, configuration);
        ref var header = ref cluster.Control.Header;
        if ((physicalRails is { } rails && rails != header.PhysicalRails) || (railStyle is { } style && style != header.RailStyle) ||
            (errorWindowMs is { } window && window != header.ErrorWindowMs))
        {
            var message = $"cluster '{paths.Cluster}' was created with --rails {header.PhysicalRails} --rail-style " +
                $"{header.RailStyle} --error-window {header.ErrorWindowMs}; rails are fixed when the cluster is created " +
                "and every host must agree: drop the rail options, or recreate the cluster (imcctl destroy)";
            cluster.Dispose();
            throw new DriverException(DriverStatus.InitError, message);
        }

        return new ControlFileDirectory(cluster) { _created = created };
    }

    public static bool Exists(ClusterPaths paths) => Cluster.Exists(paths);

    /// <summary>Removes the cluster's folder and everything in it; false when there was none.</summary>
    public static bool Destroy(ClusterPaths paths) => Cluster.Destroy(paths);

    public void Dispose() => _cluster.Dispose();

    public HostInitResult InitializeHost(string host, long? maxAllocBytes, long? maxRecvBytes) =>
        InitializeHost(host, maxAllocBytes, maxRecvBytes, wantedSlot: -1);

    /// <summary>
    /// <see cref="InitializeHost(string, long?, long?)"/> with the host's number fixed by the cluster's directory
    /// across machines (<paramref name="wantedSlot"/>; -1: the first free one).
    /// </summary>
    internal HostInitResult InitializeHost(string host, long? maxAllocBytes, long? maxRecvBytes, int wantedSlot)
    {
        ClusterPaths.ValidateName(host, "host name");
        ref var header = ref _cluster.Control.Header;
        using (_cluster.EnterDirectory())
        {
            var created = _created;
            var slot = _cluster.FindHost(host);
            var isUp = slot >= 0 && _cluster.IsHostUp(slot);
            if (maxAllocBytes is { } alloc)
            {
                // A joining host raises the clusterwide value to the largest asked; a reconfiguration sets it.
                var wanted = isUp || created ? alloc : Math.Max(alloc, header.MaxAllocBytes);
                var used = _cluster.TotalAllocated();
                if (wanted < used)
                {
                    throw new DriverException(DriverStatus.InitError,
                        $"-a {ToMebibytes(wanted)}: {ToMebibytes(used)} MiB of address space is allocated now; " +
                        "maxalloc cannot go below current use");
                }

                header.MaxAllocBytes = wanted;
            }

            if (isUp && maxRecvBytes is { } recv)
            {
                var used = _cluster.HostReceiveUsed(slot);
                if (recv < used)
                {
                    throw new DriverException(DriverStatus.InitError,
                        $"-r {ToMebibytes(recv)}: host '{host}' has {ToMebibytes(used)} MiB attached for receive now; " +
                        "maxrecv cannot go below current use");
                }

                _cluster.Control.Host(slot).MaxRecvBytes = recv;
            }

            var joined = false;
            if (!isUp)
            {
                slot = _cluster.JoinHost(host, maxRecvBytes ?? new ClusterConfiguration().MaxRecvBytes, out joined, wantedSlot);
            }

            return new HostInitResult(created, joined, host, header.MaxAllocBytes, _cluster.Control.Host(slot).MaxRecvBytes,
                header.PhysicalRails, header.RailStyle, header.LogicalRails, header.ErrorWindowMs);
        }
    }

    public void TakeHostDown(string host)
    {
        ClusterPaths.ValidateName(host, "host name");
        using (_cluster.EnterDirectory())
        {
            var slot = _cluster.FindHost(host);
            if (slot < 0 || !_cluster.IsHostUp(slot))
            {
                throw new DriverException(DriverStatus.BadHost, $"host '{host}' is not up in cluster '{ClusterName}'");
            }

            _cluster.TakeHostDown(slot);
        }
    }

    public ProcessRegistration Register(string hostName) => Register(hostName, ProcessIdentity.Current, Credentials.Current);

    /// <summary>Registers the process <paramref name="identity"/> names, with <paramref name="credentials"/> (imcd, for a process that asked it).</summary>
    public ProcessRegistration Register(string hostName, ProcessIdentity identity, Credentials credentials)
    {
        ClusterPaths.ValidateName(hostName, "host name (IMC_HOST)");
        using (_cluster.EnterDirectory())
        {
            var host = _cluster.FindHost(hostName);
            if (host < 0 || !_cluster.IsHostUp(host))
            {
                throw new DriverException(DriverStatus.NotInitialized,
                    $"host '{hostName}' is not initialised in cluster '{ClusterName}': run imc_init --host {hostName} " +
                    "(or set IMC_AUTO_INIT=1)");
            }

            for (var slot = 0; slot < ControlLayout.MaxProcesses; slot++)
            {
                ref var process = ref _cluster.Control.Process(slot);
                if (process.State != ProcessEntry.StateFree)
                {
                    continue;
                }

                process.Pid = identity.Pid;
                process.StartTime = identity.StartTime;
                process.Host = host;
                process.Uid = credentials.Uid;
                process.Gid = credentials.Gid;
                process.Incarnation++;
                process.RegisteredUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                Volatile.Write(ref process.State, ProcessEntry.StateLive); // release: complete before it counts
                return new ProcessRegistration(hostName, host, slot, process.Incarnation, identity.Pid, credentials,
                    Cluster.LockOwner(slot, process.Incarnation));
            }

            throw new DriverException(DriverStatus.NoResources,
                $"all {ControlLayout.MaxProcesses} process entries of cluster '{ClusterName}' are in use");
        }
    }

    public void Unregister(ProcessRegistration process)
    {
        using (_cluster.EnterDirectory())
        {
            if (IsRegisteredHeld(process))
            {
                _cluster.ReleaseProcess(process.Slot);
                _cluster.CollectGarbage(scanFiles: false);
            }
        }
    }

    /// <summary>
    /// The registration at <paramref name="slot"/> in its <paramref name="incarnation"/>, taken up again for the process
    /// that made it (a new imcd, for a process that reconnects): it must be that process's, by pid, start time and uid.
    /// </summary>
    public ProcessRegistration Resume(int slot, int incarnation, ProcessIdentity identity, Credentials credentials)
    {
        using (_cluster.EnterDirectory())
        {
            ref var entry = ref _cluster.Control.Process(Math.Clamp(slot, 0, ControlLayout.MaxProcesses - 1));
            if (slot < 0 || slot >= ControlLayout.MaxProcesses || entry.State != ProcessEntry.StateLive ||
                entry.Incarnation != incarnation || entry.Pid != identity.Pid || entry.StartTime != identity.StartTime ||
                entry.Uid != credentials.Uid || !_cluster.IsHostUp(entry.Host))
            {
                throw new DriverException(DriverStatus.NotInitialized,
                    $"registration {slot}.{incarnation} is not this process's in cluster '{ClusterName}' (its host was taken " +
                    "down, or it was released): open a new context");
            }

            return new ProcessRegistration(_cluster.HostName(entry.Host), entry.Host, slot, incarnation, identity.Pid, credentials,
                Cluster.LockOwner(slot, incarnation));
        }
    }

    /// <summary>Enters the directory for a change in <paramref name="process"/>'s name, which must still be registered.</summary>
    private Cluster.DirectoryScope EnterRegistered(ProcessRegistration process)
    {
        var scope = _cluster.EnterDirectory();
        if (!IsRegisteredHeld(process))
        {
            scope.Dispose();
            throw new DriverException(DriverStatus.NotInitialized,
                $"this process is no longer registered in cluster '{ClusterName}' (host '{process.HostName}' was taken " +
                "down): open a new context after imc_init");
        }

        return scope;
    }

    private bool IsRegisteredHeld(ProcessRegistration process)
    {
        ref var entry = ref _cluster.Control.Process(process.Slot);
        return entry.State == ProcessEntry.StateLive && entry.Incarnation == process.Incarnation &&
            entry.Pid == process.ProcessId && _cluster.IsHostUp(process.Host);
    }

    private static string ToMebibytes(long bytes) =>
        (bytes / (double)ClusterConfiguration.Mebibyte).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);
}
