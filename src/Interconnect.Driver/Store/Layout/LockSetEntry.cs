using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// One lock set; its locks are the <see cref="Count"/> <see cref="LockWord"/>s of its own file (<see cref="LockSetFile"/>).
/// <code>
///  0       4     8    16      20  24            28         32         36
///  | State | Key | Id | Count | - | Permissions | OwnerUid | OwnerGid | CreatedUnixMs (40) |
/// </code>
/// <see cref="Permissions"/> holds IMC_LKU/LKG/LKO as the bits 0100, 0010, 0001 (user, group, other may use it).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct LockSetEntry
{
    public const int Size = 64;

    public const int StateFree = 0;
    public const int StateLive = 1;

    [FieldOffset(0)] public int State;
    [FieldOffset(4)] public int Key;
    [FieldOffset(8)] public long Id;
    [FieldOffset(16)] public int Count;
    [FieldOffset(24)] public int Permissions;
    [FieldOffset(28)] public int OwnerUid;
    [FieldOffset(32)] public int OwnerGid;
    [FieldOffset(40)] public long CreatedUnixMs;
}
