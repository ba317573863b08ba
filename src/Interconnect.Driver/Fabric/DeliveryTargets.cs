using Interconnect.Driver.Directory;
using Interconnect.Driver.Fabric.Ucx;

namespace Interconnect.Driver.Fabric;

/// <summary>
/// Opens the way for a writer's data into each receive memory a route names: the machine's memory fabric for a
/// receiver on this machine (<see cref="IDirectory.MemoryFabric"/>), the process's UCX (the emulated NIC) for one on
/// another. The directory says who receives (<see cref="RouteSet"/>); this says how, and a route holds what it returned.
/// One per session.
/// </summary>
internal sealed class DeliveryTargets(IDirectory directory, Lazy<UcxFabric> remote)
{
    /// <summary>Opens the target of <paramref name="receiver"/>, whose memory the route maps <paramref name="mappedLength"/> bytes of.</summary>
    public IDeliveryTarget Open(RouteReceiver receiver, long mappedLength)
    {
        if (receiver.Remote is not { } memory)
        {
            return directory.MemoryFabric.OpenTarget(receiver.Memory, mappedLength);
        }

        if (directory.ProcessStanding is not { } standing)
        {
            throw new DriverException(DriverStatus.NotSupported,
                $"this cluster is one machine's: it has no receive memory on machine '{memory.Machine}'");
        }

        // A write the target machine refuses (its memory was withdrawn) counts on this machine's rail: every directory
        // of the process counts on this machine's control file, so the one that opened the latest target will do.
        var fabric = remote.Value;
        fabric.RefusedOnRail = directory.RecordDeliveryError;
        return fabric.OpenTarget(memory, standing);
    }
}
