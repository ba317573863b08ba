namespace Interconnect.Driver.Fabric;

/// <summary>
/// One host's receive memory as a writer reaches it. Puts through one target land in the order issued, and an
/// aligned 4- or 8-byte put lands whole. A target whose memory is mapped into this process says where
/// (<see cref="LocalAddress"/>): the transmit path stores into it directly, without calling through this interface
/// (see <see cref="Route"/>); other targets are called per write.
/// </summary>
internal interface IDeliveryTarget : IDisposable
{
    /// <summary>
    /// The address of the receive memory when it is mapped read-write into this process, so a put may be a plain
    /// store there (for as long as a route holds this target); 0 when puts must go through this interface.
    /// </summary>
    nint LocalAddress { get; }

    /// <summary>
    /// Starts a put of the <paramref name="length"/> bytes at <paramref name="source"/> to <paramref name="offset"/>,
    /// after every earlier put; an aligned 4- or 8-byte put lands whole. True when the put is still in flight: the bytes
    /// must stay pinned and unchanged until <see cref="TryComplete"/> returns true. Never throws because the memory's
    /// machine is away (its receivers' error counts rise instead).
    /// </summary>
    unsafe bool Start(long offset, byte* source, int length);

    /// <summary>One step toward the end of every put in flight, waiting for nothing: true once none is.</summary>
    bool TryComplete();

    /// <summary>Returns once every earlier put is visible in the target memory.</summary>
    void Fence();

    // Dispose stops delivering: what the target held of the receive memory is released at once, and a write still
    // under way through an old route lands nowhere and faults nothing.
}
