namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// Where each table lives in the control file: the cluster's directory. Version 4 of the layout:
/// <code>
///  offset                          size                       what
///  0                               4096                       ControlHeader
///  HostsOffset           (4096)    32 x 128                   HostEntry[MaxHosts]
///  ProcessesOffset       (8192)    256 x 64                   ProcessEntry[MaxProcesses]
///  RegionsOffset         (24576)   512 x 192                  RegionEntry[MaxRegions]
///  AttachmentsOffset     (122880)  4096 x 64                  AttachmentEntry[MaxAttachments]
///  LockSetsOffset        (385024)  256 x 64                   LockSetEntry[MaxLockSets]
///  FileSize              (401408)
/// </code>
/// Every entry starts on a 64-byte line, so the words the data path reads (a region's generation) never share a line
/// with words another process writes often. The words processes write themselves are beside it: rails and event words
/// in the words file (<see cref="WordsLayout"/>), lock words in a file per lock set (<see cref="LockSetFile"/>), a
/// region's write lock and window counters in a file per region (<see cref="RegionWindowsFile"/>): the control file is
/// written only by whoever holds the directory, so <c>imcd</c>, when it serves the cluster, keeps it to itself.
/// </summary>
internal static class ControlLayout
{
    /// <summary>"IMCCTRL1" read as a little-endian 64-bit number.</summary>
    public const ulong Magic = 0x314C52544343_4D49;
    public const int Version = 4;

    public const int MaxLogicalRails = 4;
    public const int MaxPhysicalRails = 8;
    public const int MaxHosts = 32;
    public const int MaxProcesses = 256;
    public const int MaxRegions = 512;
    public const int MaxAttachments = 4096;
    public const int MaxLockSets = 256;
    public const int MaxLocks = 4096;

    public const int HeaderSize = 4096;
    public const int HostsOffset = HeaderSize;
    public const int ProcessesOffset = HostsOffset + (MaxHosts * HostEntry.Size);
    public const int RegionsOffset = ProcessesOffset + (MaxProcesses * ProcessEntry.Size);
    public const int AttachmentsOffset = RegionsOffset + (MaxRegions * RegionEntry.Size);
    public const int LockSetsOffset = AttachmentsOffset + (MaxAttachments * AttachmentEntry.Size);
    public const int FileSize = LockSetsOffset + (MaxLockSets * LockSetEntry.Size);
}
