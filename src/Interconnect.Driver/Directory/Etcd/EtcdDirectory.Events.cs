using System.Globalization;
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
        EtcdEntry? answer = null;
        if (AwaitNothingMissing(() => (answer = _store.Get(EtcdKeys.Signaled(id))) is null ? "an answer" : null) is null)
        {
            _store.Delete(EtcdKeys.Signaled(id));
            var result = EtcdJson.Read<SignalResult>(answer!);
            if (result.Status != (int)DriverStatus.Success)
            {
                throw new DriverException((DriverStatus)result.Status, result.Message);
            }

            return;
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

    /// <summary>
    /// Claims a drop armed on this machine; the error count of the rail rises here and then on every other machine
    /// (each machine's agent raises its own and acknowledges) before this returns, so that nothing the writer
    /// delivers after the drop is seen anywhere before the count has risen there.
    /// </summary>
    public bool TryClaimDrop(int logicalRail, int host)
    {
        if (!_local.TryClaimDrop(logicalRail, host))
        {
            return false;
        }

        RaiseEverywhere(logicalRail);
        return true;
    }

    /// <summary>
    /// Arms drops for the writers of this machine, toward <paramref name="host"/> wherever it is (or any host).
    /// </summary>
    public void InjectDrops(int logicalRail, int count, string? host)
    {
        if (host is not null && ClusterPaths.IsValidName(host) && _local.UpHostSlot(host) < 0 &&
            _store.Get(EtcdKeys.Host(host)) is { } entry)
        {
            _local.InjectDropsToRemote(logicalRail, count, EtcdJson.Read<HostRecord>(entry).Slot);
            return;
        }

        _local.InjectDrops(logicalRail, count, host);
    }

    private void RaiseEverywhere(int logicalRail)
    {
        var key = EtcdKeys.Raises(logicalRail, _machine);
        long raised;
        while (true)
        {
            var entry = _store.Get(key);
            raised = (entry is null ? 0 : long.Parse(entry.Value, CultureInfo.InvariantCulture)) + 1;
            if (_store.CompareAndPut(key, raised.ToString(CultureInfo.InvariantCulture), entry?.ModRevision ?? 0))
            {
                break;
            }
        }

        WaitApplied(m => EtcdKeys.RaiseAck(logicalRail, _machine, m), raised, $"a drop on logical rail {logicalRail}");
    }

    /// <summary>
    /// Fails a physical rail on every machine: recorded in etcd, applied by each machine's agent (its error counts
    /// rise and a RailChange fires there), and returned once every machine has applied it.
    /// </summary>
    public bool FailRail(int physicalRail)
    {
        _ = _local.FailRail(physicalRail); // checks the number; this machine at once
        var wasUp = _store.CreateAll(0, (EtcdKeys.Rail(physicalRail), "failed"));
        WaitApplied(EtcdKeys.RailAck, _store.Get(EtcdKeys.Rail(physicalRail))?.ModRevision ?? 0, $"the failure of physical rail {physicalRail}");
        return wasUp;
    }

    /// <summary>Repairs a physical rail on every machine, as <see cref="FailRail"/> fails it.</summary>
    public bool RepairRail(int physicalRail)
    {
        _ = _local.RepairRail(physicalRail);
        var failed = _store.Get(EtcdKeys.Rail(physicalRail)) is not null;
        var revision = _store.Delete(EtcdKeys.Rail(physicalRail));
        WaitApplied(EtcdKeys.RailAck, revision, $"the repair of physical rail {physicalRail}");
        return failed;
    }
}
