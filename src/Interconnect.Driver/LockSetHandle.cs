namespace Interconnect.Driver;

/// <summary>
/// A lock set as a process that allocated it sees it. <see cref="Permissions"/>: 0100 user, 0010 group, 0001 other.
/// <see cref="Home"/> is null for a set whose words are in this machine's control file, and names where they are for
/// a set across machines (then <see cref="Slot"/> is -1).
/// </summary>
internal sealed record LockSetHandle(int Slot, long Id, int Key, int Count, int Permissions, LockSetHome? Home = null);

/// <summary>Where the words of a lock set across machines live: words <see cref="First"/>.. of <see cref="Machine"/>'s lock arena.</summary>
internal sealed record LockSetHome(string Machine, int First);
