using System.Diagnostics;
using Interconnect.Driver.Store;

namespace Interconnect.Driver.Directory.Etcd;

/// <summary>Signals, cluster information and events, error counts, drops and rails across machines.</summary>
internal sealed partial class EtcdDirectory
{
    // Signals, information and events.

    /// <summary>
    /// A Kill toward a host on another machine goes to that machine's agent through etcd, which delivers it with the
    /// same checks as on one machine; the call returns its outcome, or Timeout when the agent does not answer.
    /// </summary>
    public void Kill(ProcessRegistration process, string hostName, int processId, int signal)
    {
        if (!ClusterPaths.IsValidName(hostName) || _local.UpHostSlot(hostName) >= 0 ||
            _store.Get(EtcdKeys.Host(hostName)) is not { } entry)
        {
            _local.Kill(process, hostName, processId, signal);
            return;
        }

        ControlFileDirectory.CheckSignal(processId, signal);
        var machine = EtcdJson.Read<HostRecord>(entry).Machine;
        var id = $"{_machine}-{Environment.ProcessId}-{Guid.NewGuid():N}";
        _store.Set(EtcdKeys.Signal(machine, id), EtcdJson.Write(new SignalRecord(hostName, processId, signal)), MachineLease());
        var clock = Stopwatch.StartNew();
        var pause = 1;
        while (clock.Elapsed < s_applyTimeout)
        {
            if (_store.Get(EtcdKeys.Signaled(id)) is { } answer)
            {
                _store.Delete(EtcdKeys.Signaled(id));
                var result = EtcdJson.Read<SignalResult>(answer);
                if (result.Status != (int)DriverStatus.Success)
                {
                    throw new DriverException((DriverStatus)result.Status, result.Message);
                }

                return;
            }

            Thread.Sleep(pause);
            pause = Math.Min(pause * 2, 20);
        }

        _store.Delete(EtcdKeys.Signal(machine, id));
        throw new DriverException(DriverStatus.Timeout,
            $"signal {signal} to process {processId} on host '{hostName}': machine '{machine}' did not deliver it within " +
            $"{s_applyTimeout.TotalSeconds:0} s (is its imcd running? imcs shows the machines); it was withdrawn");
    }

    public ClusterInfoSnapshot ReadInfo(ProcessRegistration process) => WithClusterHosts(_local.ReadInfo(process));

    /// <summary>
    /// Waits on this machine's events, which its agent raises for hosts on other machines too (and their error
    /// counts with them), and answers with every machine's hosts.
    /// </summary>
    public async Task<ClusterInfoSnapshot> WatchAsync(Func<ClusterInfoSnapshot, bool> done, CancellationToken cancellationToken) =>
        WithClusterHosts(await _local.WatchAsync(done, cancellationToken).ConfigureAwait(false));

    private ClusterInfoSnapshot WithClusterHosts(ClusterInfoSnapshot local)
    {
        var (hosts, _) = _store.List("hosts/");
        var names = hosts.Select(h => (Slot: EtcdJson.Read<HostRecord>(h).Slot, Name: EtcdKeys.Last(h.Key)))
            .OrderBy(h => h.Slot).Select(h => h.Name).ToList();
        return local with { Hosts = names };
    }

    // Rails and faults: this machine's for now.

    public int ReadErrorCount(int logicalRail) => _local.ReadErrorCount(logicalRail);

    public DriverStatus CheckErrorCount(ref int errorCount, int logicalRail) => _local.CheckErrorCount(ref errorCount, logicalRail);

    public bool TryClaimDrop(int logicalRail, int host) => _local.TryClaimDrop(logicalRail, host);

    public void InjectDrops(int logicalRail, int count, string? host) => _local.InjectDrops(logicalRail, count, host);

    public bool FailRail(int physicalRail) => _local.FailRail(physicalRail);

    public bool RepairRail(int physicalRail) => _local.RepairRail(physicalRail);
}
