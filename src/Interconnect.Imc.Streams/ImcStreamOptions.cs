namespace Interconnect.Imc.Streams;

/// <summary>
/// The shape of one stream. The sender and the receiver must give the same options: they name two regions, the ring
/// that the sender writes (<see cref="Key"/>) and the receiver's answers (<see cref="Key"/> + 1), whose sizes follow
/// from <see cref="SlotCount"/> and <see cref="SlotSize"/>.
/// </summary>
public sealed record ImcStreamOptions
{
    /// <summary>The key of the ring region; the answer region is <c>Key + 1</c>.</summary>
    public int Key { get; init; } = 3001;

    /// <summary>How many frames may be in flight, written but not yet consumed by the reader (the sender's credit).</summary>
    public int SlotCount { get; init; } = 64;

    /// <summary>The largest frame's payload, in bytes (a multiple of 64). One frame is one span of the writer.</summary>
    public int SlotSize { get; init; } = 64 * 1024;

    /// <summary>The logical rail of both regions, whose error count protects the frames.</summary>
    public int LogicalRail { get; init; }

    /// <summary>
    /// How long a side waits without any sign of life from the other (its heartbeat stands still) before it gives up
    /// with <see cref="ImcStreamPeerGoneException"/>. A slow peer is not a gone peer: heartbeats go on while it is busy.
    /// </summary>
    public TimeSpan PeerTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a wait spins before it starts sleeping: naps of 50 µs, twice as long each time, then a millisecond at a
    /// time. Longer spins cost a core and buy latency.
    /// </summary>
    public TimeSpan SpinBeforeSleep { get; init; } = TimeSpan.FromMilliseconds(0.2);

    /// <summary>The size in bytes of the ring region these options describe.</summary>
    public long RingRegionSize => StreamLayout.SlotsOffset + ((long)SlotCount * SlotStride);

    internal int SlotStride => StreamLayout.PayloadInSlot + SlotSize;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(SlotCount, 2, nameof(SlotCount));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(SlotCount, 1 << 16, nameof(SlotCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(SlotSize, 64, nameof(SlotSize));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(SlotSize, 64 << 20, nameof(SlotSize));
        ArgumentOutOfRangeException.ThrowIfNegative(LogicalRail, nameof(LogicalRail));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(PeerTimeout, TimeSpan.Zero, nameof(PeerTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(SpinBeforeSleep, TimeSpan.Zero, nameof(SpinBeforeSleep));
        if (SlotSize % 64 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(SlotSize), SlotSize, "give a multiple of 64 bytes");
        }

        if (Key == int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(Key), Key, "the answer region takes Key + 1");
        }
    }
}
