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

    /// <summary>Copies <paramref name="source"/> to <paramref name="offset"/>, after every earlier put.</summary>
    void Put(long offset, ReadOnlySpan<byte> source);

    /// <summary>Puts an aligned 4-byte value whole, after every earlier put.</summary>
    void Put32(long offset, uint value);

    /// <summary>Puts an aligned 8-byte value whole, after every earlier put.</summary>
    void Put64(long offset, ulong value);

    /// <summary>Returns once every earlier put is visible in the target memory.</summary>
    void Fence();

    // Dispose stops delivering: what the target held of the receive memory is released at once, and a write still
    // under way through an old route lands nowhere and faults nothing.
}
