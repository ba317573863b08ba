using System.Globalization;
using Interconnect.Driver.Directory.Etcd;
using Interconnect.Driver.Store;

namespace Interconnect.Driver.Agent.Machine;

/// <summary>
/// Hosts joining and leaving anywhere, rails failed and repaired, errors injected and raised, and signals toward this
/// machine's processes: mirrored into this machine's control file, each then acknowledged in etcd, which the party
/// that made the change waits for. Each kind is re-read whole and applied by its difference from what was last applied.
/// </summary>
internal sealed class ClusterEvents
{
    private readonly string _machine;
    private readonly EtcdStore _store;
    private readonly ControlFileDirectory _local;
    private readonly LeaseKeeper _lease;
    private readonly PassReading _reading;

    // The hosts as last applied here, each as its name and the revision of its key (a host that left and came back is
    // a new key): all of them, and those on other machines. Null before the first pass.
    private HashSet<(string Host, long Revision)>? _hosts;
    private HashSet<(string Host, long Revision)>? _remoteHosts;

    // Errors raised by other machines (rail, origin) as last applied here.
    private readonly Dictionary<(int Rail, string Origin), long> _raises = [];
    private bool _raisesSeen;

    // The failed physical rails as last applied here; null before the first pass.
    private HashSet<int>? _failedRails;

    // The drops armed here, by logical rail, as the revision of their key last applied (absent: none armed).
    private readonly Dictionary<int, long> _drops = [];
    private bool _dropsAckDue;

    public ClusterEvents(string machine, EtcdStore store, ControlFileDirectory local, LeaseKeeper lease, PassReading reading)
    {
        _machine = machine;
        _store = store;
        _local = local;
        _lease = lease;
        _reading = reading;
    }

    /// <summary>A pass's part: every kind, as the pass read them.</summary>
    public void Pass()
    {
        ApplyHosts();
        ApplyRails();
        ApplyDrops();
        ApplyRaises();
        DeliverSignals();
    }

    /// <summary>Forgets the hosts and rails applied here (a rejoin): the next pass applies and acknowledges them again.</summary>
    public void ForgetHostsAndRails()
    {
        _hosts = null;
        _remoteHosts = null;
        _failedRails = null;
    }

    /// <summary>
    /// Raises this machine's error counts for every error another machine raised (a drop toward any receiver), then
    /// acknowledges (this machine's own drops too), which the dropping writer waits for. On its first pass the agent takes what was raised before it
    /// started as the baseline.
    /// </summary>
    public void ApplyRaises()
    {
        var (raises, _) = _reading.List("raises/");
        var present = new HashSet<(int, string)>();
        foreach (var entry in raises)
        {
            var parts = entry.Key.Split('/');
            if (parts.Length != 3 || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var rail) ||
                !long.TryParse(entry.Value, CultureInfo.InvariantCulture, out var count))
            {
                continue;
            }

            var id = (rail, parts[2]);
            present.Add(id);
            var applied = _raises.GetValueOrDefault(id, _raisesSeen ? 0 : count);
            if (count < applied)
            {
                applied = 0; // a new counter: its machine left (taking the old one with its lease) and joined again
            }

            if (count > applied && rail < _local.LogicalRails && parts[2] != _machine)
            {
                // This machine's own drops raised its counts when they were claimed; it only acknowledges them.
                _local.RaiseRemoteErrors(rail, count - applied);
            }

            if (!_raises.TryGetValue(id, out var acked) || acked != count)
            {
                _raises[id] = count;
                _store.Set(EtcdKeys.RaiseAck(rail, parts[2], _machine), count.ToString(CultureInfo.InvariantCulture), _lease.Id);
            }
        }

        // A counter that went with its machine's lease: forgotten here, and this machine's acknowledgement of it too.
        foreach (var id in _raises.Keys.Where(id => !present.Contains(id)).ToList())
        {
            _raises.Remove(id);
            _ = _store.Delete(EtcdKeys.RaiseAck(id.Item1, id.Item2, _machine));
        }

        _raisesSeen = true;
    }

    /// <summary>
    /// A host that joined or left on another machine is a host change here too: this machine's error counts rise and
    /// its event waiters wake (a change on this machine was recorded here by the change itself). Then the agent
    /// acknowledges the hosts as of its reading, which a join or leave anywhere waits for.
    /// </summary>
    public void ApplyHosts()
    {
        var (hosts, revision) = _reading.List("hosts/");
        var all = hosts.Select(h => (EtcdKeys.Last(h.Key), h.ModRevision)).ToHashSet();
        if (_hosts is not null && all.SetEquals(_hosts))
        {
            return; // nothing changed since the last acknowledgement (which itself changes no host)
        }

        var remote = hosts.Where(h => EtcdJson.Read<HostRecord>(h).Machine != _machine)
            .Select(h => (EtcdKeys.Last(h.Key), h.ModRevision)).ToHashSet();
        if (_remoteHosts is not null && !remote.SetEquals(_remoteHosts))
        {
            _local.RecordRemoteHostChange();
        }

        _hosts = all;
        _remoteHosts = remote;
        _store.Set(EtcdKeys.HostAck(_machine), revision.ToString(CultureInfo.InvariantCulture), _lease.Id);
    }

    /// <summary>
    /// Fails and repairs this machine's physical rails as etcd says (each change raises the error counts and fires a
    /// RailChange here), then acknowledges, which imcctl fail-rail and repair-rail wait for.
    /// </summary>
    public void ApplyRails()
    {
        var (rails, revision) = _reading.List("rails/");
        var failed = rails.Select(r => int.Parse(EtcdKeys.Last(r.Key), CultureInfo.InvariantCulture)).ToHashSet();
        if (_failedRails is not null && failed.SetEquals(_failedRails))
        {
            return;
        }

        var physicalRails = _local.ReadRails().Physical.Count;
        foreach (var rail in failed.Where(r => r < physicalRails && !(_failedRails?.Contains(r) ?? false)))
        {
            _ = _local.FailRail(rail);
        }

        foreach (var rail in (_failedRails ?? [.. Enumerable.Range(0, physicalRails)]).Where(r => r < physicalRails && !failed.Contains(r)))
        {
            _ = _local.RepairRail(rail);
        }

        _failedRails = failed;
        _store.Set(EtcdKeys.RailAck(_machine), revision.ToString(CultureInfo.InvariantCulture), _lease.Id);
    }

    /// <summary>
    /// Arms this machine's writers with the drops injected anywhere (what is left of each rail's clusterwide budget;
    /// a writer claims each drop from the budget too), then acknowledges, which imcctl inject-error waits for.
    /// </summary>
    public void ApplyDrops()
    {
        var (drops, revision) = _reading.List("drops/");
        var armed = new Dictionary<int, (long Revision, DropsRecord Record)>();
        foreach (var entry in drops)
        {
            if (int.TryParse(EtcdKeys.Last(entry.Key), CultureInfo.InvariantCulture, out var rail) && rail < _local.LogicalRails)
            {
                armed[rail] = (entry.ModRevision, EtcdJson.Read<DropsRecord>(entry));
            }
        }

        var changed = false;
        foreach (var (rail, (modRevision, record)) in armed.Where(a => _drops.GetValueOrDefault(a.Key) != a.Value.Revision))
        {
            _local.ArmDrops(rail, record.Count, record.Host);
            _drops[rail] = modRevision;
            changed = true;
        }

        foreach (var rail in _drops.Keys.Where(r => !armed.ContainsKey(r)).ToList())
        {
            _local.ArmDrops(rail, 0, -1); // spent or disarmed
            _drops.Remove(rail);
            changed = true;
        }

        _dropsAckDue |= changed;
        if (_dropsAckDue || _store.Get(EtcdKeys.DropAck(_machine)) is null)
        {
            _store.Set(EtcdKeys.DropAck(_machine), revision.ToString(CultureInfo.InvariantCulture), _lease.Id);
            _dropsAckDue = false; // only once it is written: a pass that failed before acknowledges at the next
        }
    }

    /// <summary>Delivers each Kill sent to this machine's processes, and answers with its outcome.</summary>
    public void DeliverSignals()
    {
        var (signals, _) = _reading.List(EtcdKeys.SignalsTo(_machine));
        foreach (var entry in signals)
        {
            var request = EtcdJson.Read<SignalRecord>(entry);
            var status = _local.DeliverSignal(request.Host, request.Pid, request.Signal, request.Uid, out var message);
            _store.Set(EtcdKeys.Signaled(EtcdKeys.Last(entry.Key)), EtcdJson.Write(new SignalResult((int)status, message)), _lease.Id);
            _store.Delete(entry.Key);
        }
    }
}
