namespace Interconnect.Imc;

/// <summary>What <see cref="ImcContext.WaitForClusterEventAsync"/> saw change, and the cluster after the change.</summary>
/// <param name="Kind">Hosts, rails, or both changed.</param>
/// <param name="Info">The new cluster information.</param>
public sealed record ImcClusterEvent(ImcClusterEventKind Kind, ImcClusterInfo Info);
