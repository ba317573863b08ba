namespace Interconnect.Imc;

/// <summary>Flags of <see cref="ImcRegion.AttachTransmit"/>.</summary>
[Flags]
public enum ImcAttachFlags
{
    /// <summary>Writes reach other hosts only.</summary>
    None = 0,
    /// <summary>IMC_LOOPBACK: writes also reach this host's receive memory. Fixed per host by its first transmit attach.</summary>
    Loopback = 1,
}
