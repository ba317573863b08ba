using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// One allocated region.
/// <code>
///  0       4     8    16     24            28      32           36         40         44           48                  56
///  | State | Key | Id | RegionSize | LogicalRail | Flags | Permissions | OwnerUid | OwnerGid | Generation | ReceiveFileMask | CreatedUnixMs |  line 0
///  64: FileEpoch[32] (per host: the serial of its current receive file)                                                           lines 1-2
/// </code>
/// <see cref="Generation"/> is read by every write and changes only when the set of receive files changes.
/// <see cref="State"/> is written last when an entry is made and first when it is freed.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal unsafe struct RegionEntry
{
    public const int Size = 192;

    public const int StateFree = 0;
    public const int StateLive = 1;

    public const int FlagCoherent = 1;

    /// <summary>A direct region (a C transmit pointer): every host's receive file is a link to one memory.</summary>
    public const int FlagDirect = 2;

    [FieldOffset(0)] public int State;
    [FieldOffset(4)] public int Key;
    [FieldOffset(8)] public long Id;
    [FieldOffset(16)] public long RegionSize;
    [FieldOffset(24)] public int LogicalRail;
    [FieldOffset(28)] public int Flags;
    [FieldOffset(32)] public int Permissions;
    [FieldOffset(36)] public int OwnerUid;
    [FieldOffset(40)] public int OwnerGid;
    [FieldOffset(44)] public int Generation;
    [FieldOffset(48)] public uint ReceiveFileMask;
    [FieldOffset(56)] public long CreatedUnixMs;


    [FieldOffset(64)] public fixed int FileEpoch[ControlLayout.MaxHosts];
}
