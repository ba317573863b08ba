using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// The first 4096 bytes of the control file.
/// <code>
///  0                   8           12          16                  24
///  +-------------------+-----------+-----------+-------------------+
///  | Magic "IMCCTRL1"  | Version   | HeaderSize| FileSize          |   line 0: identity, written once
///  +-------------------+-----------+-----------+-------------------+
///  | MaxHosts | MaxProcesses | MaxRegions | MaxAttachments | MaxLockSets | MaxLocks | PageSize | - | CreatedUnixMs |
///  +---------------------------------------------------------------+
///  64: DirectoryOwner (pid &lt;&lt; 32 | start time) | DirectoryChanges | Recoveries      line 1: the directory lock
///  128: MaxAllocBytes | PhysicalRails | RailStyle | LogicalRails | ErrorWindowMs
///       | NextRegionId | NextLockSetId                                     line 2: configuration
///  192: MachineEpoch | FencedUnixMs                                        line 3: this machine across machines (imcd)
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = ControlLayout.HeaderSize)]
internal struct ControlHeader
{
    [FieldOffset(0)] public ulong Magic;
    [FieldOffset(8)] public int Version;
    [FieldOffset(12)] public int HeaderSize;
    [FieldOffset(16)] public long FileSize;
    [FieldOffset(24)] public int MaxHosts;
    [FieldOffset(28)] public int MaxProcesses;
    [FieldOffset(32)] public int MaxRegions;
    [FieldOffset(36)] public int MaxAttachments;
    [FieldOffset(40)] public int MaxLockSets;
    [FieldOffset(44)] public int MaxLocks;
    [FieldOffset(48)] public int PageSize;
    [FieldOffset(56)] public long CreatedUnixMs;

    /// <summary>Owner of the directory lock: pid in the high half, low bits of its start time below; 0 = free.</summary>
    [FieldOffset(64)] public long DirectoryOwner;
    /// <summary>Number of directory changes committed (reclamation included).</summary>
    [FieldOffset(72)] public long DirectoryChanges;
    /// <summary>Times the directory lock was taken over from a holder that had died.</summary>
    [FieldOffset(80)] public int Recoveries;

    [FieldOffset(128)] public long MaxAllocBytes;
    [FieldOffset(136)] public int PhysicalRails;
    [FieldOffset(140)] public int RailStyle;
    [FieldOffset(144)] public int LogicalRails;
    [FieldOffset(148)] public int ErrorWindowMs;
    [FieldOffset(152)] public long NextRegionId;
    [FieldOffset(160)] public long NextLockSetId;


    /// <summary>
    /// Across machines: the epoch this machine is in (its imcd's lease when the machine joined; a restart within the
    /// lease keeps it, a fence ends it). 0 on one machine, and before imcd first joined.
    /// </summary>
    [FieldOffset(192)] public long MachineEpoch;

    /// <summary>Across machines: when this machine fenced itself (its imcd lost etcd); 0 while it is not fenced.</summary>
    [FieldOffset(200)] public long FencedUnixMs;
}
