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

    /// <summary>The first of <paramref name="count"/> consecutive lock words no live lock set uses; -1 when none.</summary>
    public int FindFreeLocks(int count)
    {
        var used = new bool[ControlLayout.MaxLocks];
        for (var i = 0; i < ControlLayout.MaxLockSets; i++)
        {
            ref var set = ref Control.LockSet(i);
            if (set.State == LockSetEntry.StateLive)
            {
                used.AsSpan(Math.Clamp(set.FirstLock, 0, ControlLayout.MaxLocks),
                    Math.Clamp(set.Count, 0, ControlLayout.MaxLocks - Math.Clamp(set.FirstLock, 0, ControlLayout.MaxLocks))).Fill(true);
            }
        }

        var run = 0;
        for (var i = 0; i < ControlLayout.MaxLocks; i++)
        {
            run = used[i] ? 0 : run + 1;
            if (run == count)
            {
                return i - count + 1;
            }
        }

        return -1;
    }

    /// <summary>Frees a lock set no process uses any more.</summary>
    public void FreeLockSet(int slot)
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

        for (var i = 0; i < set.Count; i++)
        {
            ReleaseLockWord(ref Control.Lock(set.FirstLock + i));
        }
    }

    /// <summary>Releases every lock held by a registration (it died, or its host went down).</summary>
    public void ReleaseLocksOf(long owner)
    {
        for (var s = 0; s < ControlLayout.MaxLockSets; s++)
        {
            ref var set = ref Control.LockSet(s);
            if (set.State != LockSetEntry.StateLive)
            {
                continue;
            }

            for (var i = 0; i < set.Count; i++)
            {
                ref var word = ref Control.Lock(set.FirstLock + i);
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
