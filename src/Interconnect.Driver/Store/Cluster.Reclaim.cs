using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// Reclamation without a daemon: every directory operation first drops what dead processes held; a lock taken over
/// from a dead holder also repairs what that holder left half-done. Both run with the directory lock held.
/// </summary>
internal sealed partial class Cluster
{
    /// <summary>Drops dead processes' entries, then frees what no one uses any more.</summary>
    public void Reclaim(bool fullRepair)
    {
        var anyDead = false;
        for (var p = 0; p < ControlLayout.MaxProcesses; p++)
        {
            ref var process = ref Control.Process(p);
            if (process.State == ProcessEntry.StateLive && !ProcessIdentity.IsAlive(process.Pid, process.StartTime))
            {
                ReleaseProcess(p);
                anyDead = true;
            }
        }

        if (anyDead || fullRepair)
        {
            CollectGarbage(scanFiles: fullRepair || anyDead);
        }
    }

    /// <summary>
    /// Frees entries that refer to nothing, regions no process allocates, receive files no receiver uses, and, when
    /// <paramref name="scanFiles"/>, files in the regions folder that the directory does not know.
    /// </summary>
    public void CollectGarbage(bool scanFiles)
    {
        for (var i = 0; i < ControlLayout.MaxAttachments; i++)
        {
            ref var a = ref Control.Attachment(i);
            if (a.State != AttachmentEntry.StateLive)
            {
                continue;
            }

            var ownerLive = (uint)a.Process < ControlLayout.MaxProcesses &&
                Control.Process(a.Process).State == ProcessEntry.StateLive;
            var targetLive = a.Kind == AttachmentEntry.KindLockSet
                ? (uint)a.Target < ControlLayout.MaxLockSets && IsLockSetLive(a.Target, a.TargetId)
                : (uint)a.Target < ControlLayout.MaxRegions && IsRegionLive(a.Target, a.TargetId);
            if (!ownerLive || !targetLive)
            {
                RemoveAttachment(i);
            }
        }

        for (var slot = 0; slot < ControlLayout.MaxRegions; slot++)
        {
            ref var region = ref Control.Region(slot);
            if (region.State != RegionEntry.StateLive)
            {
                continue;
            }

            var id = region.Id;
            if (!AttachmentsOf(slot, id, static k => k == AttachmentEntry.KindAllocation).Any())
            {
                FreeRegion(slot);
                continue;
            }

            DropUnusedReceiveFiles(slot);
        }

        CollectLockSets();
        if (scanFiles)
        {
            RemoveUnknownFiles();
        }
    }

    /// <summary>
    /// Removes the receive files of hosts that no longer have a receive attach to the region. A coherent region keeps
    /// at least one copy of its contents while it lives, for the next host that attaches.
    /// </summary>
    public void DropUnusedReceiveFiles(int slot)
    {
        ref var region = ref Control.Region(slot);
        var coherent = (region.Flags & RegionEntry.FlagCoherent) != 0;
        for (var host = 0; host < ControlLayout.MaxHosts; host++)
        {
            var bit = 1u << host;
            if ((region.ReceiveFileMask & bit) == 0 || HostHasReceive(slot, region.Id, host))
            {
                continue;
            }

            if (coherent && (region.ReceiveFileMask & ~bit) == 0)
            {
                continue; // the last copy of a coherent region's contents
            }

            DropReceiveFile(slot, host);
        }
    }

    private void RemoveUnknownFiles()
    {
        foreach (var (_, name) in Fabric.Inventory())
        {
            if (name is { } file && !IsKnownFile(file))
            {
                Fabric.Delete(file);
            }
        }
    }

    public bool IsKnownFile(Fabric.ReceiveFileName file)
    {
        if (file.IsDirect)
        {
            return IsDirectMemoryKnown(file.RegionId);
        }

        if ((uint)file.Host >= ControlLayout.MaxHosts)
        {
            return false;
        }

        for (var slot = 0; slot < ControlLayout.MaxRegions; slot++)
        {
            ref var region = ref Control.Region(slot);
            if (region.State == RegionEntry.StateLive && region.Id == file.RegionId)
            {
                return (region.ReceiveFileMask & (1u << file.Host)) != 0 && FileEpoch(ref region, file.Host) == file.Epoch;
            }
        }

        return false;
    }
}
