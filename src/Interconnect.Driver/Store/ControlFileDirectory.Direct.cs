using Interconnect.Driver.Directory;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// Direct regions, for C programs that store through their transmit pointer (<c>libimc.so</c>). A direct region has
/// one memory on this machine (<see cref="ReceiveFileName.Direct"/>), made with the region; every host's receive file
/// is a link to it and every transmit route is that one memory, so a plain store reaches every receiver. What one
/// memory cannot honour is refused with <see cref="DriverStatus.NotSupported"/>: point-to-point attaches, a host that
/// both receives and transmits without loopback (loopback isolation), and injected drops on the region's rail.
/// </summary>
internal sealed partial class ControlFileDirectory
{
    /// <summary>Makes a new direct region's one memory (zeroed), before the region is live.</summary>
    private void CreateDirectMemory(int slot)
    {
        ref var region = ref _cluster.Control.Region(slot);
        _cluster.Fabric.Create(ReceiveFileName.Direct(region.Id), _cluster.PageRounded(region.RegionSize),
            Credentials.FileMode(region.Permissions), (region.OwnerUid, region.OwnerGid), copyFrom: null);
    }

    /// <summary>A receive attach of a direct region: refused where this host transmits to it without loopback.</summary>
    private void CheckDirectReceive(ProcessRegistration process, RegionHandle handle)
    {
        if (handle.Coherent)
        {
            return; // coherent regions loop back anyway
        }

        foreach (var a in _cluster.AttachmentsOf(handle.Slot, handle.Id, static k => k == AttachmentEntry.KindTransmit, process.Host))
        {
            if ((_cluster.Control.Attachment(a).Flags & AttachmentEntry.FlagLoopback) == 0)
            {
                throw new DriverException(DriverStatus.NotSupported,
                    $"region key {handle.Key} is direct (made by a C program for plain stores) and host '{process.HostName}' " +
                    "transmits to it without loopback: one memory cannot keep that host's own writes from its receivers; " +
                    "receive on another host, or attach for transmit with IMC_LOOPBACK");
            }
        }
    }

    /// <summary>A broadcast transmit attach of a direct region: refused where it would break loopback isolation or drops.</summary>
    private void CheckDirectTransmit(ProcessRegistration process, RegionHandle handle, bool loopback)
    {
        ref var region = ref _cluster.Control.Region(handle.Slot);
        if (!handle.Coherent && !loopback && (region.ReceiveFileMask & (1u << process.Host)) != 0)
        {
            throw new DriverException(DriverStatus.NotSupported,
                $"region key {handle.Key} is direct (made by a C program for plain stores) and host '{process.HostName}' " +
                "receives it: one memory cannot keep this host's writes from its own receivers without loopback; attach " +
                "with IMC_LOOPBACK, or transmit from another host");
        }

        if ((Volatile.Read(ref _cluster.Control.Rail(handle.LogicalRail).FaultWord) & LogicalRailEntry.FaultDropsPending) != 0)
        {
            throw new DriverException(DriverStatus.NotSupported,
                $"region key {handle.Key} is direct (made by a C program for plain stores) and drops are injected on its " +
                $"logical rail {handle.LogicalRail}: plain stores cannot be dropped; wait until they are used up, or use " +
                "a region made by imc_asalloc from .NET with imc_bcopy");
        }
    }

    private static DriverException DirectPointToPoint(RegionHandle handle, string hostName) =>
        new(DriverStatus.NotSupported,
            $"region key {handle.Key} is direct (made by a C program for plain stores): every host's receive memory of " +
            $"it is one memory, so writes cannot reach host '{ClusterPaths.Printable(hostName)}' alone; use a region " +
            "that is not direct for point-to-point");

    /// <summary>A direct region's route: its one memory, whoever receives (a later receiver sees what is there).</summary>
    private RouteSet DirectRoute(ProcessRegistration process, RegionHandle handle, int generation) =>
        new(generation, [new RouteReceiver(process.Host, ReceiveFileName.Direct(handle.Id))], _cluster.PageRounded(handle.Size));

    /// <summary>Drops cannot be injected on a rail that carries a direct region: its plain stores cannot be dropped.</summary>
    private void CheckNoDirectRegion(int logicalRail)
    {
        using (_cluster.EnterDirectory())
        {
            for (var slot = 0; slot < ControlLayout.MaxRegions; slot++)
            {
                ref var region = ref _cluster.Control.Region(slot);
                if (region.State == RegionEntry.StateLive && region.LogicalRail == logicalRail &&
                    (region.Flags & RegionEntry.FlagDirect) != 0)
                {
                    throw new DriverException(DriverStatus.NotSupported,
                        $"logical rail {logicalRail} carries region key {region.Key}, which is direct (made by a C program " +
                        "for plain stores): its stores cannot be dropped; inject drops on another rail, or deallocate it first");
                }
            }
        }
    }
}
