using Interconnect.Driver.Store;

namespace Interconnect.Driver.Directory;

/// <summary>
/// What imcd serves one connected process with (Agent.AgentSession): the directory, plus what only imcd may do for a
/// process: register the process the socket names with the credentials the kernel gave, take such a registration up
/// again after imcd restarted, and the across-machines requests a process cannot make itself. Across machines it is an
/// <see cref="Etcd.EtcdDirectory"/>; on one machine (<c>imcd --local</c>) the machine's
/// <see cref="ControlFileDirectory"/>, which answers the across-machines requests as a cluster on one machine must.
/// </summary>
internal interface IServedDirectory : IDirectory
{
    /// <summary>Registers the process <paramref name="identity"/> names on <paramref name="hostName"/>, with <paramref name="credentials"/> (the kernel's).</summary>
    ProcessRegistration Register(string hostName, ProcessIdentity identity, Credentials credentials);

    /// <summary>
    /// The registration at <paramref name="slot"/> in its <paramref name="incarnation"/>, taken up again for the process
    /// that made it, which reconnected: it must be that process's, by pid, start time and uid.
    /// </summary>
    ProcessRegistration Resume(int slot, int incarnation, ProcessIdentity identity, Credentials credentials);

    /// <summary>
    /// The region a request names (by slot and id), as the directory has it now: never as the request says. A coherent
    /// region's write lock is at <paramref name="writeLock"/> when given (where imcd told this connection it is), else
    /// where the directory says.
    /// </summary>
    RegionHandle RegionAsItIs(RegionHandle claimed, LockSetHome? writeLock);

    /// <summary>The lock set a request names (by its id), as the directory has it now.</summary>
    LockSetHandle LockSetAsItIs(LockSetHandle claimed);

    /// <summary>The caller's transmit attach <paramref name="entry"/> of <paramref name="region"/>, as the control file has it.</summary>
    TransmitAttachment TransmitAttachmentOf(ProcessRegistration process, RegionHandle region, int entry);

    /// <summary>Publishes the process as a possible holder of locks across machines (before it takes a coherent region's write lock).</summary>
    void PublishOwner(ProcessRegistration process);

    /// <summary>Where <paramref name="machine"/>'s lock arena is: its imcd's UCX address, and its word count.</summary>
    (byte[] Worker, int Words) LockArena(string machine);

    /// <summary>Where the write lock of coherent region <paramref name="key"/> is now that <paramref name="failed"/> could not be reached.</summary>
    LockSetHome RehomeWriteLock(int key, LockSetHome failed);

    /// <summary>Every up host of the cluster, on any machine, in slot order.</summary>
    IReadOnlyList<string> ClusterHosts();

    /// <summary>The cluster's key, which data connections between machines present (handed to registered processes only).</summary>
    byte[] ClusterKey();

    /// <summary>
    /// Makes the loss tally of <paramref name="uid"/> when it has none: where that user's processes count the
    /// deliveries they lose (the rails' words are imcd's), before the first of them is registered.
    /// </summary>
    void KeepTally(int uid);

    /// <summary>A process says it lost deliveries: those counted in tallies since the last look become physical-rail errors.</summary>
    void RecordTalliedLosses();
}
