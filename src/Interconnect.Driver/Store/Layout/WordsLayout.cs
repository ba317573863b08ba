namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// Where each table lives in the words file: the words every process of the cluster writes itself, without the
/// directory (the control file holds the directory, which only its holder writes: <c>imcd</c> when it serves the
/// cluster, which then keeps the control file to itself). Version 1 of the layout:
/// <code>
///  offset                          size                       what
///  0                               128                        WordsHeader (identity; the event words)
///  RailsOffset           (128)     4 x 128                    LogicalRailEntry[MaxLogicalRails]
///  PhysicalRailsOffset   (640)     8 x 128                    PhysicalRailEntry[MaxPhysicalRails]
///  FileSize              (1664)
/// </code>
/// Every entry starts on a 64-byte line. The rails are every user's of the cluster: any writer's lost delivery raises
/// a rail's count (and in a failover pair may fail it over), any writer claims a pending drop. The words of one lock set
/// or of one region's windows are in a file of their own, with that entry's owner and permissions
/// (<see cref="LockSetFile"/>, <see cref="RegionWindowsFile"/>).
/// </summary>
internal static class WordsLayout
{
    /// <summary>"IMCWORD1" read as a little-endian 64-bit number.</summary>
    public const ulong Magic = 0x3144524F57434D49;
    public const int Version = 1;

    public const int HeaderSize = WordsHeader.Size;
    public const int RailsOffset = HeaderSize;
    public const int PhysicalRailsOffset = RailsOffset + (ControlLayout.MaxLogicalRails * LogicalRailEntry.Size);
    public const int FileSize = PhysicalRailsOffset + (ControlLayout.MaxPhysicalRails * PhysicalRailEntry.Size);
}
