using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// One physical rail: its state and the errors counted on it.
/// <code>
///  0       4        8              16
///  | State | Errors | LastFailureMs |
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct PhysicalRailEntry
{
    public const int Size = 64;

    public const int StateUp = 0;
    public const int StateFailed = 1;

    [FieldOffset(0)] public int State;
    [FieldOffset(4)] public int Errors;
    [FieldOffset(8)] public long LastFailureMs;
}
