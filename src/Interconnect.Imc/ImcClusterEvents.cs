namespace Interconnect.Imc;

/// <summary>The cluster events to wait for (<c>IMC_CC_EVENT_HOST</c>, <c>IMC_CC_EVENT_RAIL</c>).</summary>
[Flags]
public enum ImcClusterEvents
{
    /// <summary>A host joins or leaves.</summary>
    Host = 1,
    /// <summary>The logical rail configuration changes.</summary>
    Rail = 2,
}
