using Interconnect.Driver.Interop;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// The files of the directory's entries that this process mapped for the directory's own work: each lock set's words
/// (<see cref="LockSetFile"/>) and each region's window words (<see cref="RegionWindowsFile"/>), mapped once, by path
/// (entry ids are never reused), until the entry is freed. A lock port or a transmit window maps its file apart, so
/// freeing an entry here never unmaps words that one still uses.
/// </summary>
internal sealed partial class Cluster
{
    private readonly Dictionary<string, MappedFile> _entryFiles = [];
    private readonly Lock _entryFilesLock = new();

    /// <summary>
    /// The mapping of <paramref name="path"/>, made by <paramref name="open"/> the first time; null when it cannot be
    /// mapped (not this user's to map, gone, damaged: <paramref name="unreachable"/> says which), which never stops a
    /// directory change.
    /// </summary>
    private unsafe byte* EntryFile(string path, Func<MappedFile> open, out DriverException? unreachable)
    {
        unreachable = null;
        lock (_entryFilesLock)
        {
            if (_entryFiles.TryGetValue(path, out var mapped))
            {
                return mapped.Pointer;
            }

            try
            {
                var file = open();
                _entryFiles[path] = file;
                return file.Pointer;
            }
            catch (DriverException e)
            {
                unreachable = e;
                return null;
            }
        }
    }

    /// <summary>Keeps a file this process just made for a new entry.</summary>
    private void KeepEntryFile(string path, MappedFile file)
    {
        lock (_entryFilesLock)
        {
            _entryFiles[path] = file;
        }
    }

    /// <summary>Unmaps a freed entry's file and removes it; one this process may not remove (another user's, in a sticky folder) stays.</summary>
    private void RemoveEntryFile(string path)
    {
        lock (_entryFilesLock)
        {
            if (_entryFiles.Remove(path, out var file))
            {
                file.Dispose();
            }
        }

        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// The window words of the live region in <paramref name="slot"/> (<see cref="RegionWindowsFile"/>), mapped once by
    /// this process; null when it cannot map them (a region this user has no right to, or a file gone or damaged).
    /// </summary>
    public unsafe byte* WindowsOf(int slot)
    {
        var region = Control.Region(slot);
        return EntryFile(RegionWindowsFile.PathOf(Paths, region.Id), () => RegionWindowsFile.Open(Paths, region, Control.CanWriteWords),
            out _);
    }

    /// <summary>Makes the window words of a new region (its entry complete but not yet live).</summary>
    public void CreateWindowsFile(in RegionEntry region) =>
        KeepEntryFile(RegionWindowsFile.PathOf(Paths, region.Id), RegionWindowsFile.Create(Paths, region));

    /// <summary>
    /// Removes every file of <c>locksets/</c>, <c>windows/</c> and <c>tallies/</c> that names no live lock set or region
    /// and no listed tally (left by a process that could not remove another user's, or put there by someone): none would
    /// ever be used, and one under the name of a coming entry would stop that entry being made. Links are removed, never
    /// followed. With the directory held.
    /// </summary>
    public int SweepEntryFiles()
    {
        var live = new HashSet<string>();
        for (var slot = 0; slot < ControlLayout.MaxLockSets; slot++)
        {
            if (Control.LockSet(slot).State == LockSetEntry.StateLive)
            {
                live.Add(LockSetFile.PathOf(Paths, Control.LockSet(slot).Id));
            }
        }

        for (var slot = 0; slot < ControlLayout.MaxRegions; slot++)
        {
            if (Control.Region(slot).State == RegionEntry.StateLive)
            {
                live.Add(RegionWindowsFile.PathOf(Paths, Control.Region(slot).Id));
            }
        }

        live.UnionWith(ListedTallies());
        var removed = 0;
        foreach (var folder in new[] { Paths.LockSetsDirectory, Paths.WindowsDirectory, Paths.TalliesDirectory })
        {
            foreach (var path in System.IO.Directory.Exists(folder) ? System.IO.Directory.GetFileSystemEntries(folder) : [])
            {
                if (!live.Contains(path) && NoFollow.LinkStatus(path) is { IsDirectory: false })
                {
                    RemoveEntryFile(path);
                    removed += NoFollow.LinkStatus(path) is null ? 1 : 0;
                }
            }
        }

        return removed;
    }

    private void DisposeEntryFiles()
    {
        lock (_entryFilesLock)
        {
            foreach (var file in _entryFiles.Values)
            {
                file.Dispose();
            }

            _entryFiles.Clear();
        }
    }
}
