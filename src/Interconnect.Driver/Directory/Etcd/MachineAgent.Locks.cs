using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store;
using Microsoft.Extensions.Logging;

namespace Interconnect.Driver.Directory.Etcd;

/// <summary>
/// Lock sets across machines, this machine's part: the lock arena (a file of <see cref="ArenaWords"/> 8-byte words in
/// the cluster's folder, mapped and registered with UCX, published as <c>arenas/{machine}</c>), which holds the words
/// of every lock set homed here and the write locks of coherent regions made here; owners on this machine that died (their <c>owners/</c> and <c>lockusers/</c> keys are
/// withdrawn, so waiters anywhere take their locks over); and sets homed here that no one uses any more, or words that
/// a creator reserved and never used.
/// </summary>
internal sealed partial class MachineAgent
{
    /// <summary>Lock words in one machine's arena: as many as a control file has.</summary>
    public const int ArenaWords = Store.Layout.ControlLayout.MaxLocks;

    private static readonly TimeSpan s_orphanAfter = TimeSpan.FromSeconds(30);
    private MappedFile? _arenaFile;
    private UcxMemory? _arenaMemory;
    private ArenaRecord? _arena;

    partial void PassLocks()
    {
        PublishArena();
        WithdrawDeadOwners();
        CollectLockSets();
    }

    partial void DisposeLocks()
    {
        _arenaMemory?.Dispose(); // the progress thread has stopped: nothing else uses the context now
        _arenaMemory = null;
        _arenaFile?.Dispose();
        _arenaFile = null;
    }

    /// <summary>Maps and registers the arena once, and (re)publishes it whenever etcd lacks it or holds an older one.</summary>
    private void PublishArena()
    {
        if (_arena is null)
        {
            var path = Path.Combine(_paths.ClusterDirectory, "locks");
            const long length = ArenaWords * sizeof(long);
            if (!File.Exists(path) || new FileInfo(path).Length != length)
            {
                using var stream = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite);
                stream.SetLength(length); // zeroed; kept across imcd restarts, so sets homed here keep their state
            }

            var file = MappedFile.Open(path, length, writable: true, "lock arena");
            try
            {
                nint address;
                unsafe
                {
                    address = (nint)file.Pointer;
                }

                UcxMemory? memory = null;
                byte[]? key = null;
                OnProgressThread(() =>
                {
                    memory = _ucx.Map(address, length);
                    key = memory.PackKey();
                });
                _arenaFile = file;
                _arenaMemory = memory;
                _arena = new ArenaRecord((ulong)memory!.Address, Convert.ToBase64String(key!), ArenaWords);
            }
            catch
            {
                file.Dispose();
                throw;
            }
        }

        var published = ReadKey(EtcdKeys.Arena(_machine));
        if (published is null || published.Lease != _lease || EtcdJson.Read<ArenaRecord>(published) != _arena)
        {
            _store.Set(EtcdKeys.Arena(_machine), EtcdJson.Write(_arena), _lease);
            ArenaPublished(_logger, _arena.Address, ArenaWords);
        }
    }

    /// <summary>Withdraws the owners of this machine whose process is gone, and binds the others to this agent's lease.</summary>
    private void WithdrawDeadOwners()
    {
        var (owners, _) = ReadList("owners/");
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
            if (entry.Lease != _lease)
            {
                _store.Set(entry.Key, entry.Value, _lease); // published under an earlier agent's lease
            }
        }

        _localOwners = alive; // watched by LocalWork: one that dies brings this back
    }

    /// <summary>
    /// Frees sets homed here that have no user (their users' machines died), and words reserved here that no set
    /// names after <see cref="s_orphanAfter"/> (a creator that died between reserving and creating).
    /// </summary>
    private void CollectLockSets()
    {
        var (sets, _) = ReadList("locksets/");
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

        var (regions, _) = ReadList("regions/");
        foreach (var entry in regions)
        {
            if (EtcdJson.Read<RegionRecord>(entry).WriteLock is { } writeLock && writeLock.Machine == _machine &&
                int.TryParse(EtcdKeys.Last(entry.Key), System.Globalization.CultureInfo.InvariantCulture, out var key))
            {
                used.Add((EtcdDirectory.WriteLockRangeKey(key), writeLock.First)); // a coherent region's write lock
            }
        }

        _orphansDueMs = 0;
        if (ReadKey(EtcdKeys.ArenaMap(_machine)) is not { } map)
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
                // Unused for now (its creator may be about to name it): looked at again when it would be due (LocalWork).
                var due = range.AtUnixMs + after + 1;
                _orphansDueMs = _orphansDueMs == 0 ? due : Math.Min(_orphansDueMs, due);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "lock arena published at 0x{Address:x}, {Words} words")]
    private static partial void ArenaPublished(ILogger logger, ulong address, int words);

    [LoggerMessage(Level = LogLevel.Information, Message = "lock owner pid {Pid} on host '{Host}' is gone: its locks pass to waiters")]
    private static partial void OwnerWithdrawn(ILogger logger, int pid, string host);
}
