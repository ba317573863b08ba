namespace Interconnect.Imc;

/// <summary>Flags of <see cref="ImcContext.AllocateRegion"/>.</summary>
[Flags]
public enum ImcRegionFlags
{
    /// <summary>A non-coherent region: a receiver sees only what is written after it attaches.</summary>
    None = 0,
    /// <summary>IMC_COHERENT: every host sees every update, whenever it attaches; implies loopback.</summary>
    Coherent = 1,
}
