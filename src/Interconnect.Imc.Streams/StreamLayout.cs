namespace Interconnect.Imc.Streams;

/// <summary>
/// Where things are in the two regions of a stream, and how their words are packed.
/// <para>The ring region (key K), written by the sender only, a header line and then SlotCount slots:</para>
/// <code>
///   offset          bytes  field
///        0              8  SenderSession  random, non-zero: a new sender is a new stream
///        8              8  Heartbeat      rises about every 100 ms while the sender lives
///       16              8  Verified       (incarnation &lt;&lt; 48) | frames written and checked by CheckErrorCount
///   64 + s * stride       one slot, stride = 64 + SlotSize; frame n goes to slot n % SlotCount:
///       +0              8  Flag           (incarnation &lt;&lt; 48) | (n + 1), written last: the valid flag
///      +48              8  Start          the stream position of the payload's first byte
///      +56              8  Check          (length &lt;&lt; 32) | error count read before the frame was written
///      +64   SlotSize max  Payload
/// </code>
/// <para>
/// A frame is two writes: Start, Check and the payload in one (they sit together in the sender's copy too), then the
/// flag. A flag that reads (incarnation, n + 1) therefore vouches that the bytes before it were written; the error
/// count in Check, equal to the receiver's count read after it, or a Verified word past n with the receiver's
/// incarnation, vouches that none of them was lost. Length -1 ends the stream, -2 aborts it.
/// </para>
/// <para>The answer region (key K + 1), written by the receiver only, coherent so that a restarted receiver finds it:</para>
/// <code>
///   offset  bytes  field
///        0      8  Incarnation     1, 2, ...: rises each time a receiver (re)attaches the ring; written last
///        8      8  Heartbeat       rises about every 100 ms while the receiver lives
///       16      8  FramesConsumed  frames wholly consumed: the sender's credit, and where a restart resumes
///       24      8  BytesConsumed   stream position consumed: a restart skips what was consumed before it
///       32      8  Closed          the incarnation of a reader that completed before the end (the sender stops)
/// </code>
/// Every word is 8-byte aligned and written whole; the receiver rewrites its answers periodically, so a lost one is
/// repaired, and the sender rewrites Verified and Heartbeat the same way.
/// </summary>
internal static class StreamLayout
{
    public const long SenderSessionOffset = 0;
    public const long SenderHeartbeatOffset = 8;
    public const long VerifiedOffset = 16;
    public const long SlotsOffset = 64;

    public const int FlagInSlot = 0;
    public const int HeaderInSlot = 48;
    public const int HeaderLength = 16;
    public const int PayloadInSlot = 64;

    public const long IncarnationOffset = 0;
    public const long ReceiverHeartbeatOffset = 8;
    public const long FramesConsumedOffset = 16;
    public const long BytesConsumedOffset = 24;
    public const long ClosedOffset = 32;
    public const long AnswerRegionSize = 64;

    public const int EndLength = -1;
    public const int AbortLength = -2;

    private const int IncarnationShift = 48;
    private const long CountMask = (1L << IncarnationShift) - 1;

    public static long Tag(long incarnation, long count) => (incarnation << IncarnationShift) | (count & CountMask);

    public static long TagOf(long word) => (long)((ulong)word >> IncarnationShift);

    public static long CountOf(long word) => word & CountMask;

    public static long Check(int length, int errorCount) => ((long)length << 32) | (uint)errorCount;

    public static int LengthOf(long check) => (int)(check >> 32);

    public static int ErrorCountOf(long check) => (int)check;

    /// <summary>The next incarnation after <paramref name="previous"/>: 1 to 65535, never 0 (no receiver).</summary>
    public static long NextIncarnation(long previous) => previous is <= 0 or >= 0xFFFF ? 1 : previous + 1;
}
