using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// The counters of one transmit window (a transmit attachment, by its index in the control file), in its region's
/// windows file (<see cref="WindowsLayout"/>).
/// <code>
///  0        8       16                                                  64             72            80
///  | Writes | Bytes | Drops | -                                         | SharedWrites | SharedBytes | - |
/// </code>
/// Written by that window's data path only. <see cref="Writes"/> and <see cref="Bytes"/> (line 0) belong to the one
/// thread that wrote through the window first, which adds to them without atomics; every other thread adds to
/// <see cref="SharedWrites"/> and <see cref="SharedBytes"/> (line 1) atomically, so the sums are exact however many
/// threads write. <see cref="Drops"/> is only ever added to atomically. When the window detaches, the sums move to its
/// rail's retired totals.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct WindowCounters
{
    public const int Size = 128;

    [FieldOffset(0)] public long Writes;
    [FieldOffset(8)] public long Bytes;
    [FieldOffset(16)] public long Drops;
    [FieldOffset(64)] public long SharedWrites;
    [FieldOffset(72)] public long SharedBytes;

    /// <summary>Every write through the window, by any thread.</summary>
    public readonly long TotalWrites => Volatile.Read(in Writes) + Volatile.Read(in SharedWrites);

    /// <summary>Every byte written through the window, by any thread.</summary>
    public readonly long TotalBytes => Volatile.Read(in Bytes) + Volatile.Read(in SharedBytes);
}
