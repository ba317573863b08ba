using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>Direct regions' one memory, as the repair pass and the checker see it (see ControlFileDirectory.Direct.cs).</summary>
internal sealed partial class Cluster
{
    /// <summary>Whether a direct memory belongs to a live direct region.</summary>
    public bool IsDirectMemoryKnown(long regionId)
    {
        for (var slot = 0; slot < ControlLayout.MaxRegions; slot++)
        {
            ref var region = ref Control.Region(slot);
            if (region.State == RegionEntry.StateLive && region.Id == regionId)
            {
                return (region.Flags & RegionEntry.FlagDirect) != 0;
            }
        }

        return false;
    }
}
