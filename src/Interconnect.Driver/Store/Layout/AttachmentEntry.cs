using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// What one process holds of one region or lock set: its allocation, a receive attach or a transmit attach.
/// <code>
///  0       4      8         12       16         24          28      32           36    40       48      56
///  | State | Kind | Process | Target | TargetId | ShareMode | Flags | TargetHost | -   | Writes | Bytes | Drops |
///  64             72             80                                                                          128
///  | SharedWrites | SharedBytes  | -                                                                          |
/// </code>
/// A transmit attachment's counters are written by that window's data path only. <see cref="Writes"/> and
/// <see cref="Bytes"/> (line 0) belong to the one thread that wrote through the window first, which adds to them
/// without atomics; every other thread adds to <see cref="SharedWrites"/> and <see cref="SharedBytes"/> (line 1)
/// atomically, so the sums are exact however many threads write. <see cref="Drops"/> is only ever added to
/// atomically. When the window detaches, the sums move to its rail's retired totals.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct AttachmentEntry
{
    public const int Size = 128;

    public const int StateFree = 0;
    public const int StateLive = 1;

    public const int KindAllocation = 1;
    public const int KindReceive = 2;
    public const int KindTransmit = 3;
    public const int KindTransmitPointToPoint = 4;
    public const int KindLockSet = 5;

    public const int FlagLoopback = 1;

    /// <summary>A receive or transmit attach of a region (not an allocation, and not a lock set, whose slots and ids
    /// are numbered apart from regions').</summary>
    public static bool IsRegionAttach(int kind) => kind is KindReceive or KindTransmit or KindTransmitPointToPoint;

    [FieldOffset(0)] public int State;
    [FieldOffset(4)] public int Kind;
    [FieldOffset(8)] public int Process;
    /// <summary>Slot of the region (or lock set) this entry refers to.</summary>
    [FieldOffset(12)] public int Target;
    /// <summary>Id of that region or lock set, so a reused slot is never mistaken for it.</summary>
    [FieldOffset(16)] public long TargetId;
    [FieldOffset(24)] public int ShareMode;
    [FieldOffset(28)] public int Flags;
    [FieldOffset(32)] public int TargetHost;
    [FieldOffset(40)] public long Writes;
    [FieldOffset(48)] public long Bytes;
    [FieldOffset(56)] public long Drops;
    [FieldOffset(64)] public long SharedWrites;
    [FieldOffset(72)] public long SharedBytes;

    /// <summary>Every write through the window, by any thread.</summary>
    public readonly long TotalWrites => Volatile.Read(in Writes) + Volatile.Read(in SharedWrites);

    /// <summary>Every byte written through the window, by any thread.</summary>
    public readonly long TotalBytes => Volatile.Read(in Bytes) + Volatile.Read(in SharedBytes);
}
