namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// Where each table lives in the words file: the rails and the cluster's event words, which change without the
/// directory lock (the control file holds the directory). Version 2 of the layout:
/// <code>
///  offset                          size                       what
///  0                               128                        WordsHeader (identity; the event words; TallyCount)
///  RailsOffset           (128)     4 x 128                    LogicalRailEntry[MaxLogicalRails]
///  PhysicalRailsOffset   (640)     8 x 128                    PhysicalRailEntry[MaxPhysicalRails]
///  TalliesOffset         (1664)    64 x 4                     the uid of each loss tally (TallyFile), by slot
///  FileSize              (1920)
/// </code>
/// Every entry starts on a 64-byte line. Without imcd every process writes this file: a lost delivery raises a rail's
/// count here (and in a failover pair may fail it over), a writer claims a pending drop here. Under imcd the file is
/// imcd's alone, so no user can lower a count, arm a drop or take a rail down by hand: a process counts its own lost
/// deliveries in its user's loss tally, a file of that user's (<see cref="TallyFile"/>), and a rail's error count is
/// the count here plus every tally's. The words of one lock set or of one region's windows are in a file of their
/// own, with that entry's owner and permissions (<see cref="LockSetFile"/>, <see cref="RegionWindowsFile"/>).
/// </summary>
internal static class WordsLayout
{
    /// <summary>"IMCWORD1" read as a little-endian 64-bit number.</summary>
    public const ulong Magic = 0x3144524F57434D49;
    public const int Version = 2;

    /// <summary>How many users' loss tallies a cluster keeps (one per user whose processes imcd registered).</summary>
    public const int MaxTallies = 64;

    public const int HeaderSize = WordsHeader.Size;
    public const int RailsOffset = HeaderSize;
    public const int PhysicalRailsOffset = RailsOffset + (ControlLayout.MaxLogicalRails * LogicalRailEntry.Size);
    public const int TalliesOffset = PhysicalRailsOffset + (ControlLayout.MaxPhysicalRails * PhysicalRailEntry.Size);
    public const int FileSize = TalliesOffset + (MaxTallies * sizeof(int));
}
