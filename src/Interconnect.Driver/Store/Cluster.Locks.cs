using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>Lock sets in the directory, and lock ownership. Directory methods here run with the directory lock held.</summary>
internal sealed partial class Cluster
{
    /// <summary>The owner value a registration writes into a lock word.</summary>
    public static long LockOwner(int processSlot, int incarnation) => ((long)incarnation << 32) | (uint)(processSlot + 1);

    /// <summary>Whether the registration named by a lock owner value is still a live process.</summary>
    public bool IsLockOwnerAlive(long owner)
    {
        var slot = (int)(owner & 0xffff_ffff) - 1;
        if ((uint)slot >= ControlLayout.MaxProcesses)
        {
            return false;
        }

        ref var process = ref Control.Process(slot);
        return Volatile.Read(ref process.State) == ProcessEntry.StateLive &&
            process.Incarnation == (int)(owner >>> 32) &&
            ProcessIdentity.IsAlive(process.Pid, process.StartTime);
    }

    public int FindLockSetByKey(int key)
    {
        for (var i = 0; i < ControlLayout.MaxLockSets; i++)
        {
            ref var set = ref Control.LockSet(i);
            if (set.State == LockSetEntry.StateLive && set.Key == key)
            {
                return i;
            }
        }

        return -1;
    }

    public bool IsLockSetLive(int slot, long id)
    {
        ref var set = ref Control.LockSet(slot);
        return set.State == LockSetEntry.StateLive && set.Id == id;
    }

    /// <summary>Whether <paramref name="count"/> more locks fit in the cluster's budget of <see cref="ControlLayout.MaxLocks"/>.</summary>
    public bool HasRoomForLocks(int count)
    {
        var used = 0L;
        for (var i = 0; i < ControlLayout.MaxLockSets; i++)
        {
            ref var set = ref Control.LockSet(i);
            if (set.State == LockSetEntry.StateLive)
            {
                used += Math.Max(set.Count, 0);
            }
        }

        return used + count <= ControlLayout.MaxLocks;
    }

    /// <summary>
    /// Makes the words of a new lock set (<see cref="LockSetFile"/>), zeroed but for lock 0, which
    /// <paramref name="holder"/> holds when not 0, before the set exists for anyone else.
    /// </summary>
    public unsafe void CreateLockSetFile(in LockSetEntry set, (int Uid, int Gid) owner, long holder)
    {
        var file = LockSetFile.Create(Paths, set.Id, set.Count, set.Permissions, owner);
        ((LockWord*)file.Pointer)->Owner = holder;
        KeepEntryFile(LockSetFile.PathOf(Paths, set.Id), file);
    }

    /// <summary>
    /// The words of the live lock set in <paramref name="slot"/>, mapped once by this process; null when this process
    /// cannot map its file: a set whose permissions do not admit its user (its locks are not this process's to
    /// release, and whoever next takes one whose holder died takes it over), or a file that is gone or damaged
    /// (<see cref="Check"/> says which), which never stops a directory change.
    /// </summary>
    public unsafe LockWord* LockWordsOf(int slot) => LockWordsOf(slot, out _);

    private unsafe LockWord* LockWordsOf(int slot, out DriverException? unreachable)
    {
        ref var set = ref Control.LockSet(slot);
        var entry = set;
        return (LockWord*)EntryFile(LockSetFile.PathOf(Paths, entry.Id), () => LockSetFile.Open(Paths, entry, Control.CanWriteWords),
            out unreachable);
    }

    /// <summary>Lock <paramref name="index"/> of the live lock set in <paramref name="slot"/>, for checks and tests.</summary>
    public unsafe ref LockWord LockWord(int slot, int index)
    {
        var words = LockWordsOf(slot);
        if (words is null || (uint)index >= (uint)Control.LockSet(slot).Count)
        {
            throw new DriverException(DriverStatus.BadLock,
                $"lock {index} of the lock set in slot {slot} is not one this process can reach");
        }

        return ref words[index];
    }

    /// <summary>Frees a lock set no process uses any more, and its file.</summary>
    public unsafe void FreeLockSet(int slot)
    {
        ref var set = ref Control.LockSet(slot);
        var id = set.Id;
        Volatile.Write(ref set.State, LockSetEntry.StateFree);
        for (var i = 0; i < ControlLayout.MaxAttachments; i++)
        {
            ref var a = ref Control.Attachment(i);
            if (a.State == AttachmentEntry.StateLive && a.Kind == AttachmentEntry.KindLockSet && a.Target == slot && a.TargetId == id)
            {
                RemoveAttachment(i);
            }
        }

        // Its words are released for a port that still maps them, then its file goes (they live while mapped).
        var words = LockWordsOf(slot);
        for (var i = 0; words is not null && i < set.Count; i++)
        {
            ReleaseLockWord(ref words[i]);
        }

        RemoveEntryFile(LockSetFile.PathOf(Paths, id));
    }

    /// <summary>Releases every lock held by a registration (it died, or its host went down).</summary>
    public unsafe void ReleaseLocksOf(long owner)
    {
        for (var s = 0; s < ControlLayout.MaxLockSets; s++)
        {
            ref var set = ref Control.LockSet(s);
            if (set.State != LockSetEntry.StateLive)
            {
                continue;
            }

            var words = LockWordsOf(s);
            for (var i = 0; words is not null && i < set.Count; i++)
            {
                ref var word = ref words[i];
                if (Volatile.Read(ref word.Owner) == owner)
                {
                    // Interlocked: only if it is still theirs; a waiter may have taken it over already.
                    if (Interlocked.CompareExchange(ref word.Owner, 0, owner) == owner)
                    {
                        WakeOne(ref word);
                    }
                }
            }
        }
    }

    /// <summary>Frees lock sets that no live process uses.</summary>
    public void CollectLockSets()
    {
        for (var s = 0; s < ControlLayout.MaxLockSets; s++)
        {
            ref var set = ref Control.LockSet(s);
            if (set.State != LockSetEntry.StateLive)
            {
                continue;
            }

            var id = set.Id;
            var users = 0;
            for (var i = 0; i < ControlLayout.MaxAttachments && users == 0; i++)
            {
                ref var a = ref Control.Attachment(i);
                if (a.State == AttachmentEntry.StateLive && a.Kind == AttachmentEntry.KindLockSet && a.Target == s && a.TargetId == id)
                {
                    users++;
                }
            }

            if (users == 0)
            {
                FreeLockSet(s);
            }
        }
    }

    private static void ReleaseLockWord(ref LockWord word)
    {
        Interlocked.Exchange(ref word.Owner, 0); // full fence: the free word is visible before any wake-up
        WakeOne(ref word);
    }

    /// <summary>Wakes one sleeper of a lock word, if any sleeps.</summary>
    public static unsafe void WakeOne(ref LockWord word)
    {
        // Volatile: read the sleeper count after the owner word was cleared (the caller's Interlocked is the fence).
        if (Volatile.Read(ref word.Waiters) > 0)
        {
            Interlocked.Increment(ref word.Sequence); // a sleeper whose expected value is stale returns at once
            fixed (int* sequence = &word.Sequence)
            {
                Interop.Libc.FutexWakeShared(sequence, 1);
            }
        }
    }
}
