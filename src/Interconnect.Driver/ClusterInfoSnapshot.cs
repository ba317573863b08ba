namespace Interconnect.Driver;

/// <summary>
/// The cluster's membership and rails at one moment (<c>imc_getclusterinfo</c>). The sequences count host and rail
/// changes, so a change that was undone (a failover, a host that left and came back) still shows.
/// </summary>
internal sealed record ClusterInfoSnapshot(
    IReadOnlyList<string> Hosts, int LogicalRails, uint ActiveRailMask, int HostSequence, int RailSequence);
