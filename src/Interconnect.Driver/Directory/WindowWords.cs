namespace Interconnect.Driver.Directory;

/// <summary>
/// The hot words of one transmit window, which the data path reads and bumps without entering the directory: the
/// region's generation (it moves whenever the region's receivers change), the region's write lock (coherent regions),
/// its logical rail's fault word, and the window's own counters. The directory keeps them current in memory local to
/// the writer's machine; nothing else of the directory is touched by a steady write.
/// </summary>
internal readonly unsafe struct WindowWords
{
    /// <summary>
    /// The mapping the write lock and counters are in, when it was made for this window alone: held here so it lives as
    /// long as the window does. Its session holds the window until it is disposed, and the mapping goes only with its
    /// finalizer, once nothing reaches the window: a thread still writing when another disposes it writes mapped memory.
    /// </summary>
    public Interop.MappedFile? Mapping { get; init; }

    public required int* Generation { get; init; }

    public required long* WriteLock { get; init; }

    public required int* Fault { get; init; }

    /// <summary>Writes and bytes of the window's owning thread (plain adds), then of every other thread (atomic).</summary>
    public required long* Writes { get; init; }

    public required long* Bytes { get; init; }

    public required long* SharedWrites { get; init; }

    public required long* SharedBytes { get; init; }

    /// <summary>Deliveries lost (atomic adds).</summary>
    public required long* Drops { get; init; }
}
