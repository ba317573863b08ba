using Interconnect.Imc;

namespace Interconnect.Messaging;

/// <summary>
/// Where things are in the two regions of a ring. The ring region, written by the sender, is an array of slots;
/// message number n (from 0) goes to slot n % SlotCount:
/// <code>
///   slot offset  bytes  field
///             0      8  Sequence   n + 1, written last: the valid flag (0: never written)
///             8      4  SendCount  the rail's error count the sender read before writing the slot
///            12      4  Length     the message's length
///            16      L  Payload    the message
/// </code>
/// The sender writes Length and Payload (one copy), then SendCount, then Sequence. The answer region, written by the
/// receiver, is coherent, so that a sender that attaches after the receiver wrote it still finds what it says:
/// <code>
///   offset  bytes  field
///        0      8  Consumed   how many messages the receiver has taken, in order
///        8      8  Stalled    n + 1 of a message the receiver found damaged (error counts differ): send again
///       16      4  Ready      the receiver's pid, once its receive attach of the ring is in place
/// </code>
/// </summary>
internal sealed class RingLayout
{
    public const long SequenceOffset = 0;
    public const long SendCountOffset = 8;
    public const long LengthOffset = 12;
    public const long PayloadOffset = 16;
    public const long ConsumedOffset = 0;
    public const long StalledOffset = 8;
    public const long ReadyOffset = 16;
    public const long AnswerRegionSize = 64;

    public RingLayout(MessageRingOptions options)
    {
        options.Validate();
        Options = options;
        SlotSize = (PayloadOffset + options.MaxMessageLength + 7) & ~7L; // 8-byte aligned: the flag lands whole
        RingRegionSize = SlotSize * options.SlotCount;
    }

    public MessageRingOptions Options { get; }

    public long SlotSize { get; }

    public long RingRegionSize { get; }

    public int RingKey => Options.Key;

    public int AnswerKey => Options.Key + 1;

    public long SlotOffset(long sequence) => sequence % Options.SlotCount * SlotSize;

    /// <summary>
    /// The rail's error count, once no error is being processed (a negative read means one is: read again), or
    /// throws <see cref="TimeoutException"/> when the deadline passes first.
    /// </summary>
    public static int StableErrorCount(ImcContext context, int rail, Deadline deadline)
    {
        int count;
        while ((count = context.ReadErrorCount(rail)) < 0)
        {
            deadline.ThrowIfPassed($"the error on logical rail {rail} to be processed");
            Thread.Yield();
        }

        return count;
    }
}
