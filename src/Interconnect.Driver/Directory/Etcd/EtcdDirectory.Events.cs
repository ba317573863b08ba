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
        _store.Set(EtcdKeys.Signal(machine, id), EtcdJson.Write(new SignalRecord(hostName, processId, signal, process.Credentials.Uid)), MachineLease());
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

    private ClusterInfoSnapshot WithClusterHosts(ClusterInfoSnapshot local) => local with { Hosts = ClusterHosts() };

    /// <summary>Every up host of the cluster, on any machine, in slot order.</summary>
    public IReadOnlyList<string> ClusterHosts()
    {
        var (hosts, _) = _store.List("hosts/");
        return [.. hosts.Select(h => (Slot: EtcdJson.Read<HostRecord>(h).Slot, Name: EtcdKeys.Last(h.Key)))
            .OrderBy(h => h.Slot).Select(h => h.Name)];
    }

    // Rails and faults: this machine's for now.

    public int ReadErrorCount(int logicalRail) => _local.ReadErrorCount(logicalRail);

    public DriverStatus CheckErrorCount(ref int errorCount, int logicalRail) => _local.CheckErrorCount(ref errorCount, logicalRail);

    /// <summary>
    /// Claims one of the drops armed clusterwide: one of this machine's armed drops (its agent arms it with what is
    /// left of the budget), then one of the budget in etcd (compare-and-put on <c>drops/{rail}</c>), so that no more
    /// deliveries are dropped in the whole cluster than were injected. The error count of the rail rises here and then
    /// on every other machine (each machine's agent raises its own and acknowledges) before this returns, so that
    /// nothing the writer delivers after the drop is seen anywhere before the count has risen there.
    /// </summary>
    public bool TryClaimDrop(int logicalRail, int host) =>
        _local.TryClaimArmedDrop(logicalRail, host) && ClaimBudgetedDrop(logicalRail, host);

    /// <summary>
    /// The clusterwide half of <see cref="TryClaimDrop"/>, once one of this machine's armed drops was claimed: one of
    /// the budget, then the rail's error count raised here and everywhere.
    /// </summary>
    private bool ClaimBudgetedDrop(int logicalRail, int host)
    {
        if (!TryClaimBudget(logicalRail, host))
        {
            return false;
        }

        _local.RecordDeliveryError(logicalRail); // here first: the writer delivers nothing else before it
        RaiseEverywhere(logicalRail);
        return true;
    }

    /// <summary>
    /// Arms <paramref name="count"/> drops on <paramref name="logicalRail"/> for the whole cluster, toward
    /// <paramref name="host"/> wherever it is (or any host): the budget goes to etcd (0 disarms), and this returns once
    /// every machine's agent has armed its writers with it (or writers have spent it already).
    /// </summary>
    public void InjectDrops(int logicalRail, int count, string? host)
    {
        if (count < 0)
        {
            throw new DriverException(DriverStatus.BadParameter, $"--count {count}: give 0 or more transmissions to drop");
        }

        _local.CheckLogicalRail(logicalRail); // this machine's agent arms it below, as every machine's
        var slot = -1;
        if (host is not null)
        {
            slot = ClusterPaths.IsValidName(host) && _store.Get(EtcdKeys.Host(host)) is { } entry
                ? EtcdJson.Read<HostRecord>(entry).Slot
                : throw new DriverException(DriverStatus.BadHost,
                    $"--host {ClusterPaths.Printable(host)}: no such host is up in cluster '{ClusterName}' (see imcs -m)");
        }

        if (count == 0)
        {
            // Disarmed at once everywhere: a writer drops only what it claims from the budget, and there is none now.
            _ = _store.Delete(EtcdKeys.Drops(logicalRail));
            return;
        }

        // Armed everywhere, unless writers spent the budget first (then no machine has anything left to arm).
        var revision = _store.Set(EtcdKeys.Drops(logicalRail), EtcdJson.Write(new DropsRecord(count, slot)));
        var missing = AwaitNothingMissing(() => _store.Get(EtcdKeys.Drops(logicalRail)) is { } budget && budget.ModRevision == revision
            ? Unacknowledged(EtcdKeys.DropAck, revision)
            : null);
        if (missing is not null)
        {
            throw new DriverException(DriverStatus.Timeout,
                $"the drops injected on logical rail {logicalRail} were not armed by {missing} within {s_applyTimeout.TotalSeconds:0} s: " +
                "check that imcd runs there (imcs shows the machines)");
        }
    }

    /// <summary>Takes one drop toward <paramref name="host"/> out of the rail's clusterwide budget; false when none is left.</summary>
    private bool TryClaimBudget(int logicalRail, int host)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (_store.Get(EtcdKeys.Drops(logicalRail)) is not { } entry)
            {
                return false; // spent, or disarmed
            }

            var budget = EtcdJson.Read<DropsRecord>(entry);
            if (budget.Count <= 0 || (budget.Host >= 0 && budget.Host != host))
            {
                return false;
            }

            var claimed = budget.Count == 1
                ? _store.CompareAndDelete(EtcdKeys.Drops(logicalRail), entry.ModRevision)
                : _store.CompareAndPut(EtcdKeys.Drops(logicalRail), EtcdJson.Write(budget with { Count = budget.Count - 1 }),
                    entry.ModRevision);
            if (claimed)
            {
                return true;
            }
        }

        return false; // other writers kept claiming: this delivery goes through
    }

    private void RaiseEverywhere(int logicalRail)
    {
        var key = EtcdKeys.Raises(logicalRail, _machine);
        long raised;
        while (true)
        {
            var entry = _store.Get(key);
            raised = (entry is null ? 0 : long.Parse(entry.Value, CultureInfo.InvariantCulture)) + 1;
            // Bound to this machine's lease: the counter goes when the machine leaves, and starts again from 1 when it
            // joins again (the agents forget a counter that went, and take a smaller one for a new one).
            if (_store.CompareAndPut(key, raised.ToString(CultureInfo.InvariantCulture), entry?.ModRevision ?? 0, MachineLease()))
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
