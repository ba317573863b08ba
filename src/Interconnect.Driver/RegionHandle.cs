namespace Interconnect.Driver;

/// <summary>A region as its allocator sees it. <see cref="Permissions"/> are UNIX mode bits (rw-rw---- is 0660).</summary>
internal sealed record RegionHandle(int Slot, long Id, int Key, long Size, int LogicalRail, bool Coherent, int Permissions)
{
    /// <summary>
    /// A direct region (made for C's transmit pointers): on this machine every host's receive memory of it is one
    /// shared memory, so a plain store through a transmit mapping reaches every receiver.
    /// </summary>
    public bool Direct { get; init; }

    /// <summary>A coherent region across machines: where its write lock is (<see cref="ClusterWriteLock"/>); null otherwise.</summary>
    public LockSetHome? WriteLock { get; init; }
}
