using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// One registered process (one open context).
/// <code>
///  0       4     8           16     20    24    28            32
///  | State | Pid | StartTime | Host | Uid | Gid | Incarnation | RegisteredUnixMs |
/// </code>
/// A process is identified by pid and start time (clock ticks since boot, from /proc), so a reused pid is never
/// taken for the process that registered.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct ProcessEntry
{
    public const int Size = 64;

    public const int StateFree = 0;
    public const int StateLive = 1;

    [FieldOffset(0)] public int State;
    [FieldOffset(4)] public int Pid;
    [FieldOffset(8)] public long StartTime;
    [FieldOffset(16)] public int Host;
    [FieldOffset(20)] public int Uid;
    [FieldOffset(24)] public int Gid;
    [FieldOffset(28)] public int Incarnation;
    [FieldOffset(32)] public long RegisteredUnixMs;
}
