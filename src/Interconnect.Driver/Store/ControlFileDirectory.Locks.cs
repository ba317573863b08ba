using Interconnect.Driver.Directory;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>Clusterwide lock sets (<c>imc_lkalloc</c>, <c>imc_lkdealloc</c>).</summary>
internal sealed partial class ControlFileDirectory
{
    /// <summary>Most locks in one set.</summary>
    public const int MaxLocksPerSet = 1024;

    public const int LockUser = 0b100;
    public const int LockGroup = 0b010;
    public const int LockOther = 0b001;

    /// <summary>
    /// Allocates the lock set of <paramref name="key"/>, creating it with <paramref name="count"/> locks if needed.
    /// With <paramref name="create"/>, only creates: returns null when the set exists (IMC_EXISTS); the creator holds
    /// lock 0 when this returns, taken in the same directory change that made the set.
    /// </summary>
    public LockSetHandle? AllocateLockSet(ProcessRegistration process, int key, int count, int permissions, bool create)
    {
        ValidateLockSet(key, count, permissions);
        using var scope = EnterRegistered(process);
        var existing = _cluster.FindLockSetByKey(key);
        if (existing >= 0)
        {
            if (create)
            {
                return null;
            }

            ref var set = ref _cluster.Control.LockSet(existing);
            if (!MayUseLockSet(process, set.OwnerUid, set.OwnerGid, set.Permissions))
            {
                throw LockSetNotPermitted(process, key, set.Permissions, set.OwnerUid);
            }

            if (_cluster.FindAttachment(process.Slot, AttachmentEntry.KindLockSet, existing, set.Id) >= 0)
            {
                throw new DriverException(DriverStatus.Prior, $"lock set key {key} is already allocated by this process");
            }

            _cluster.AddAttachment(process.Slot, AttachmentEntry.KindLockSet, existing, set.Id);
            return LockSetHandleOf(existing);
        }

        var slot = -1;
        for (var i = 0; i < ControlLayout.MaxLockSets && slot < 0; i++)
        {
            if (_cluster.Control.LockSet(i).State == LockSetEntry.StateFree)
            {
                slot = i;
            }
        }

        if (slot < 0 || !_cluster.HasRoomForLocks(count))
        {
            throw new DriverException(DriverStatus.NoResources,
                $"lock set key {key} with {count} locks does not fit: the cluster has room for {ControlLayout.MaxLockSets} " +
                $"sets and {ControlLayout.MaxLocks} locks in all; use fewer or smaller lock sets");
        }

        _ = _cluster.FreeAttachmentSlot(); // fail before anything is made if the allocation could not be recorded
        ref var entry = ref _cluster.Control.LockSet(slot);
        entry.Key = key;
        entry.Id = _cluster.Control.Header.NextLockSetId++;
        entry.Count = count;
        entry.Permissions = permissions;
        entry.OwnerUid = process.Credentials.Uid;
        entry.OwnerGid = process.Credentials.Gid;
        entry.CreatedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        // Its words, the creator's (lock 0 held by the creator, with create, before the set exists for anyone else).
        _cluster.CreateLockSetFile(entry, (process.Credentials.Uid, process.Credentials.Gid), create ? process.LockOwner : 0);
        Volatile.Write(ref entry.State, LockSetEntry.StateLive); // release: the set is complete before it counts
        _cluster.AddAttachment(process.Slot, AttachmentEntry.KindLockSet, slot, entry.Id);
        return LockSetHandleOf(slot);
    }

    /// <summary>Checks a lock set's key, count and permissions as every directory does.</summary>
    public static void ValidateLockSet(int key, int count, int permissions)
    {
        if (key < 0)
        {
            throw new DriverException(DriverStatus.BadParameter, $"lock set key {key}: keys are 0 to {int.MaxValue}");
        }

        if (count is < 1 or > MaxLocksPerSet)
        {
            throw new DriverException(DriverStatus.BadParameter,
                $"lock set key {key} with {count} locks: a set has 1 to {MaxLocksPerSet} locks");
        }

        if ((permissions & ~0b111) != 0 || permissions == 0)
        {
            throw new DriverException(DriverStatus.BadParameter,
                $"lock set key {key}: give lock permissions User, Group and/or Other");
        }
    }

    /// <summary>Permit: a process may not use a lock set.</summary>
    public static DriverException LockSetNotPermitted(ProcessRegistration process, int key, int permissions, int ownerUid) =>
        new(DriverStatus.Permit,
            $"lock set key {key} (permissions {LockModeString(permissions)}, owner uid {ownerUid}) " +
            $"may not be used by uid {process.Credentials.Uid}");

    /// <summary>Deallocates strictly: <see cref="DriverStatus.LockActive"/> while this process holds one of its locks.</summary>
    public unsafe void DeallocateLockSet(ProcessRegistration process, LockSetHandle handle)
    {
        using var scope = EnterRegistered(process);
        var allocation = _cluster.FindAttachment(process.Slot, AttachmentEntry.KindLockSet, handle.Slot, handle.Id);
        if (allocation < 0 || !_cluster.IsLockSetLive(handle.Slot, handle.Id))
        {
            throw new DriverException(DriverStatus.NotAllocated, $"lock set key {handle.Key} is not allocated by this process");
        }

        ref var set = ref _cluster.Control.LockSet(handle.Slot);
        var words = _cluster.LockWordsOf(handle.Slot);
        for (var i = 0; words is not null && i < set.Count; i++)
        {
            if (Volatile.Read(ref words[i].Owner) == process.LockOwner)
            {
                throw new DriverException(DriverStatus.LockActive,
                    $"lock {i} of lock set key {handle.Key} is held by this process: release it before deallocating");
            }
        }

        _cluster.RemoveAttachment(allocation);
        _cluster.CollectLockSets();
    }

    /// <summary>
    /// Maps the words of an allocated set for its lock port, with this process's own rights (its file's mode admits the
    /// users the set admits); a mapping of its own, which lives as long as the port that holds it.
    /// </summary>
    public MappedFile MapLockWords(LockSetHandle lockSet)
    {
        ref var set = ref _cluster.Control.LockSet(lockSet.Slot);
        if (Volatile.Read(ref set.State) != LockSetEntry.StateLive || set.Id != lockSet.Id)
        {
            throw new DriverException(DriverStatus.NotAllocated, $"lock set key {lockSet.Key} is no longer allocated");
        }

        return LockSetFile.Open(_cluster.Paths, set, writable: true);
    }

    public bool IsLockOwnerAlive(long owner) => _cluster.IsLockOwnerAlive(owner);

    /// <summary>None: every lock set of a cluster on one machine has its words in the control file.</summary>
    public RemoteLockWords? OpenRemoteLocks(ProcessRegistration process, LockSetHandle lockSet) => null;

    public ClusterWriteLock? OpenWriteLock(ProcessRegistration process, RegionHandle region) => null;

    /// <summary>"user,group" for 0110.</summary>
    public static string LockModeString(int permissions)
    {
        var parts = new List<string>(3);
        if ((permissions & LockUser) != 0)
        {
            parts.Add("user");
        }

        if ((permissions & LockGroup) != 0)
        {
            parts.Add("group");
        }

        if ((permissions & LockOther) != 0)
        {
            parts.Add("other");
        }

        return parts.Count == 0 ? "none" : string.Join(',', parts);
    }

    public static bool MayUseLockSet(ProcessRegistration process, int ownerUid, int ownerGid, int permissions)
    {
        // Lock permissions are one bit per class; expressed as rw bits they reuse the UNIX class choice.
        return process.Credentials.MayAccess(ownerUid, ownerGid, LockAccessMode(permissions), Credentials.Read | Credentials.Write);
    }

    /// <summary>Lock permissions (one bit per class) as UNIX rw bits: read and write for each class they admit.</summary>
    public static int LockAccessMode(int permissions) =>
        ((permissions & LockUser) != 0 ? 0b110_000_000 : 0) |
        ((permissions & LockGroup) != 0 ? 0b000_110_000 : 0) |
        ((permissions & LockOther) != 0 ? 0b000_000_110 : 0);

    private LockSetHandle LockSetHandleOf(int slot)
    {
        ref var set = ref _cluster.Control.LockSet(slot);
        return new LockSetHandle(slot, set.Id, set.Key, set.Count, set.Permissions);
    }
}
