namespace Interconnect.Messaging;

/// <summary>
/// The shape of a message ring. A sender and a receiver must use the same options: they name two regions, the ring
/// (<see cref="Key"/>) and the receiver's answers (<see cref="Key"/> + 1).
/// </summary>
public sealed record MessageRingOptions
{
    /// <summary>The key of the ring region; the answer region is <c>Key + 1</c>.</summary>
    public int Key { get; init; } = 2001;

    /// <summary>How many messages may be in flight, sent but not yet taken by the receiver.</summary>
    public int SlotCount { get; init; } = 64;

    /// <summary>The largest message, in bytes.</summary>
    public int MaxMessageLength { get; init; } = 240;

    /// <summary>The logical rail of both regions, whose error count protects the messages.</summary>
    public int LogicalRail { get; init; }

    /// <summary>
    /// When the receiver has taken nothing for this long while messages are outstanding, the sender sends them again
    /// (its answer may have been lost).
    /// </summary>
    public TimeSpan RetransmitAfter { get; init; } = TimeSpan.FromMilliseconds(20);

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(SlotCount, 1, nameof(SlotCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessageLength, 0, nameof(MaxMessageLength));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxMessageLength, 1 << 20, nameof(MaxMessageLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetransmitAfter, TimeSpan.Zero, nameof(RetransmitAfter));
        if (Key == int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(Key), Key, "the answer region takes Key + 1");
        }
    }
}
