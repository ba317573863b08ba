using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// One logical rail.
/// <code>
///  0          4            8                    16            20         24               28
///  | FaultWord | ErrorCount | ProcessingUntilMs  | PendingDrops | DropHost | ActivePhysical | TalliedErrors |   line 0
///  64: RetiredWrites | RetiredBytes | RetiredDrops                                                    line 1
/// </code>
/// <see cref="FaultWord"/> is read by every write: zero means "no fault to act on", so the data path pays one load.
/// The counters of line 1 hold what detached transmit windows wrote; live windows count in their own attachment
/// entries, and the rail's totals are the sum of both. The rail's error count is <see cref="ErrorCount"/> plus what
/// users' loss tallies count (<see cref="TallyEntry"/>).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct LogicalRailEntry
{
    public const int Size = 128;

    public const int FaultDropsPending = 1;
    public const int FaultRailDown = 2;

    [FieldOffset(0)] public int FaultWord;
    [FieldOffset(4)] public int ErrorCount;
    [FieldOffset(8)] public long ProcessingUntilMs;
    [FieldOffset(16)] public int PendingDrops;
    [FieldOffset(20)] public int DropHost;
    [FieldOffset(24)] public int ActivePhysical;

    /// <summary>imcd's: how many of the tallies' errors it has recorded on physical rails (the rest are news).</summary>
    [FieldOffset(28)] public int TalliedErrors;

    [FieldOffset(64)] public long RetiredWrites;
    [FieldOffset(72)] public long RetiredBytes;
    [FieldOffset(80)] public long RetiredDrops;
}
