using System.Runtime.CompilerServices;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// The mapped control file and its words file: typed references to their headers and tables (<see cref="ControlLayout"/>,
/// <see cref="WordsLayout"/>). The tables of the words file are reached here as they were when they were the control
/// file's, so what reads a rail or a lock word does not care where it lives.
/// </summary>
internal sealed unsafe class ControlFile : IDisposable
{
    private const string What = "control file";
    private const string WordsWhat = "words file";
    private readonly MappedFile _file;
    private readonly MappedFile _words;

    private ControlFile(MappedFile file, MappedFile words)
    {
        _file = file;
        _words = words;
    }

    public string Path => _file.Path;

    /// <summary>Whether this process may change the directory (the control file is mapped writable).</summary>
    public bool CanWriteDirectory => _file.Writable;

    /// <summary>Whether this process may change the words (the words file is mapped writable).</summary>
    public bool CanWriteWords => _words.Writable;

    public ref ControlHeader Header => ref Unsafe.AsRef<ControlHeader>(_file.Pointer);

    /// <summary>The words file's header: its event words.</summary>
    public ref WordsHeader Words => ref Unsafe.AsRef<WordsHeader>(_words.Pointer);

    public ref LogicalRailEntry Rail(int index) =>
        ref Unsafe.AsRef<LogicalRailEntry>(WordsAt(WordsLayout.RailsOffset, index, LogicalRailEntry.Size, ControlLayout.MaxLogicalRails));

    public ref PhysicalRailEntry PhysicalRail(int index) =>
        ref Unsafe.AsRef<PhysicalRailEntry>(WordsAt(WordsLayout.PhysicalRailsOffset, index, PhysicalRailEntry.Size, ControlLayout.MaxPhysicalRails));

    /// <summary>The uid whose loss tally is at <paramref name="slot"/> (below <see cref="WordsHeader.TallyCount"/>).</summary>
    public ref int TallyUid(int slot) =>
        ref Unsafe.AsRef<int>(WordsAt(WordsLayout.TalliesOffset, slot, sizeof(int), WordsLayout.MaxTallies));

    public ref HostEntry Host(int index) =>
        ref Unsafe.AsRef<HostEntry>(At(ControlLayout.HostsOffset, index, HostEntry.Size, ControlLayout.MaxHosts));

    public ref ProcessEntry Process(int index) =>
        ref Unsafe.AsRef<ProcessEntry>(At(ControlLayout.ProcessesOffset, index, ProcessEntry.Size, ControlLayout.MaxProcesses));

    public ref RegionEntry Region(int index) =>
        ref Unsafe.AsRef<RegionEntry>(At(ControlLayout.RegionsOffset, index, RegionEntry.Size, ControlLayout.MaxRegions));

    public ref AttachmentEntry Attachment(int index) =>
        ref Unsafe.AsRef<AttachmentEntry>(At(ControlLayout.AttachmentsOffset, index, AttachmentEntry.Size, ControlLayout.MaxAttachments));

    public ref LockSetEntry LockSet(int index) =>
        ref Unsafe.AsRef<LockSetEntry>(At(ControlLayout.LockSetsOffset, index, LockSetEntry.Size, ControlLayout.MaxLockSets));

    /// <summary>
    /// Opens and checks an existing control file and its words file (<paramref name="paths"/>), each mapped writable as
    /// <paramref name="access"/> says; a damaged one is refused with a message that names it and says what to do. A
    /// header is read and checked before anything is mapped, so a file of another layout or a truncated one is never
    /// read past its end. Neither is opened through a link, and only when <see cref="ClusterPaths.Owners"/> trust its
    /// owner.
    /// </summary>
    public static ControlFile Open(ClusterPaths paths, ControlAccess access)
    {
        var file = OpenChecked(paths.ControlFile, What, ControlLayout.Magic, ControlLayout.Version, ControlLayout.FileSize,
            access == ControlAccess.All, paths.Owners);
        try
        {
            var words = OpenChecked(paths.WordsFile, WordsWhat, WordsLayout.Magic, WordsLayout.Version, WordsLayout.FileSize,
                access != ControlAccess.Read, paths.Owners);
            var control = new ControlFile(file, words);
            control.Verify();
            return control;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static MappedFile OpenChecked(string path, string what, ulong magic, int version, int size, bool writable,
        FileOwners owners)
    {
        void Check(FileStatus status) => owners.Check(path, what, status);
        VerifyHeader(path, what, magic, version, size, Check);
        return MappedFile.Open(path, size, writable, what, Check);
    }

    private static void VerifyHeader(string path, string what, ulong magic, int version, int size, Action<FileStatus> check)
    {
        var fd = NoFollow.OpenFile(path, writable: false, what, check);
        Span<byte> bytes = stackalloc byte[64];
        int read;
        long length;
        try
        {
            length = NoFollow.StatusOf(fd, path, what).Size;
            fixed (byte* buffer = bytes)
            {
                read = (int)Math.Max(Libc.PRead(fd, buffer, (nuint)bytes.Length, 0), 0);
            }
        }
        finally
        {
            _ = Libc.Close(fd);
        }

        var recreate = "remove the cluster (imcctl destroy) and run imc_init";
        if (read < bytes.Length || BitConverter.ToUInt64(bytes) != magic)
        {
            throw new DriverException(DriverStatus.BadMap,
                $"{path} is not an Interconnect {what} ({(read < bytes.Length ? "too short" : "wrong magic number")}): {recreate}");
        }

        var found = BitConverter.ToInt32(bytes[8..]);
        if (found != version)
        {
            throw new DriverException(DriverStatus.BadMap,
                $"{path} has {what} layout version {found}, this library reads version {version}: " +
                $"use the same Interconnect version for every program of the cluster, or {recreate}");
        }

        if (length != size || BitConverter.ToInt64(bytes[16..]) != size)
        {
            throw new DriverException(DriverStatus.BadMap,
                $"{what} {path} is {length} bytes, expected {size}: it was truncated or resized; {recreate}");
        }
    }

    /// <summary>
    /// Creates a new control file and its words file in <paramref name="folder"/> (a temporary one: the caller
    /// publishes it), each 0666: every user of the cluster writes both until <c>imcd</c> takes the folder.
    /// </summary>
    public static void Create(string folder, ClusterConfiguration configuration)
    {
        using var words = MappedFile.Create(System.IO.Path.Combine(folder, "words"), WordsLayout.FileSize, 0b110_110_110,
            owner: (-1, -1), WordsWhat);
        using var file = MappedFile.Create(System.IO.Path.Combine(folder, "control"), ControlLayout.FileSize, 0b110_110_110,
            owner: (-1, -1), What);
        var control = new ControlFile(file, words);
        ref var w = ref control.Words;
        w.Magic = WordsLayout.Magic;
        w.Version = WordsLayout.Version;
        w.FileSize = WordsLayout.FileSize;
        ref var h = ref control.Header;
        h.Version = ControlLayout.Version;
        h.HeaderSize = ControlLayout.HeaderSize;
        h.FileSize = ControlLayout.FileSize;
        h.MaxHosts = ControlLayout.MaxHosts;
        h.MaxProcesses = ControlLayout.MaxProcesses;
        h.MaxRegions = ControlLayout.MaxRegions;
        h.MaxAttachments = ControlLayout.MaxAttachments;
        h.MaxLockSets = ControlLayout.MaxLockSets;
        h.MaxLocks = ControlLayout.MaxLocks;
        h.PageSize = Environment.SystemPageSize;
        h.CreatedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        h.MaxAllocBytes = configuration.MaxAllocBytes;
        h.PhysicalRails = configuration.PhysicalRails;
        h.RailStyle = configuration.RailStyle;
        h.LogicalRails = configuration.LogicalRails;
        h.ErrorWindowMs = configuration.ErrorWindowMs;
        h.NextRegionId = 1;
        h.NextLockSetId = 1;
        for (var r = 0; r < configuration.LogicalRails; r++)
        {
            ref var rail = ref control.Rail(r);
            rail.DropHost = -1;
            rail.ActivePhysical = configuration.RailStyle == ClusterConfiguration.FailoverPair ? 2 * r : r;
        }

        // The magic goes last: a reader that sees it sees a complete header (the words file's is whole before).
        Volatile.Write(ref h.Magic, ControlLayout.Magic);
    }

    public void Dispose()
    {
        _file.Dispose();
        _words.Dispose();
    }

    private void Verify()
    {
        ref var h = ref Header;
        if (h.Magic != ControlLayout.Magic)
        {
            throw new DriverException(DriverStatus.BadMap,
                $"{Path} is not an Interconnect control file (wrong magic number): remove the cluster folder " +
                "(imcctl destroy) and run imc_init");
        }

        if (h.Version != ControlLayout.Version)
        {
            throw new DriverException(DriverStatus.BadMap,
                $"{Path} has control file layout version {h.Version}, this library reads version {ControlLayout.Version}: " +
                "use the same Interconnect version for every program of the cluster, or recreate it (imcctl destroy, imc_init)");
        }

        if (h.HeaderSize != ControlLayout.HeaderSize || h.FileSize != ControlLayout.FileSize ||
            h.MaxHosts != ControlLayout.MaxHosts || h.MaxProcesses != ControlLayout.MaxProcesses ||
            h.MaxRegions != ControlLayout.MaxRegions || h.MaxAttachments != ControlLayout.MaxAttachments ||
            h.MaxLockSets != ControlLayout.MaxLockSets || h.MaxLocks != ControlLayout.MaxLocks ||
            h.LogicalRails is < 1 or > ControlLayout.MaxLogicalRails ||
            h.PhysicalRails is < 1 or > ControlLayout.MaxPhysicalRails)
        {
            throw new DriverException(DriverStatus.BadMap,
                $"{Path} has a damaged header (sizes or capacities do not match layout version {ControlLayout.Version}): " +
                "recreate the cluster (imcctl destroy, imc_init)");
        }
    }

    private byte* At(int offset, int index, int size, int count)
    {
        if ((uint)index >= (uint)count)
        {
            ThrowIndex(index, count);
        }

        return _file.Pointer + offset + ((long)index * size);
    }

    private byte* WordsAt(int offset, int index, int size, int count)
    {
        if ((uint)index >= (uint)count)
        {
            ThrowIndex(index, count);
        }

        return _words.Pointer + offset + ((long)index * size);
    }

    private static void ThrowIndex(int index, int count) =>
        throw new DriverException(DriverStatus.BadMap,
            $"control file entry {index} is outside its table of {count}: the control file is damaged");
}
