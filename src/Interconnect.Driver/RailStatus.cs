namespace Interconnect.Driver;

/// <summary>A logical rail as <c>imcs -s</c> shows it.</summary>
internal sealed record LogicalRailStatus(
    int Rail, int ErrorCount, bool Processing, bool Down, int ActivePhysical, int PendingDrops, long Writes, long Bytes,
    long Drops);

/// <summary>A physical rail as <c>imcs -s</c> shows it.</summary>
internal sealed record PhysicalRailStatus(int Rail, int LogicalRail, bool Failed, bool Active, int Errors);

/// <summary>Every rail of a cluster.</summary>
internal sealed record RailStatus(int RailStyle, IReadOnlyList<LogicalRailStatus> Logical, IReadOnlyList<PhysicalRailStatus> Physical);
