using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// One clusterwide lock, alone on its cache line.
/// <code>
///  0       8         12
///  | Owner | Waiters |
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct LockWord
{
    public const int Size = 64;

    [FieldOffset(0)] public long Owner;
    [FieldOffset(8)] public int Waiters;
}
