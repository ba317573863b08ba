using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// One emulated host.
/// <code>
///  0       4            8              16             24      28
///  | State | NameLength | MaxRecvBytes  | JoinedUnixMs | Joins |          line 0
///  64: Name (ASCII, at most 63 bytes)                                     line 1
/// </code>
/// The name is written before <see cref="State"/> becomes <see cref="StateUp"/>.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal unsafe struct HostEntry
{
    public const int Size = 128;
    public const int NameCapacity = 64;

    public const int StateFree = 0;
    public const int StateUp = 1;
    public const int StateDown = 2;

    [FieldOffset(0)] public int State;
    [FieldOffset(4)] public int NameLength;
    [FieldOffset(8)] public long MaxRecvBytes;
    [FieldOffset(16)] public long JoinedUnixMs;
    [FieldOffset(24)] public int Joins;
    [FieldOffset(64)] public fixed byte Name[NameCapacity];
}
