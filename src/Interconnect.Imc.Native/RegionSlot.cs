namespace Interconnect.Imc.Native;

/// <summary>What an <c>imc_asid_t</c> names: the region this process allocated and its attaches from C.</summary>
internal sealed class RegionSlot(ImcRegion region)
{
    public ImcRegion Region { get; } = region;

    public TransmitRange? Transmit { get; set; }

    public ImcReceiveWindow? Receive { get; set; }
}
