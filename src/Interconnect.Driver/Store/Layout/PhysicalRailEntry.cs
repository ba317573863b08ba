using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// One physical rail: its state and the errors counted on it.
/// <code>
///  0       4        8               16            24
///  | State | Errors | LastFailureMs | ErrorCursor | ErrorTimesMs[11] (to 112) |
/// </code>
/// <see cref="ErrorTimesMs"/> is a ring of the last eleven error times: when the oldest of them is less than a minute
/// old, the rail has had more than ten errors within one minute, and a failover pair fails it over.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal unsafe struct PhysicalRailEntry
{
    public const int Size = 128;
    public const int ErrorRing = 11;

    public const int StateUp = 0;
    public const int StateFailed = 1;

    [FieldOffset(0)] public int State;
    [FieldOffset(4)] public int Errors;
    [FieldOffset(8)] public long LastFailureMs;
    [FieldOffset(16)] public int ErrorCursor;
    [FieldOffset(24)] public fixed long ErrorTimesMs[ErrorRing];
}
