using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// The first 128 bytes of the words file.
/// <code>
///  0                   8           12          16
///  | Magic "IMCWORD1"  | Version   | -         | FileSize |                   line 0: identity, written once
///  64: EventSequence | HostSequence | RailSequence | TallyCount              line 1: cluster events (futex words)
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct WordsHeader
{
    public const int Size = 128;

    [FieldOffset(0)] public ulong Magic;
    [FieldOffset(8)] public int Version;
    [FieldOffset(16)] public long FileSize;

    /// <summary>Bumped on every host or rail change; event waiters sleep on it.</summary>
    [FieldOffset(64)] public int EventSequence;
    [FieldOffset(68)] public int HostSequence;
    [FieldOffset(72)] public int RailSequence;

    /// <summary>
    /// How many of <see cref="WordsLayout.TalliesOffset"/>'s slots name a loss tally (<see cref="TallyFile"/>): raised
    /// by imcd, with a release, after the tally's file is made; never lowered while the cluster exists.
    /// </summary>
    [FieldOffset(76)] public int TallyCount;
}
