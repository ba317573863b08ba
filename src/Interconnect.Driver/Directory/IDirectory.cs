using Interconnect.Driver.Fabric;
using Interconnect.Driver.Status;

namespace Interconnect.Driver.Directory;

/// <summary>
/// Who exists and who is attached: regions, lock sets, hosts, processes, rails and their events. Every operation is
/// atomic across the cluster: it happens whole or not at all, also when its process dies half-way. The API reaches
/// the directory only through this interface, and the data path only through the hot words it hands out
/// (<see cref="WindowWords"/>, lock words, rail words), so an implementation may keep the directory in one machine's
/// control file (<see cref="Store.ControlFileDirectory"/>, the embedded default) or elsewhere, mirrored into each
/// machine's control file so that local processes keep their fast path.
/// </summary>
internal interface IDirectory : IDisposable
{
    /// <summary>The cluster's name, for messages.</summary>
    string ClusterName { get; }

    /// <summary>The fabric that holds this machine's receive memory and reaches the others'.</summary>
    IFabric Fabric { get; }

    int LogicalRails { get; }

    // Membership: hosts and processes.

    /// <summary>
    /// Creates the cluster if needed and brings <paramref name="host"/> up (a host join), or reconfigures an up host's
    /// limits. Values left null keep their current setting (or the default, for a new cluster or host).
    /// </summary>
    HostInitResult InitializeHost(string host, long? maxAllocBytes, long? maxRecvBytes);

    /// <summary>Takes <paramref name="host"/> out of the cluster (a host leave).</summary>
    void TakeHostDown(string host);

    /// <summary>Registers this process on <paramref name="hostName"/>: <see cref="DriverStatus.NotInitialized"/> when it is not up.</summary>
    ProcessRegistration Register(string hostName);

    /// <summary>Releases everything the process still holds and removes its registration, as its exit would.</summary>
    void Unregister(ProcessRegistration process);

    // Regions.

    /// <summary>
    /// Allocates a region, creating it if needed; <paramref name="direct"/> creates it direct (see
    /// <see cref="RegionHandle.Direct"/>); an existing region keeps what it was created as.
    /// </summary>
    RegionHandle AllocateRegion(ProcessRegistration process, int key, long size, int permissions, bool coherent, int logicalRail,
        bool direct = false);

    /// <summary>Deallocates strictly: <see cref="DriverStatus.Attached"/> while the process is still attached.</summary>
    void DeallocateRegion(ProcessRegistration process, RegionHandle region);

    /// <summary>
    /// Records a receive attach, making the host's receive memory first if it has none (zeroed, or for a coherent
    /// region a copy of the current contents); returns the memory to map, with its mapped length.
    /// </summary>
    (ReceiveFileName Memory, long MappedLength) AttachReceive(ProcessRegistration process, RegionHandle region, bool nonShared);

    /// <summary>Records a transmit attach: broadcast (<paramref name="targetHost"/> null) or point-to-point.</summary>
    TransmitAttachment AttachTransmit(ProcessRegistration process, RegionHandle region, bool nonShared, bool loopback,
        string? targetHost);

    /// <summary>Detaches the process from a region in the given directions; false when it was not attached so.</summary>
    bool Detach(ProcessRegistration process, RegionHandle region, bool receive, bool transmit);

    /// <summary>Where a transmit attach's writes go now; <see cref="DriverStatus.NotAllocated"/> once it is gone.</summary>
    RouteSet ReadRoutes(ProcessRegistration process, RegionHandle region, TransmitAttachment attachment);

    /// <summary>Where this machine's receive memory lives, and how a writer on this machine reaches it (<see cref="Fabric.DeliveryTargets"/>).</summary>
    IFabric MemoryFabric { get; }

    /// <summary>
    /// This process's standing in a cluster across machines (its machine's epoch when it opened the directory, against
    /// the machine's now); null for a cluster on one machine, which has no other machine to stand with.
    /// </summary>
    Store.MachineStanding? ProcessStanding { get; }

    /// <summary>
    /// Records that a delivery to one receive memory failed (it vanished behind the directory's back): the rail's
    /// error count rises, so the loss is seen.
    /// </summary>
    void RecordDeliveryError(int logicalRail);

    // Lock sets.

    /// <summary>
    /// Allocates the lock set of <paramref name="key"/>, creating it with <paramref name="count"/> locks if needed.
    /// With <paramref name="create"/>, only creates (null when it exists); the creator then holds lock 0, taken in the
    /// same directory change that made the set.
    /// </summary>
    LockSetHandle? AllocateLockSet(ProcessRegistration process, int key, int count, int permissions, bool create);

    /// <summary>Deallocates strictly: <see cref="DriverStatus.LockActive"/> while the process holds one of its locks.</summary>
    void DeallocateLockSet(ProcessRegistration process, LockSetHandle lockSet);

    /// <summary>
    /// Maps the lock words of an allocated set on this machine (its file: <see cref="Store.LockSetFile"/>), which its
    /// lock port changes with atomic operations and keeps mapped while it lives; null for a set across machines.
    /// </summary>
    Interop.MappedFile? MapLockWords(LockSetHandle lockSet);

    /// <summary>Whether the registration that a lock word names as owner is alive.</summary>
    bool IsLockOwnerAlive(long owner);

    /// <summary>
    /// The words of a lock set whose words are not in this machine's control file (a set across machines), reached
    /// through UCX atomics; null for a set with local words (<see cref="MapLockWords"/>).
    /// </summary>
    RemoteLockWords? OpenRemoteLocks(ProcessRegistration process, LockSetHandle lockSet);

    /// <summary>
    /// The clusterwide write lock of a coherent region across machines (<see cref="RegionHandle.WriteLock"/>), which its
    /// writers take before the region's write lock in the control file; null for a region on one machine.
    /// </summary>
    ClusterWriteLock? OpenWriteLock(ProcessRegistration process, RegionHandle region);

    // Signals, information and events.

    /// <summary>Delivers <paramref name="signal"/> to <paramref name="processId"/>, which must be registered on <paramref name="hostName"/>.</summary>
    void Kill(ProcessRegistration process, string hostName, int processId, int signal);

    ClusterInfoSnapshot ReadInfo(ProcessRegistration process);

    /// <summary>Completes with the cluster's information once <paramref name="done"/> holds for it (a watch).</summary>
    Task<ClusterInfoSnapshot> WatchAsync(Func<ClusterInfoSnapshot, bool> done, CancellationToken cancellationToken);

    // Rails and faults.

    /// <summary>
    /// The error count of a logical rail (<c>imc_rderrcnt_mr</c>): negative while the rail processes an error. The
    /// rail must be one of <see cref="LogicalRails"/>: these two are called per message, and the caller validates.
    /// </summary>
    int ReadErrorCount(int logicalRail);

    /// <summary><c>imc_ckerrcnt_mr</c>: Success, or McError with <paramref name="errorCount"/> brought up to date (rail as above).</summary>
    DriverStatus CheckErrorCount(ref int errorCount, int logicalRail);

    /// <summary>Takes one armed drop for a delivery to <paramref name="host"/>, raising the rail's error count first.</summary>
    bool TryClaimDrop(int logicalRail, int host);

    /// <summary>Arms the next <paramref name="count"/> deliveries on a rail, toward <paramref name="host"/> or any (null), to be dropped.</summary>
    void InjectDrops(int logicalRail, int count, string? host);

    /// <summary>Fails a physical rail; false when it had failed already.</summary>
    bool FailRail(int physicalRail);

    /// <summary>Repairs a physical rail; false when it was up.</summary>
    bool RepairRail(int physicalRail);

    // Looking at the whole (imcs).

    ClusterStatus ReadStatus();

    CheckReport Check(TimeSpan patience);

    RailStatus ReadRails();
}
