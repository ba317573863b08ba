namespace Interconnect.Driver.Fabric;

/// <summary>How a machine's agent (imcd) progresses its fabric: <see cref="Spin"/> or <see cref="Wait"/>.</summary>
internal enum ProgressMode
{
    /// <summary>Calls progress in a loop: the lowest latency, one core busy.</summary>
    Spin,

    /// <summary>Sleeps on the worker's event descriptor between events: no core busy, about twice the latency.</summary>
    Wait,
}

/// <summary>What a machine's NIC did with what other machines sent it, counted since it started.</summary>
/// <param name="Applied">Writes applied.</param>
/// <param name="Refused">Writes, reads and lock-word operations refused (withdrawn or unknown memory, outside it, wrong rail, stale, an ended epoch).</param>
/// <param name="Raised">Error counts raised for writes that went missing.</param>
/// <param name="Reads">Reads answered with the bytes.</param>
/// <param name="Words">Lock-word operations applied (compare-and-swap, read, write).</param>
/// <param name="Malformed">Messages that were not what any sender of the protocol sends (ignored).</param>
/// <param name="Unauthenticated">Messages refused because their connection had not presented the cluster key (nothing applied).</param>
internal readonly record struct NicCounts(long Applied, long Refused, long Raised, long Reads, long Words, long Malformed,
    long Unauthenticated);

/// <summary>
/// A machine's side of the fabric across machines, run by its agent (imcd): the emulated NIC that applies the writes
/// of other machines' processes into the receive memory the agent publishes, answers their reads of it, refuses what
/// comes from an ended epoch, and applies the lock-word operations on the machine's lock arena. The agent decides what is published (the
/// directory); the NIC decides how it is reached. It progresses on a thread of its own until disposed.
/// </summary>
internal interface IMachineNic : IDisposable
{
    /// <summary>Where other machines' processes reach this NIC (published in the machine's record).</summary>
    byte[] Address { get; }

    NicCounts Counts { get; }

    /// <summary>Why the NIC stopped progressing (it applies nothing any more), or null while it runs.</summary>
    Exception? Failure { get; }

    /// <summary>
    /// Publishes <paramref name="length"/> bytes at <paramref name="address"/> (receive memory of a region on
    /// <paramref name="rail"/>) to writers and readers on other machines; returns the id they name it by.
    /// </summary>
    ulong Publish(nint address, long length, int rail);

    /// <summary>Withdraws memory <paramref name="id"/>: once this returns nothing touches it, and it may be unmapped.</summary>
    void Withdraw(ulong id);

    /// <summary>The machine epochs that ended, as the agent last read the directory: what carries one is refused.</summary>
    void SetEndedEpochs(IReadOnlySet<long> ended);

    /// <summary>
    /// Publishes the lock arena, <paramref name="words"/> 8-byte words at <paramref name="address"/> (kept mapped by the
    /// agent until this NIC is disposed), to lock-word operations of processes on every machine, this one included:
    /// the NIC applies them, so all share one atomicity domain, and refuses those of an ended epoch. Once per NIC.
    /// </summary>
    void PublishArena(nint address, int words);
}
