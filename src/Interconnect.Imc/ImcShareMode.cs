namespace Interconnect.Imc;

/// <summary>How an attach shares its direction with other processes of the same host.</summary>
public enum ImcShareMode
{
    /// <summary>IMC_SHARED: other processes of this host may attach the same direction too.</summary>
    Shared,
    /// <summary>IMC_NONSHARED: this is the only attach of its direction on this host.</summary>
    NonShared,
}
