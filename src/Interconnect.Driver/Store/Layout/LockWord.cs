using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// One clusterwide lock, alone on its cache line.
/// <code>
///  0       8         12         16
///  | Owner | Waiters | Sequence |
/// </code>
/// <see cref="Owner"/> is 0 when free, else the holder's registration (<c>incarnation &lt;&lt; 32 | slot + 1</c>).
/// <see cref="Waiters"/> counts processes asleep (or about to sleep) on <see cref="Sequence"/>, the futex word a
/// release bumps when someone sleeps.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct LockWord
{
    public const int Size = 64;

    [FieldOffset(0)] public long Owner;
    [FieldOffset(8)] public int Waiters;
    [FieldOffset(12)] public int Sequence;
}
