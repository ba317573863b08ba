namespace Interconnect.Driver;

/// <summary>A lock set as a process that allocated it sees it. <see cref="Permissions"/>: 0100 user, 0010 group, 0001 other.</summary>
internal sealed record LockSetHandle(int Slot, long Id, int Key, int Count, int Permissions);
