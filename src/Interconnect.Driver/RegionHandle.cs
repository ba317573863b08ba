namespace Interconnect.Driver;

/// <summary>A region as its allocator sees it. <see cref="Permissions"/> are UNIX mode bits (rw-rw---- is 0660).</summary>
internal sealed record RegionHandle(int Slot, long Id, int Key, long Size, int LogicalRail, bool Coherent, int Permissions);
