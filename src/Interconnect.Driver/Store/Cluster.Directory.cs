using System.Text;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>Queries and changes of the directory. Every method here runs with the directory lock held.</summary>
internal sealed partial class Cluster
{
    public long PageSize => Control.Header.PageSize;

    public long PageRounded(long size) => (size + PageSize - 1) / PageSize * PageSize;

    public unsafe string HostName(int host)
    {
        ref var entry = ref Control.Host(host);
        var length = Math.Clamp(entry.NameLength, 0, HostEntry.NameCapacity - 1);
        fixed (byte* name = entry.Name)
        {
            return Encoding.ASCII.GetString(name, length);
        }
    }

    /// <summary>The slot of the host called <paramref name="name"/>, up or down; -1 when none.</summary>
    public int FindHost(string name)
    {
        for (var i = 0; i < ControlLayout.MaxHosts; i++)
        {
            if (Control.Host(i).State != HostEntry.StateFree && HostName(i) == name)
            {
                return i;
            }
        }

        return -1;
    }

    public bool IsHostUp(int host) => (uint)host < ControlLayout.MaxHosts && Control.Host(host).State == HostEntry.StateUp;

    public int FindRegionByKey(int key)
    {
        for (var i = 0; i < ControlLayout.MaxRegions; i++)
        {
            ref var region = ref Control.Region(i);
            if (region.State == RegionEntry.StateLive && region.Key == key)
            {
                return i;
            }
        }

        return -1;
    }

    public bool IsRegionLive(int slot, long id)
    {
        ref var region = ref Control.Region(slot);
        return region.State == RegionEntry.StateLive && region.Id == id;
    }

    public int FindAttachment(int process, int kind, int target, long targetId)
    {
        for (var i = 0; i < ControlLayout.MaxAttachments; i++)
        {
            ref var a = ref Control.Attachment(i);
            if (a.State == AttachmentEntry.StateLive && a.Process == process && a.Kind == kind &&
                a.Target == target && a.TargetId == targetId)
            {
                return i;
            }
        }

        return -1;
    }

    public int FreeAttachmentSlot()
    {
        for (var i = 0; i < ControlLayout.MaxAttachments; i++)
        {
            if (Control.Attachment(i).State == AttachmentEntry.StateFree)
            {
                return i;
            }
        }

        throw new DriverException(DriverStatus.NoResources,
            $"all {ControlLayout.MaxAttachments} attachment entries of the cluster are in use: use fewer regions or processes");
    }

    /// <summary>Makes a live attachment entry; the state is written last, so a crash leaves no half-made entry.</summary>
    public unsafe int AddAttachment(int process, int kind, int target, long targetId, int shareMode = 0, int flags = 0, int targetHost = -1)
    {
        var slot = FreeAttachmentSlot();
        ref var a = ref Control.Attachment(slot);
        a.Kind = kind;
        a.Process = process;
        a.Target = target;
        a.TargetId = targetId;
        a.ShareMode = shareMode;
        a.Flags = flags;
        a.TargetHost = targetHost;
        if (a.Kind is AttachmentEntry.KindTransmit or AttachmentEntry.KindTransmitPointToPoint && (uint)target < ControlLayout.MaxRegions &&
            WindowsOf(target) is var windows && windows is not null)
        {
            RegionWindowsFile.Window(windows, slot) = default;
        }
        Volatile.Write(ref a.State, AttachmentEntry.StateLive); // release: the fields above are complete before the entry counts
        return slot;
    }

    /// <summary>Frees an attachment entry; a transmit entry's counters move to its rail's retired totals.</summary>
    public unsafe void RemoveAttachment(int slot)
    {
        ref var a = ref Control.Attachment(slot);
        if (a.Kind is AttachmentEntry.KindTransmit or AttachmentEntry.KindTransmitPointToPoint &&
            (uint)a.Target < ControlLayout.MaxRegions)
        {
            var rail = Control.Region(a.Target).LogicalRail;
            var windows = WindowsOf(a.Target); // null when this process may not map them: the counts stay uncounted
            if ((uint)rail < ControlLayout.MaxLogicalRails && windows is not null)
            {
                ref var r = ref Control.Rail(rail);
                ref var counters = ref RegionWindowsFile.Window(windows, slot);
                // Interlocked: writers never touch these totals, but imcs may read them while we add.
                Interlocked.Add(ref r.RetiredWrites, counters.TotalWrites);
                Interlocked.Add(ref r.RetiredBytes, counters.TotalBytes);
                Interlocked.Add(ref r.RetiredDrops, Volatile.Read(ref counters.Drops));
            }
        }

        Volatile.Write(ref a.State, AttachmentEntry.StateFree);
    }

    /// <summary>The process of each live attachment to a region, in a given direction, on a given host.</summary>
    public IEnumerable<int> AttachmentsOf(int regionSlot, long regionId, Func<int, bool> kindMatches, int host = -1)
    {
        for (var i = 0; i < ControlLayout.MaxAttachments; i++)
        {
            ref var a = ref Control.Attachment(i);
            if (a.State == AttachmentEntry.StateLive && a.Target == regionSlot && a.TargetId == regionId &&
                kindMatches(a.Kind) && (host < 0 || ProcessHost(a.Process) == host))
            {
                yield return i;
            }
        }
    }

    public int ProcessHost(int process) =>
        (uint)process < ControlLayout.MaxProcesses ? Control.Process(process).Host : -1;

    public bool HostHasReceive(int regionSlot, long regionId, int host) =>
        AttachmentsOf(regionSlot, regionId, static k => k == AttachmentEntry.KindReceive, host).Any();

    /// <summary>Bytes of receive space in use on <paramref name="host"/>: its receive files, and every coherent region.</summary>
    public long HostReceiveUsed(int host)
    {
        long used = 0;
        for (var i = 0; i < ControlLayout.MaxRegions; i++)
        {
            ref var region = ref Control.Region(i);
            if (region.State != RegionEntry.StateLive)
            {
                continue;
            }

            if ((region.Flags & RegionEntry.FlagCoherent) != 0 || (region.ReceiveFileMask & (1u << host)) != 0)
            {
                used += PageRounded(region.RegionSize);
            }
        }

        return used;
    }

    /// <summary>Bytes of clusterwide address space allocated.</summary>
    public long TotalAllocated()
    {
        long used = 0;
        for (var i = 0; i < ControlLayout.MaxRegions; i++)
        {
            ref var region = ref Control.Region(i);
            if (region.State == RegionEntry.StateLive)
            {
                used += PageRounded(region.RegionSize);
            }
        }

        return used;
    }

    public ReceiveFileName FileName(int regionSlot, int host)
    {
        ref var region = ref Control.Region(regionSlot);
        return new ReceiveFileName(region.Id, host, FileEpoch(ref region, host));
    }

    public static unsafe int FileEpoch(ref RegionEntry region, int host) => region.FileEpoch[host];

    public static unsafe void SetFileEpoch(ref RegionEntry region, int host, int epoch) => region.FileEpoch[host] = epoch;

    /// <summary>Signals that a region's set of receive files changed: writers re-read their routes.</summary>
    public static void BumpGeneration(ref RegionEntry region) =>
        Interlocked.Increment(ref region.Generation); // every writer polls this word; the increment publishes the change

    /// <summary>Removes a host's receive file of a region (the host's last receive attach went away).</summary>
    public void DropReceiveFile(int regionSlot, int host)
    {
        ref var region = ref Control.Region(regionSlot);
        var name = FileName(regionSlot, host);
        region.ReceiveFileMask &= ~(1u << host);
        BumpGeneration(ref region);
        Fabric.Delete(name);
    }

    /// <summary>Frees a region: state first, so no one uses it, then its entries and files.</summary>
    public void FreeRegion(int slot)
    {
        ref var region = ref Control.Region(slot);
        var id = region.Id;
        Volatile.Write(ref region.State, RegionEntry.StateFree);
        BumpGeneration(ref region);
        for (var i = 0; i < ControlLayout.MaxAttachments; i++)
        {
            ref var a = ref Control.Attachment(i);
            if (a.State == AttachmentEntry.StateLive && a.Target == slot && a.TargetId == id && a.Kind != AttachmentEntry.KindLockSet)
            {
                RemoveAttachment(i);
            }
        }

        for (var host = 0; host < ControlLayout.MaxHosts; host++)
        {
            if ((region.ReceiveFileMask & (1u << host)) != 0)
            {
                Fabric.Delete(new ReceiveFileName(id, host, FileEpoch(ref region, host)));
            }
        }

        if ((region.Flags & RegionEntry.FlagDirect) != 0)
        {
            Fabric.Delete(ReceiveFileName.Direct(id));
        }

        region.ReceiveFileMask = 0;
        RemoveEntryFile(RegionWindowsFile.PathOf(Paths, id)); // after the windows' counters were retired
    }

    /// <summary>Drops everything a process held and frees its slot.</summary>
    public void ReleaseProcess(int process)
    {
        ReleaseLocksOf(LockOwner(process, Control.Process(process).Incarnation));
        for (var i = 0; i < ControlLayout.MaxAttachments; i++)
        {
            ref var a = ref Control.Attachment(i);
            if (a.State == AttachmentEntry.StateLive && a.Process == process)
            {
                RemoveAttachment(i);
            }
        }

        Volatile.Write(ref Control.Process(process).State, ProcessEntry.StateFree);
    }

    /// <summary>A host joined or left: every logical rail's error count rises, and event waiters wake.</summary>
    public void RecordHostChange()
    {
        ref var header = ref Control.Header;
        for (var r = 0; r < header.LogicalRails; r++)
        {
            RaiseError(r);
        }

        ref var words = ref Control.Words;
        Interlocked.Increment(ref words.HostSequence);
        Interlocked.Increment(ref words.EventSequence); // event waiters sleep on this word
        ClusterEventWatcher.WakeAll(ref words.EventSequence);
    }

    /// <summary>
    /// The up hosts, the logical rail count and the mask of active logical rails: in the directory, or, for a process
    /// that may not change it (imcd serves the cluster), entry by entry as <c>imcs</c> reads it; a host is up only once
    /// its name is whole, and a change seen half is seen whole at the next event, which its sequence announces.
    /// </summary>
    public ClusterInfoSnapshot ReadInfo()
    {
        if (!Control.CanWriteDirectory)
        {
            return ReadInfoHeld();
        }

        using (EnterDirectory())
        {
            return ReadInfoHeld();
        }
    }

    /// <summary><see cref="ReadInfo"/> for a caller that already holds the directory (or reads it without).</summary>
    public ClusterInfoSnapshot ReadInfoHeld()
    {
        ref var header = ref Control.Header;
        // The sequences first: rails change without the directory lock, so a change between the two reads must leave
        // a snapshot that is older than it (its waiter wakes for it), never one whose sequence already counts a change
        // its mask does not show (a waiter would miss that change for good).
        var hostSequence = Volatile.Read(ref Control.Words.HostSequence);
        var railSequence = Volatile.Read(ref Control.Words.RailSequence);
        uint mask = 0;
        for (var r = 0; r < header.LogicalRails; r++)
        {
            if ((Volatile.Read(ref Control.Rail(r).FaultWord) & LogicalRailEntry.FaultRailDown) == 0)
            {
                mask |= 1u << r;
            }
        }

        return new ClusterInfoSnapshot([.. UpHosts().Select(HostName)], header.LogicalRails, mask, hostSequence, railSequence);
    }
}
