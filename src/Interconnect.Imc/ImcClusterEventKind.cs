namespace Interconnect.Imc;

/// <summary>The change a cluster event reports.</summary>
public enum ImcClusterEventKind
{
    /// <summary>IMC_HOST_CHANGE: a host joined or left.</summary>
    HostChange,
    /// <summary>IMC_RAIL_CHANGE: the logical rail configuration changed.</summary>
    RailChange,
    /// <summary>IMC_MULTIPLE_CHANGE: both changed.</summary>
    MultipleChange,
}
