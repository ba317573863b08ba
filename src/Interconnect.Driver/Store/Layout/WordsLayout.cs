namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// Where each table lives in the words file: the cluster's hot words, the ones its processes write themselves (the
/// control file holds the directory, which only its directory's holder writes: <c>imcd</c> when it serves the cluster,
/// which then keeps the control file to itself). Version 1 of the layout:
/// <code>
///  offset                          size                       what
///  0                               128                        WordsHeader (identity; the event words)
///  RailsOffset           (128)     4 x 128                    LogicalRailEntry[MaxLogicalRails]
///  PhysicalRailsOffset   (640)     8 x 128                    PhysicalRailEntry[MaxPhysicalRails]
///  WindowsOffset         (1664)    4096 x 128                 WindowCounters[MaxAttachments] (by attachment)
///  RegionWordsOffset     (525952)  512 x 64                   RegionWords[MaxRegions] (by region slot)
///  FileSize              (558720)
/// </code>
/// Every entry starts on a 64-byte line. The rails are every user's of the cluster (any writer's lost delivery raises
/// their count); the rest is indexed by the directory's entries. A lock set's words are in a file of their own, with
/// the set's owner and permissions (<see cref="LockSetFile"/>).
/// </summary>
internal static class WordsLayout
{
    /// <summary>"IMCWORD1" read as a little-endian 64-bit number.</summary>
    public const ulong Magic = 0x3144524F57434D49;
    public const int Version = 1;

    public const int HeaderSize = WordsHeader.Size;
    public const int RailsOffset = HeaderSize;
    public const int PhysicalRailsOffset = RailsOffset + (ControlLayout.MaxLogicalRails * LogicalRailEntry.Size);
    public const int WindowsOffset = PhysicalRailsOffset + (ControlLayout.MaxPhysicalRails * PhysicalRailEntry.Size);
    public const int RegionWordsOffset = WindowsOffset + (ControlLayout.MaxAttachments * WindowCounters.Size);
    public const int FileSize = RegionWordsOffset + (ControlLayout.MaxRegions * RegionWords.Size);
}
