namespace Interconnect.Driver;

/// <summary>The cluster's membership and rails at one moment (<c>imc_getclusterinfo</c>).</summary>
public sealed record ClusterInfoSnapshot(IReadOnlyList<string> Hosts, int LogicalRails, uint ActiveRailMask);
