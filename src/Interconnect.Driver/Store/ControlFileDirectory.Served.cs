using Interconnect.Driver.Directory;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// What imcd needs of the control file to serve a process's request (Agent.AgentSession): the handles a request names,
/// as this control file has them (a request's own fields, such as a region's key, size and coherency or an attach's
/// target and loopback, are never believed: only the slot and id that name the entry); and the control file as imcd
/// serves it on one machine (<c>imcd --local</c>, Agent.LocalAgent): one directory per connected process, registering
/// only the process the socket names, with the kernel's credentials. What only a cluster across machines has (lock
/// arenas, moving write locks, a cluster key) is answered as a cluster on one machine must: there is none.
/// </summary>
internal sealed partial class ControlFileDirectory
{
    /// <summary>
    /// The directory imcd --local serves one connected process with: the cluster's control file, opened now, which
    /// signals only the processes <paramref name="registeredUid"/> says registered through imcd's socket.
    /// </summary>
    internal static ControlFileDirectory Serve(ClusterPaths paths, Func<int, long, int?> registeredUid)
    {
        var local = Open(paths, ControlAccess.All);
        local.RegisteredUid = registeredUid;
        return local;
    }

    /// <summary>The region <paramref name="claimed"/> names by slot and id, as its entry is now; NotAllocated when it is gone.</summary>
    public RegionHandle RegionAsItIs(RegionHandle claimed, LockSetHome? writeLock = null)
    {
        using (_cluster.EnterDirectory())
        {
            if ((uint)claimed.Slot >= ControlLayout.MaxRegions || !_cluster.IsRegionLive(claimed.Slot, claimed.Id))
            {
                throw new DriverException(DriverStatus.NotAllocated,
                    $"region key {claimed.Key} is not allocated in cluster '{ClusterName}' (any more)");
            }

            return Handle(claimed.Slot);
        }
    }

    /// <summary>The lock set <paramref name="claimed"/> names by slot and id, as its entry is now.</summary>
    public LockSetHandle LockSetAsItIs(LockSetHandle claimed)
    {
        using (_cluster.EnterDirectory())
        {
            return (uint)claimed.Slot < ControlLayout.MaxLockSets && _cluster.IsLockSetLive(claimed.Slot, claimed.Id)
                ? LockSetHandleOf(claimed.Slot)
                : throw new DriverException(DriverStatus.NotAllocated,
                    $"lock set key {claimed.Key} is not allocated in cluster '{ClusterName}' (any more)");
        }
    }

    /// <summary>
    /// The transmit attach at <paramref name="entry"/>: it must be <paramref name="process"/>'s, of
    /// <paramref name="region"/>; its target host and loopback as it was made.
    /// </summary>
    public TransmitAttachment TransmitAttachmentOf(ProcessRegistration process, RegionHandle region, int entry)
    {
        using (_cluster.EnterDirectory())
        {
            if ((uint)entry < ControlLayout.MaxAttachments)
            {
                ref var attachment = ref _cluster.Control.Attachment(entry);
                if (attachment.State == AttachmentEntry.StateLive && attachment.Process == process.Slot &&
                    attachment.Target == region.Slot && attachment.TargetId == region.Id &&
                    attachment.Kind is AttachmentEntry.KindTransmit or AttachmentEntry.KindTransmitPointToPoint)
                {
                    var target = attachment.Kind == AttachmentEntry.KindTransmitPointToPoint ? attachment.TargetHost : -1;
                    var loopback = (attachment.Flags & AttachmentEntry.FlagLoopback) != 0;
                    return new TransmitAttachment(entry, target, loopback, HeldWordsOf(region, entry));
                }
            }

            throw new DriverException(DriverStatus.NotAllocated, $"region key {region.Key} is not attached for transmit by this process");
        }
    }

    /// <summary>Nothing to publish: on one machine a lock's owner is its process entry, which <see cref="IsLockOwnerAlive"/> reads.</summary>
    public void PublishOwner(ProcessRegistration process)
    {
    }

    public (byte[] Worker, int Words) LockArena(string machine) =>
        throw new DriverException(DriverStatus.NotSupported,
            $"cluster '{ClusterName}' runs on one machine (imcd --local): it has no lock arena of machine " +
            $"'{ClusterPaths.Printable(machine)}'; its lock words are in its control file");

    public LockSetHome RehomeWriteLock(int key, LockSetHome failed) =>
        throw new DriverException(DriverStatus.NotSupported,
            $"cluster '{ClusterName}' runs on one machine (imcd --local): the write lock of coherent region key {key} is in " +
            "its control file and never moves");

    /// <summary>The up hosts, in slot order: on one machine, every host of the cluster.</summary>
    public IReadOnlyList<string> ClusterHosts() => _cluster.ReadInfo().Hosts;

    public byte[] ClusterKey() =>
        throw new DriverException(DriverStatus.NotSupported,
            $"cluster '{ClusterName}' runs on one machine (imcd --local): it has no data connections between machines, and no key for them");

    /// <summary>Makes the loss tally of <paramref name="uid"/> (a user whose process imcd registers) when it has none.</summary>
    public void KeepTally(int uid)
    {
        using (_cluster.EnterDirectory())
        {
            _cluster.KeepTally(uid);
        }
    }

    /// <summary>Records the losses counted in tallies since the last look as errors of physical rails.</summary>
    public void RecordTalliedLosses() => _cluster.RecordTalliedLosses();
}
