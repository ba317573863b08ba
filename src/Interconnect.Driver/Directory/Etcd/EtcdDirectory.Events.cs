using Interconnect.Driver.Store;

namespace Interconnect.Driver.Directory.Etcd;

/// <summary>Signals, cluster information and events, error counts, drops and rails across machines.</summary>
internal sealed partial class EtcdDirectory
{
    // Signals, information and events.

    public void Kill(ProcessRegistration process, string hostName, int processId, int signal)
    {
        if (ClusterPaths.IsValidName(hostName) && _local.UpHostSlot(hostName) < 0 && _store.Get(EtcdKeys.Host(hostName)) is not null)
        {
            throw new DriverException(DriverStatus.NotSupported,
                $"host '{hostName}' is on another machine: signals across machines are not available yet");
        }

        _local.Kill(process, hostName, processId, signal);
    }

    public ClusterInfoSnapshot ReadInfo(ProcessRegistration process)
    {
        var local = _local.ReadInfo(process);
        var (hosts, _) = _store.List("hosts/");
        var names = hosts.Select(h => (Slot: EtcdJson.Read<HostRecord>(h).Slot, Name: EtcdKeys.Last(h.Key)))
            .OrderBy(h => h.Slot).Select(h => h.Name).ToList();
        return local with { Hosts = names };
    }

    public Task<ClusterInfoSnapshot> WatchAsync(Func<ClusterInfoSnapshot, bool> done, CancellationToken cancellationToken) =>
        _local.WatchAsync(done, cancellationToken);

    // Rails and faults: this machine's for now.

    public int ReadErrorCount(int logicalRail) => _local.ReadErrorCount(logicalRail);

    public DriverStatus CheckErrorCount(ref int errorCount, int logicalRail) => _local.CheckErrorCount(ref errorCount, logicalRail);

    public bool TryClaimDrop(int logicalRail, int host) => _local.TryClaimDrop(logicalRail, host);

    public void InjectDrops(int logicalRail, int count, string? host) => _local.InjectDrops(logicalRail, count, host);

    public bool FailRail(int physicalRail) => _local.FailRail(physicalRail);

    public bool RepairRail(int physicalRail) => _local.RepairRail(physicalRail);
}
