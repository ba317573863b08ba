using System.Collections.Concurrent;
using Interconnect.Driver.Directory.Etcd;

namespace Interconnect.Driver.Agent.Machine;

/// <summary>
/// The watches' changes, each routed to only the work it needs: a receiver or a memory is applied alone, from the change
/// itself (no listing); a host, rail, error count, signal, machine or lock change re-reads that part only; anything
/// else, and a watch response without changes (the watch was made again after etcd was away, or etcd compacted past
/// it), asks for a whole pass. Changes the agent has nothing to do for (acknowledgements, a region's record, a host's number, signals to
/// other machines) are not watched at all: every machine writes an acknowledgement of every attach, so watching them
/// woke every agent for every machine's (machines² wake-ups per attach, for nothing).
/// </summary>
internal sealed partial class MachineAgent
{
    private static readonly (string Prefix, Work Work)[] s_routes =
    [
        ("receivers/", Work.Changes),
        ("memory/", Work.Changes),
        ("hosts/", Work.Hosts),
        ("rails/", Work.Rails),
        ("raises/", Work.Raises),
        ("drops/", Work.Drops),
        // A machine joined or left (or this one lost its lease): epochs end, a machine that left leaves its regions
        // (its memory and hosts go as changes). Rare: a whole pass.
        ("machines/", Work.Everything),
        ("owners/", Work.Locks),
        ("lockusers/", Work.Locks),
        ("locksets/", Work.Locks),
        ("arenas/", Work.Locks),
        ("arenamap/", Work.Locks),
        // Not watched (WatchedPrefixes): nothing for the agent to do. Acknowledgements and answers: only the waiters of
        // their writers read them.
        ("acks/", Work.None),
        ("hostacks/", Work.None),
        ("railacks/", Work.None),
        ("raiseacks/", Work.None),
        ("dropacks/", Work.None),
        ("signaled/", Work.None),
        // A host's number changes with its hosts/ key. A region's record changes as processes allocate and withdraw,
        // which never needs this agent at once: it only takes out machines that left (a machines/ change) and this
        // machine where the region went (the deallocating process does so itself; LocalWork sees it if it could not).
        ("slots/", Work.None),
        ("regions/", Work.None),
    ];

    private readonly ConcurrentQueue<EtcdChange> _changes = new();
    private int _work; // Work flags the watch asked for since the loop last took them

    // The revisions at which the last pass read receivers/ and memory/: a change at or before them is in that reading.
    private long _receiversRead;
    private long _memoryRead;

    // During a pass: what it read at its start in one round trip (by prefix or key), and the revision of that reading.
    private Dictionary<string, IReadOnlyList<EtcdEntry>>? _reading;
    private long _readingRevision;

    // What the local look (LocalWork) compares with: the regions allocated here, and this machine's lock owners, as
    // the agent last acted on them; when the next lock collection is due (unused reserved words, sets of a machine
    // gone; 0: none).
    private HashSet<int>? _allocatedSeen;
    private List<long> _localOwners = [];
    private long _lockCollectionDueMs;

    /// <summary>What a change asks of the agent.</summary>
    [Flags]
    private enum Work
    {
        None = 0,
        Changes = 1, // the queued receiver and memory changes
        Hosts = 2,
        Rails = 4,
        Raises = 8,
        Signals = 16,
        Regions = 32,
        Locks = 64,
        Everything = 128,
        Drops = 256,
    }

    /// <summary>The watch's callback: queues the changes to apply alone, marks the rest's work, wakes the loop.</summary>
    private void OnChanges(IReadOnlyList<EtcdChange> changes)
    {
        var work = changes.Count == 0 ? Work.Everything : Work.None; // made, or cancelled by etcd: re-read everything
        foreach (var change in changes)
        {
            var route = Route(change.Entry.Key);
            if (route == Work.Changes)
            {
                _changes.Enqueue(change);
            }

            work |= route;
        }

        if (work != Work.None)
        {
            _ = Interlocked.Or(ref _work, (int)work); // the loop takes the flags with an exchange
            _changed.Release();
        }
    }

    /// <summary>What the agent watches: every prefix that asks for work, and the signals to this machine.</summary>
    private string[] WatchedPrefixes() =>
        [.. s_routes.Where(r => r.Work != Work.None).Select(r => r.Prefix), EtcdKeys.SignalsTo(_machine)];

    private Work Route(string key)
    {
        if (key.StartsWith("signals/", StringComparison.Ordinal))
        {
            return key.StartsWith(EtcdKeys.SignalsTo(_machine), StringComparison.Ordinal) ? Work.Signals : Work.None;
        }

        foreach (var (prefix, work) in s_routes)
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal))
            {
                return work;
            }
        }

        return Work.Everything;
    }

    private Work TakeWork() => (Work)Interlocked.Exchange(ref _work, 0);

    /// <summary>Asks the loop for <paramref name="work"/> (from another thread: the keep-alive's).</summary>
    private void Wake(Work work)
    {
        _ = Interlocked.Or(ref _work, (int)work);
        _changed.Release();
    }

    /// <summary>
    /// What changed on this machine alone, which no watch reports, read from the control file with no request of
    /// etcd: a receive memory whose attachers are gone, a region no longer allocated here, a lock owner here that died
    /// (each left by a process that died before it could say so in etcd), words reserved here whose creator never used
    /// them, due for collection.
    /// </summary>
    private Work LocalWork()
    {
        var work = Work.None;
        foreach (var (name, registered) in _registered)
        {
            if (_local.ReceiveMemoryOf(registered.RegionKey, registered.Host) is not { } memory || memory.Memory.ToString() != name)
            {
                work |= Work.Everything; // PublishReceivers withdraws it, from a reading of receivers/
                break;
            }
        }

        if (_allocatedSeen is not null && !_local.AllocatedKeys().SetEquals(_allocatedSeen))
        {
            work |= Work.Regions;
        }

        if (_localOwners.Any(owner => !_local.IsLockOwnerAlive(owner)) ||
            (_lockCollectionDueMs != 0 && DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() >= _lockCollectionDueMs))
        {
            work |= Work.Locks;
        }

        return work;
    }

    /// <summary>Does what the changes since the last round asked for, and no more.</summary>
    private void Apply(Work work)
    {
        ApplyChanges();
        if ((work & Work.Hosts) != 0)
        {
            ApplyHosts();
        }

        if ((work & Work.Rails) != 0)
        {
            ApplyRails();
        }

        if ((work & Work.Drops) != 0)
        {
            ApplyDrops();
        }

        if ((work & Work.Raises) != 0)
        {
            ApplyRaises();
        }

        if ((work & Work.Signals) != 0)
        {
            DeliverSignals();
        }

        if ((work & Work.Regions) != 0)
        {
            WithdrawRegions();
        }

        if ((work & Work.Locks) != 0)
        {
            PassLocks();
        }
    }

    /// <summary>
    /// Applies the queued receiver and memory changes, in order, each alone: a receiver of this machine is registered
    /// (or withdrawn), a memory anywhere is applied (or unapplied) and acknowledged. A change that the last pass's
    /// reading already held is skipped.
    /// </summary>
    private void ApplyChanges()
    {
        while (_changes.TryDequeue(out var change))
        {
            var entry = change.Entry;
            if (!EtcdKeys.TryParseKeyHost(entry.Key, out var key, out var host))
            {
                continue;
            }

            if (entry.Key.StartsWith("receivers/", StringComparison.Ordinal))
            {
                if (entry.ModRevision <= _receiversRead)
                {
                    continue;
                }

                if (change.Deleted)
                {
                    foreach (var name in _registered.Where(r => r.Value.RegionKey == key && r.Value.Host == host).Select(r => r.Key).ToList())
                    {
                        WithdrawMemory(name);
                    }
                }
                else if (EtcdJson.Read<ReceiverRecord>(entry) is { } record && record.Machine == _machine)
                {
                    _ = PublishReceiver(entry, record, key, host);
                }
            }
            else if (entry.ModRevision > _memoryRead)
            {
                if (change.Deleted)
                {
                    UnapplyMemory(key, host, entry.ModRevision);
                }
                else
                {
                    ApplyMemory(key, host, entry.ModRevision);
                }
            }
        }
    }

    /// <summary>
    /// Reads, in one round trip and at one revision, everything a pass looks at; until the pass ends, its steps read
    /// from there (<see cref="ReadList"/>, <see cref="ReadKey"/>), and changes at or before that revision are skipped
    /// as the reading holds them.
    /// </summary>
    private void ReadForPass()
    {
        string[] read =
        [
            "receivers/", "memory/", "machines/", "regions/", "hosts/", "rails/", "drops/", "raises/", EtcdKeys.SignalsTo(_machine),
            "owners/", "locksets/", EtcdKeys.Arena(_machine), EtcdKeys.ArenaMap(_machine),
        ];
        var (entries, revision) = _store.Read(read);
        _reading = read.Zip(entries).ToDictionary(r => r.First, r => r.Second);
        _readingRevision = revision;
        _receiversRead = revision;
        _memoryRead = revision;
    }

    /// <summary>Every key under <paramref name="prefix"/>: from the pass's reading during a pass, else from etcd.</summary>
    private (IReadOnlyList<EtcdEntry> Entries, long Revision) ReadList(string prefix) =>
        _reading is not null && _reading.TryGetValue(prefix, out var entries) ? (entries, _readingRevision) : _store.List(prefix);

    /// <summary><paramref name="key"/>: from the pass's reading during a pass, else from etcd.</summary>
    private EtcdEntry? ReadKey(string key) =>
        _reading is not null && _reading.TryGetValue(key, out var entries) ? (entries.Count > 0 ? entries[0] : null) : _store.Get(key);
}
