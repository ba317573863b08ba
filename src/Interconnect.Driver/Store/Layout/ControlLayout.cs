namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// Where each table lives in the control file. Version 3 of the layout:
/// <code>
///  offset                          size                       what
///  0                               4096                       ControlHeader
///  RailsOffset           (4096)    4 x 128                    LogicalRailEntry[MaxLogicalRails]
///  PhysicalRailsOffset   (4608)    8 x 128                    PhysicalRailEntry[MaxPhysicalRails]
///  HostsOffset           (5632)    32 x 128                   HostEntry[MaxHosts]
///  ProcessesOffset       (9728)    256 x 64                   ProcessEntry[MaxProcesses]
///  RegionsOffset         (26112)   512 x 256                  RegionEntry[MaxRegions]
///  AttachmentsOffset     (157184)  4096 x 128                 AttachmentEntry[MaxAttachments]
///  LockSetsOffset        (681472)  256 x 64                   LockSetEntry[MaxLockSets]
///  LockWordsOffset       (697856)  4096 x 64                  LockWord[MaxLocks]
///  FileSize              (960000)
/// </code>
/// Every entry starts on a 64-byte line, so the words the data path reads (a region's generation, a rail's fault
/// word) never share a line with words another process writes often.
/// </summary>
internal static class ControlLayout
{
    /// <summary>"IMCCTRL1" read as a little-endian 64-bit number.</summary>
    public const ulong Magic = 0x314C52544343_4D49;
    public const int Version = 3;

    public const int MaxLogicalRails = 4;
    public const int MaxPhysicalRails = 8;
    public const int MaxHosts = 32;
    public const int MaxProcesses = 256;
    public const int MaxRegions = 512;
    public const int MaxAttachments = 4096;
    public const int MaxLockSets = 256;
    public const int MaxLocks = 4096;

    public const int HeaderSize = 4096;
    public const int RailsOffset = HeaderSize;
    public const int PhysicalRailsOffset = RailsOffset + (MaxLogicalRails * LogicalRailEntry.Size);
    public const int HostsOffset = PhysicalRailsOffset + (MaxPhysicalRails * PhysicalRailEntry.Size);
    public const int ProcessesOffset = HostsOffset + (MaxHosts * HostEntry.Size);
    public const int RegionsOffset = ProcessesOffset + (MaxProcesses * ProcessEntry.Size);
    public const int AttachmentsOffset = RegionsOffset + (MaxRegions * RegionEntry.Size);
    public const int LockSetsOffset = AttachmentsOffset + (MaxAttachments * AttachmentEntry.Size);
    public const int LockWordsOffset = LockSetsOffset + (MaxLockSets * LockSetEntry.Size);
    public const int FileSize = LockWordsOffset + (MaxLocks * LockWord.Size);
}
