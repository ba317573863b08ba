using Interconnect.Driver.Fabric;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Driver.Store;

namespace Interconnect.Driver.Directory.Etcd;

/// <summary>
/// Clusterwide lock sets across machines. A set lives in etcd (<c>locksets/{key}</c>: count, permissions, owner, and
/// its home: the machine of the process that created it, and its first word in that machine's lock arena). Its words
/// are in the home machine's lock arena, which that machine's imcd registered with UCX; every acquire and release is a
/// UCX compare-and-swap on them, also from processes on the home machine (<see cref="RemoteLockWords"/>).
/// <list type="bullet">
/// <item>Creating: reserve words in this machine's arena (<c>arenamap/{machine}</c>, compare-and-put), initialise them
/// through UCX (zero, or lock 0 held by the creator for IMC_CREATOR), then create the set and the creator's user key in
/// one create-if-absent transaction. A creator that loses the race frees its words and takes the winner's set.</item>
/// <item>Users: <c>lockusers/{key}/{owner}</c>, bound to the user's machine's lease. Adding one rewrites the set's
/// key in the same transaction (compare on its revision), so a set is never freed under a new user: freeing compares
/// the same revision after finding no users.</item>
/// <item>Owners: a lock word holds a value unique in the cluster (<see cref="ClusterOwner"/>); <c>owners/{owner}</c>
/// is published before the process can hold anything, bound to its machine's lease, and withdrawn by its machine's
/// imcd once the process is dead (or with the lease when the machine dies). A waiter that finds the holder's key
/// gone takes the lock over.</item>
/// </list>
/// </summary>
internal sealed partial class EtcdDirectory
{
    private readonly HashSet<long> _publishedOwners = [];

    /// <summary>
    /// A process's value in a lock word across machines: its incarnation, its host's number in the cluster and its
    /// registration slot on its machine (a host lives on one machine, so the three name one registration clusterwide).
    /// </summary>
    public static long ClusterOwner(ProcessRegistration process) =>
        ((long)process.Incarnation << 32) | ((long)(process.Host + 1) << 16) | (uint)(process.Slot + 1);

    public LockSetHandle? AllocateLockSet(ProcessRegistration process, int key, int count, int permissions, bool create)
    {
        ControlFileDirectory.ValidateLockSet(key, count, permissions);
        var owner = ClusterOwner(process);
        PublishOwner(process, owner);
        var lease = MachineLease();
        for (var attempt = 0; attempt < 20; attempt++)
        {
            if (_store.Get(EtcdKeys.LockSet(key)) is { } entry)
            {
                if (create)
                {
                    return null;
                }

                var record = EtcdJson.Read<LockSetRecord>(entry);
                if (!ControlFileDirectory.MayUseLockSet(process, record.Uid, record.Gid, record.Permissions))
                {
                    throw ControlFileDirectory.LockSetNotPermitted(process, key, record.Permissions, record.Uid);
                }

                if (_store.Get(EtcdKeys.LockUser(key, owner)) is not null)
                {
                    throw new DriverException(DriverStatus.Prior, $"lock set key {key} is already allocated by this process");
                }

                if (_store.Commit([(EtcdKeys.LockSet(key), entry.ModRevision), (EtcdKeys.LockUser(key, owner), 0)],
                        [(EtcdKeys.LockSet(key), entry.Value, 0), (EtcdKeys.LockUser(key, owner), _machine, lease)]))
                {
                    return HandleOf(key, record);
                }

                continue; // the set changed (a user came or went, or it was freed): decide again
            }

            var arena = ArenaOf(_machine);
            var first = ReserveWords(key, count, arena.Words);
            try
            {
                var initial = new long[count];
                if (create)
                {
                    initial[0] = owner; // the creator holds lock 0 before the set exists for anyone else
                }

                using (var words = OpenWords(_machine))
                {
                    words.Write(first, initial);
                }

                var created = new LockSetRecord(Random.Shared.NextInt64(1, long.MaxValue), count, permissions,
                    process.Credentials.Uid, process.Credentials.Gid, _machine, first);
                if (_store.Commit([(EtcdKeys.LockSet(key), 0), (EtcdKeys.LockUser(key, owner), 0)],
                        [(EtcdKeys.LockSet(key), EtcdJson.Write(created), 0), (EtcdKeys.LockUser(key, owner), _machine, lease)]))
                {
                    return HandleOf(key, created);
                }
            }
            catch
            {
                TryFreeWords(_machine, key, first); // imcd frees them later if etcd does not answer now
                throw;
            }

            FreeWords(_machine, key, first); // another process created the set first: allocate theirs
        }

        throw new DriverException(DriverStatus.Timeout,
            $"lock set key {key} kept changing in cluster '{ClusterName}' while this process allocated it; retry");
    }

    public void DeallocateLockSet(ProcessRegistration process, LockSetHandle lockSet)
    {
        if (lockSet.Home is not { } home)
        {
            _local.DeallocateLockSet(process, lockSet);
            return;
        }

        var owner = ClusterOwner(process);
        if (_store.Get(EtcdKeys.LockUser(lockSet.Key, owner)) is null)
        {
            throw new DriverException(DriverStatus.NotAllocated, $"lock set key {lockSet.Key} is not allocated by this process");
        }

        var held = new long[lockSet.Count];
        using (var words = OpenWords(home.Machine))
        {
            words.Read(home.First, held);
        }

        var index = Array.IndexOf(held, owner);
        if (index >= 0)
        {
            throw new DriverException(DriverStatus.LockActive,
                $"lock {index} of lock set key {lockSet.Key} is held by this process: release it before deallocating");
        }

        _store.Delete(EtcdKeys.LockUser(lockSet.Key, owner));
        CollectLockSet(_store, lockSet.Key, lockSet.Id);
    }

    public Interop.MappedFile? MapLockWords(LockSetHandle lockSet) =>
        lockSet.Home is null ? _local.MapLockWords(lockSet) : null;

    /// <summary>Whether <paramref name="owner"/> is still published: while etcd does not answer, it counts as alive.</summary>
    public bool IsLockOwnerAlive(long owner)
    {
        try
        {
            return _store.Get(EtcdKeys.LockOwner(owner)) is not null;
        }
        catch (DriverException)
        {
            return true; // never take a lock over on a guess
        }
    }

    public RemoteLockWords? OpenRemoteLocks(ProcessRegistration process, LockSetHandle lockSet) =>
        lockSet.Home is { } home
            ? new RemoteLockWords(() => OpenWords(home.Machine), IsLockOwnerAlive, home.First, ClusterOwner(process), _standing, _fabric)
            : null;

    /// <summary>
    /// Frees lock set <paramref name="key"/> (if it is still the set <paramref name="id"/>) once it has no users: the
    /// set goes in a transaction that compares the revision at which no users were seen, then its words.
    /// </summary>
    internal static void CollectLockSet(EtcdStore store, int key, long id)
    {
        if (store.Get(EtcdKeys.LockSet(key)) is not { } entry || EtcdJson.Read<LockSetRecord>(entry) is not { } record ||
            record.Id != id || store.List(EtcdKeys.LockUsersOf(key)).Entries.Count > 0)
        {
            return;
        }

        if (store.Commit([(EtcdKeys.LockSet(key), entry.ModRevision)], [], [EtcdKeys.LockSet(key)]))
        {
            FreeWords(store, record.Home, key, record.First);
        }
    }

    /// <summary>Takes <paramref name="first"/>'s range of <paramref name="machine"/>'s arena out of its map.</summary>
    internal static void FreeWords(EtcdStore store, string machine, int key, int first)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            if (store.Get(EtcdKeys.ArenaMap(machine)) is not { } entry)
            {
                return;
            }

            var map = EtcdJson.Read<ArenaMapRecord>(entry);
            var kept = map.Ranges.Where(r => r.First != first || r.Key != key).ToArray();
            if (kept.Length == map.Ranges.Length ||
                store.CompareAndPut(EtcdKeys.ArenaMap(machine), EtcdJson.Write(new ArenaMapRecord(kept)), entry.ModRevision))
            {
                return;
            }
        }
    }

    /// <summary>Publishes the process as a possible lock owner (before it takes a coherent region's write lock).</summary>
    public void PublishOwner(ProcessRegistration process) => PublishOwner(process, ClusterOwner(process));

    /// <summary>Publishes this process as a possible lock owner, bound to its machine's lease (once per registration).</summary>
    private void PublishOwner(ProcessRegistration process, long owner)
    {
        lock (_publishedOwners)
        {
            if (_publishedOwners.Contains(owner))
            {
                return;
            }
        }

        _store.Set(EtcdKeys.LockOwner(owner), EtcdJson.Write(new OwnerRecord(_machine, process.HostName, process.Slot,
            process.Incarnation, process.ProcessId)), MachineLease());
        lock (_publishedOwners)
        {
            _publishedOwners.Add(owner);
        }
    }

    /// <summary>Withdraws what this registration published for locks: waiters then take over what it still holds.</summary>
    private void WithdrawOwner(ProcessRegistration process)
    {
        var owner = ClusterOwner(process);
        lock (_publishedOwners)
        {
            if (!_publishedOwners.Remove(owner))
            {
                return;
            }
        }

        try
        {
            WithdrawOwner(_store, owner);
        }
        catch (DriverException)
        {
            // etcd unreachable: this machine's imcd withdraws the keys once it finds the registration gone.
        }
    }

    /// <summary>Deletes <paramref name="owner"/>'s key and its users' keys, then frees sets left with no user.</summary>
    internal static void WithdrawOwner(EtcdStore store, long owner)
    {
        var suffix = "/" + EtcdKeys.Owner(owner);
        var (users, _) = store.List("lockusers/");
        store.Delete(EtcdKeys.LockOwner(owner));
        foreach (var user in users.Where(u => u.Key.EndsWith(suffix, StringComparison.Ordinal)))
        {
            store.Delete(user.Key);
            if (EtcdKeys.TryParseKeyHost(user.Key, out var key, out _) && store.Get(EtcdKeys.LockSet(key)) is { } set)
            {
                CollectLockSet(store, key, EtcdJson.Read<LockSetRecord>(set).Id);
            }
        }
    }

    private static LockSetHandle HandleOf(int key, LockSetRecord record) =>
        new(-1, record.Id, key, record.Count, record.Permissions, new LockSetHome(record.Home, record.First));

    private ArenaRecord ArenaOf(string machine) =>
        _store.Get(EtcdKeys.Arena(machine)) is { } entry
            ? EtcdJson.Read<ArenaRecord>(entry)
            : throw new DriverException(DriverStatus.NotInitialized,
                $"machine '{machine}' has no lock arena in cluster '{ClusterName}': its imcd is not running (or has not " +
                "published the arena yet); lock sets homed there cannot be reached");

    /// <summary>Opens the words of <paramref name="machine"/>'s lock arena, as its imcd published them now.</summary>
    private ILockWords OpenWords(string machine)
    {
        var (worker, words) = LockArena(machine);
        return _fabric.Value.OpenWords(machine, worker, words, _standing);
    }

    /// <summary>Where <paramref name="machine"/>'s lock arena is: its imcd's UCX address, and its word count.</summary>
    public (byte[] Worker, int Words) LockArena(string machine)
    {
        var arena = ArenaOf(machine);
        var worker = _store.Get(EtcdKeys.Machine(machine)) is { } entry
            ? EtcdJson.Read<MachineRecord>(entry).Worker
            : throw new DriverException(DriverStatus.McError,
                $"machine '{machine}' has left cluster '{ClusterName}': the lock sets homed there are gone with it");
        return (Convert.FromBase64String(worker), arena.Words);
    }

    /// <summary>
    /// Reserves <paramref name="count"/> consecutive words of this machine's arena for set <paramref name="key"/> (or,
    /// under a negative key, a coherent region's write lock: <see cref="WriteLockRangeKey"/>).
    /// </summary>
    private int ReserveWords(int key, int count, int arenaWords)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var entry = _store.Get(EtcdKeys.ArenaMap(_machine));
            var ranges = entry is null ? [] : EtcdJson.Read<ArenaMapRecord>(entry).Ranges;
            var first = 0;
            foreach (var range in ranges.OrderBy(r => r.First))
            {
                if (range.First - first >= count)
                {
                    break;
                }

                first = Math.Max(first, range.First + range.Count);
            }

            if (first + count > arenaWords)
            {
                var what = key >= 0 ? $"lock set key {key} with {count} locks" : $"the write lock of coherent region key {-1 - key}";
                throw new DriverException(DriverStatus.NoResources,
                    $"{what} does not fit: machine '{_machine}' has {arenaWords} lock words and the lock sets and coherent " +
                    "regions homed there use the rest; use fewer or smaller lock sets");
            }

            var map = new ArenaMapRecord([.. ranges, new ArenaRange(first, count, key, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())]);
            if (_store.CompareAndPut(EtcdKeys.ArenaMap(_machine), EtcdJson.Write(map), entry?.ModRevision ?? 0))
            {
                return first;
            }
        }

        throw new DriverException(DriverStatus.Timeout,
            $"lock words on machine '{_machine}' kept changing while lock set key {key} was allocated; retry");
    }

    private void FreeWords(string machine, int key, int first) => FreeWords(_store, machine, key, first);

    private void TryFreeWords(string machine, int key, int first)
    {
        try
        {
            FreeWords(_store, machine, key, first);
        }
        catch (DriverException)
        {
            // the home imcd frees words that no set names after a while
        }
    }
}
