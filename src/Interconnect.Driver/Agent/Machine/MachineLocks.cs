using Interconnect.Driver.Directory.Etcd;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store;
using Microsoft.Extensions.Logging;

namespace Interconnect.Driver.Agent.Machine;

/// <summary>
/// Lock sets across machines, this machine's part: the lock arena (a file of <see cref="ArenaWords"/> 8-byte words in
/// the cluster's folder, mapped and registered with UCX, published as <c>arenas/{machine}</c>), which holds the words
/// of every lock set homed here and the write locks of coherent regions made here; owners on this machine that died (their <c>owners/</c> and <c>lockusers/</c> keys are
/// withdrawn, so waiters anywhere take their locks over); and sets homed here that no one uses any more, or words that
/// a creator reserved and never used.
/// </summary>
internal sealed partial class MachineLocks : IDisposable
{
    /// <summary>Lock words in one machine's arena: as many as a control file has.</summary>
    public const int ArenaWords = Store.Layout.ControlLayout.MaxLocks;

    private static readonly TimeSpan s_orphanAfter = TimeSpan.FromSeconds(30);
    private readonly ClusterPaths _paths;
    private readonly string _machine;
    private readonly EtcdStore _store;
    private readonly ControlFileDirectory _local;
    private readonly IMachineNic _nic;
    private readonly LeaseKeeper _lease;
    private readonly PassReading _reading;
    private readonly ILogger _logger;
    private readonly Dictionary<string, long> _homesGoneSince = []; // machines whose arena map outlived them, since when (Unix ms)
    private MappedFile? _arenaFile;
    private ArenaRecord? _arena;

    // What the local look (NeedsPass) compares with: this machine's lock owners, as last acted on; when the next lock
    // collection is due (unused reserved words, sets of a machine gone; 0: none).
    private List<long> _localOwners = [];
    private long _lockCollectionDueMs;

    public MachineLocks(ClusterPaths paths, string machine, EtcdStore store, ControlFileDirectory local, IMachineNic nic,
        LeaseKeeper lease, PassReading reading, ILogger logger)
    {
        _paths = paths;
        _machine = machine;
        _store = store;
        _local = local;
        _nic = nic;
        _lease = lease;
        _reading = reading;
        _logger = logger;
    }

    /// <summary>A pass's part: the arena published, dead owners withdrawn, sets and words no one uses freed.</summary>
    public void Pass()
    {
        PublishArena();
        WithdrawDeadOwners();
        CollectLockSets();
        CollectHomesGone();
    }

    /// <summary>
    /// True when a lock owner here died (seen in the control file alone, with no request of etcd), or a collection is
    /// due (<see cref="CollectLockSets"/>, <see cref="CollectHomesGone"/>): time for <see cref="Pass"/>.
    /// </summary>
    public bool NeedsPass() =>
        _localOwners.Any(owner => !_local.IsLockOwnerAlive(owner)) ||
        (_lockCollectionDueMs != 0 && DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() >= _lockCollectionDueMs);

    /// <summary>
    /// How long the lock sets homed on a machine that left outlive it: long enough for a machine that restarts, or is
    /// cut off and joins again, to find its sets as they were (its arena file is kept across restarts).
    /// </summary>
    private TimeSpan HomeGoneAfter => TimeSpan.FromSeconds(Math.Max(30, 10 * _lease.Seconds));

    /// <summary>
    /// The keys a machine that left for good would leave behind: once its arena map (<c>arenamap/</c>) has outlived
    /// it by <see cref="HomeGoneAfter"/>, any live machine's agent frees the lock sets homed there (their users
    /// anywhere then get <c>NotAllocated</c> or <c>McError</c>, and the key can be allocated afresh) and every range of
    /// its map that no coherent region's write lock still names; the map goes once it is empty (a write lock that
    /// still names it moves when a writer next fails to reach it, and its range is freed at a later pass).
    /// </summary>
    private void CollectHomesGone()
    {
        var live = _reading.List("machines/").Entries.Select(e => EtcdKeys.Last(e.Key)).ToHashSet();
        var maps = _store.List("arenamap/").Entries.Where(m => !live.Contains(EtcdKeys.Last(m.Key))).ToList();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var gone in _homesGoneSince.Keys.Where(m => !maps.Any(e => EtcdKeys.Last(e.Key) == m)).ToList())
        {
            _homesGoneSince.Remove(gone); // back in the cluster, or collected
        }

        var after = (long)HomeGoneAfter.TotalMilliseconds;
        foreach (var map in maps)
        {
            var machine = EtcdKeys.Last(map.Key);
            var since = _homesGoneSince.TryGetValue(machine, out var seen) ? seen : _homesGoneSince[machine] = now;
            if (now - since < after)
            {
                var due = since + after + 1; // looked at again then (NeedsPass)
                _lockCollectionDueMs = _lockCollectionDueMs == 0 ? due : Math.Min(_lockCollectionDueMs, due);
                continue;
            }

            CollectHome(machine);
        }
    }

    /// <summary>Frees the lock sets homed on <paramref name="machine"/> (gone for good) and the ranges of its arena map.</summary>
    private void CollectHome(string machine)
    {
        foreach (var entry in _store.List("locksets/").Entries)
        {
            if (EtcdJson.Read<LockSetRecord>(entry).Home != machine ||
                !int.TryParse(EtcdKeys.Last(entry.Key), System.Globalization.CultureInfo.InvariantCulture, out var key))
            {
                continue;
            }

            var users = _store.List(EtcdKeys.LockUsersOf(key)).Entries.Select(u => u.Key);
            if (_store.Commit([(entry.Key, entry.ModRevision)], [], [entry.Key, .. users]))
            {
                LockSetOfGoneHomeFreed(_logger, key, machine);
            }
        }

        var named = _store.List("regions/").Entries
            .Select(e => EtcdJson.Read<RegionRecord>(e).WriteLock)
            .Where(w => w is not null && w.Machine == machine)
            .Select(w => w!.First)
            .ToHashSet();
        if (_store.Get(EtcdKeys.ArenaMap(machine)) is not { } map)
        {
            return;
        }

        var kept = EtcdJson.Read<ArenaMapRecord>(map).Ranges.Where(r => r.Key < 0 && named.Contains(r.First)).ToArray();
        _ = kept.Length == 0
            ? _store.CompareAndDelete(map.Key, map.ModRevision)
            : _store.CompareAndPut(map.Key, EtcdJson.Write(new ArenaMapRecord(kept)), map.ModRevision);
    }

    /// <summary>Unmaps the arena: only once the NIC is gone (its progress thread stopped).</summary>
    public void Dispose()
    {
        _arenaFile?.Dispose(); // the NIC is gone: nothing reaches the arena any more
        _arenaFile = null;
    }

    /// <summary>
    /// Maps the machine's lock arena file (<c>locks</c> in the cluster's folder), made if it is not there: kept across imcd
    /// restarts, so sets homed here keep their state; made anew (zeroed) at another length. Never through a link, and
    /// only of an owner imcd trusts (<see cref="ClusterPaths.Owners"/>): a file someone else put there is refused.
    /// </summary>
    internal static MappedFile OpenArenaFile(ClusterPaths paths)
    {
        const string What = "lock arena";
        var path = Path.Combine(paths.ClusterDirectory, "locks");
        return MappedFile.OpenOrCreate(path, ArenaWords * sizeof(long), 0b110_000_000, What,
            status => paths.Owners.Check(path, What, status));
    }

    /// <summary>Maps the arena and publishes it to the NIC once, and (re)publishes it in etcd whenever etcd lacks it.</summary>
    private void PublishArena()
    {
        if (_arena is null)
        {
            var file = OpenArenaFile(_paths);
            try
            {
                nint address;
                unsafe
                {
                    address = (nint)file.Pointer;
                }

                _nic.PublishArena(address, ArenaWords);
                _arenaFile = file;
                _arena = new ArenaRecord(ArenaWords);
            }
            catch
            {
                file.Dispose();
                throw;
            }
        }

        var published = _reading.Get(EtcdKeys.Arena(_machine));
        if (published is null || published.Lease != _lease.Id || EtcdJson.Read<ArenaRecord>(published) != _arena)
        {
            _store.Set(EtcdKeys.Arena(_machine), EtcdJson.Write(_arena), _lease.Id);
            ArenaPublished(_logger, ArenaWords);
        }
    }

    /// <summary>Withdraws the owners of this machine whose process is gone, and binds the others to this agent's lease.</summary>
    private void WithdrawDeadOwners()
    {
        var (owners, _) = _reading.List("owners/");
        var alive = new List<long>();
        foreach (var entry in owners)
        {
            var record = EtcdJson.Read<OwnerRecord>(entry);
            if (record.Machine != _machine ||
                !long.TryParse(EtcdKeys.Last(entry.Key), System.Globalization.NumberStyles.HexNumber,
                    System.Globalization.CultureInfo.InvariantCulture, out var owner))
            {
                continue;
            }

            var local = Cluster.LockOwner(record.Slot, record.Incarnation);
            if (!_local.IsLockOwnerAlive(local))
            {
                EtcdDirectory.WithdrawOwner(_store, owner);
                OwnerWithdrawn(_logger, record.Pid, record.Host);
                continue;
            }

            alive.Add(local);
            if (entry.Lease != _lease.Id)
            {
                _store.Set(entry.Key, entry.Value, _lease.Id); // published under an earlier agent's lease
            }
        }

        _localOwners = alive; // watched by NeedsPass: one that dies brings this back
    }

    /// <summary>
    /// Frees sets homed here that have no user (their users' machines died), and words reserved here that no set
    /// names after <see cref="s_orphanAfter"/> (a creator that died between reserving and creating).
    /// </summary>
    private void CollectLockSets()
    {
        var (sets, _) = _reading.List("locksets/");
        var used = new HashSet<(int Key, int First)>();
        foreach (var entry in sets)
        {
            var record = EtcdJson.Read<LockSetRecord>(entry);
            if (record.Home != _machine ||
                !int.TryParse(EtcdKeys.Last(entry.Key), System.Globalization.CultureInfo.InvariantCulture, out var key))
            {
                continue;
            }

            used.Add((key, record.First));
            EtcdDirectory.CollectLockSet(_store, key, record.Id);
        }

        var (regions, _) = _reading.List("regions/");
        foreach (var entry in regions)
        {
            if (EtcdJson.Read<RegionRecord>(entry).WriteLock is { } writeLock && writeLock.Machine == _machine &&
                int.TryParse(EtcdKeys.Last(entry.Key), System.Globalization.CultureInfo.InvariantCulture, out var key))
            {
                used.Add((EtcdDirectory.WriteLockRangeKey(key), writeLock.First)); // a coherent region's write lock
            }
        }

        _lockCollectionDueMs = 0;
        if (_reading.Get(EtcdKeys.ArenaMap(_machine)) is not { } map)
        {
            return;
        }

        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var after = (long)s_orphanAfter.TotalMilliseconds;
        foreach (var range in EtcdJson.Read<ArenaMapRecord>(map).Ranges.Where(r => !used.Contains((r.Key, r.First))))
        {
            if (now - range.AtUnixMs > after)
            {
                EtcdDirectory.FreeWords(_store, _machine, range.Key, range.First);
            }
            else
            {
                // Unused for now (its creator may be about to name it): looked at again when it would be due (NeedsPass).
                var due = range.AtUnixMs + after + 1;
                _lockCollectionDueMs = _lockCollectionDueMs == 0 ? due : Math.Min(_lockCollectionDueMs, due);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "lock set key {Key} is freed: its home machine '{Machine}' left " +
        "the cluster and did not come back")]
    private static partial void LockSetOfGoneHomeFreed(ILogger logger, int key, string machine);

    [LoggerMessage(Level = LogLevel.Debug, Message = "lock arena published, {Words} words")]
    private static partial void ArenaPublished(ILogger logger, int words);

    [LoggerMessage(Level = LogLevel.Information, Message = "lock owner pid {Pid} on host '{Host}' is gone: its locks pass to waiters")]
    private static partial void OwnerWithdrawn(ILogger logger, int pid, string host);
}
