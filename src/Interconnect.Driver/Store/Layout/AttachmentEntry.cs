using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// What one process holds of one region or lock set: its allocation, a receive attach or a transmit attach.
/// <code>
///  0       4      8         12       16         24          28      32           36
///  | State | Kind | Process | Target | TargetId | ShareMode | Flags | TargetHost | -   |
/// </code>
/// A transmit attachment's counters are in the words file (<see cref="WindowCounters"/>, by this entry's index), since
/// its process writes them on every write and only the directory's holder writes here.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct AttachmentEntry
{
    public const int Size = 64;

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
}
