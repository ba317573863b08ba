namespace Interconnect.Driver.Status;

/// <summary>Everything <c>imcs</c> shows about a cluster, read at one moment without attaching to it or changing it.</summary>
internal sealed record ClusterStatus(
    string Cluster,
    string Directory,
    int LayoutVersion,
    DateTimeOffset Created,
    long MaxAllocBytes,
    long AllocatedBytes,
    long OverheadBytes,
    int PhysicalRails,
    int RailStyle,
    int LogicalRails,
    int ErrorWindowMs,
    IReadOnlyList<HostStatus> Hosts,
    IReadOnlyList<ProcessStatus> Processes,
    IReadOnlyList<RegionStatus> Regions,
    IReadOnlyList<LockSetStatus> LockSets,
    RailStatus Rails)
{
    /// <summary>The cluster's machines, when it spans machines (a directory in etcd); null on one machine.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<MachineStatus>? Machines { get; init; }
}

/// <summary>
/// A machine of a cluster across machines: where its agent is, its state ("up", or "fenced" when the machine reading
/// the status is fenced itself), its hosts, and its epoch (see API.md "Faults across machines").
/// </summary>
internal sealed record MachineStatus(string Name, string Address, string State, IReadOnlyList<string> Hosts, long Epoch = 0);

/// <summary>A host: up or down, its receive space, its registered processes.</summary>
internal sealed record HostStatus(string Name, string State, long MaxRecvBytes, long ReceiveUsedBytes, IReadOnlyList<int> ProcessIds);

/// <summary>A registered process; <see cref="Alive"/> is false for one that died and awaits reclamation.</summary>
internal sealed record ProcessStatus(int Pid, string Host, int Uid, bool Alive);

/// <summary>A region with its attaches. <see cref="Id"/> is 0 for a region that only other machines have allocated.</summary>
internal sealed record RegionStatus(
    long Id, int Key, long Size, string Mode, string Owner, string Group, int LogicalRail, bool Coherent,
    IReadOnlyList<AttachStatus> Allocations, IReadOnlyList<AttachStatus> Transmit, IReadOnlyList<AttachStatus> Receive);

/// <summary>
/// One process's hold on a region: its allocation, or an attach. <see cref="Target"/> names a point-to-point
/// transmit attach's host.
/// </summary>
internal sealed record AttachStatus(string Host, int Pid, bool Alive, bool Loopback, string? Target, bool NonShared)
{
    /// <summary>
    /// Across machines: the machine of a hold seen in the directory (a receiver or a lock-set user elsewhere, or a
    /// machine that has the region allocated: then <see cref="Host"/> is empty and <see cref="Pid"/> 0).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Machine { get; init; }
}

/// <summary>A lock set, its users and the locks held.</summary>
internal sealed record LockSetStatus(
    long Id, int Key, int Count, string Mode, string Owner, string Group, IReadOnlyList<AttachStatus> Users,
    IReadOnlyList<HeldLock> Held)
{
    /// <summary>Across machines: the machine whose lock arena holds the set's words (then <see cref="Id"/> is 0).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Home { get; init; }

    /// <summary>Across machines: the words could not be read (the home machine did not answer), so <see cref="Held"/> is not known.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool HeldUnknown { get; init; }
}

/// <summary>A held lock and its holder.</summary>
internal sealed record HeldLock(int Index, string Host, int Pid, bool Alive);
