using Interconnect.Driver.Directory;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// What imcd needs to serve a process's request (Agent.AgentSession): the handles a request names, as this control
/// file has them. A request's own fields (a region's key, size, coherency; an attach's target and loopback) are never
/// believed: only the slot and id that name the entry.
/// </summary>
internal sealed partial class ControlFileDirectory
{
    /// <summary>The region <paramref name="claimed"/> names by slot and id, as its entry is now; NotAllocated when it is gone.</summary>
    internal RegionHandle RegionAsItIs(RegionHandle claimed)
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

    /// <summary>
    /// The transmit attach at <paramref name="entry"/>: it must be <paramref name="process"/>'s, of
    /// <paramref name="region"/>; its target host and loopback as it was made.
    /// </summary>
    internal TransmitAttachment TransmitAttachmentOf(ProcessRegistration process, RegionHandle region, int entry)
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
                    return new TransmitAttachment(entry, target, loopback, WordsOf(region, entry));
                }
            }

            throw new DriverException(DriverStatus.NotAllocated, $"region key {region.Key} is not attached for transmit by this process");
        }
    }
}
