using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// One logical rail in a user's loss tally (<see cref="TallyFile"/>): the deliveries that user's writers lost on it.
/// <code>
///  0            4     8                    16
///  | ErrorCount | -   | ProcessingUntilMs  | (reserved to 64) |
/// </code>
/// A rail's clusterwide error count is its <see cref="LogicalRailEntry.ErrorCount"/> plus every tally's
/// <see cref="ErrorCount"/>; it is processing an error while any of them is.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct TallyEntry
{
    public const int Size = 64;

    [FieldOffset(0)] public int ErrorCount;
    [FieldOffset(8)] public long ProcessingUntilMs;
}
