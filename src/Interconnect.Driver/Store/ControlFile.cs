using System.Runtime.CompilerServices;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// The mapped control file: typed references to its header and tables (<see cref="ControlLayout"/>).
/// </summary>
internal sealed unsafe class ControlFile : IDisposable
{
    private const string What = "control file";
    private readonly MappedFile _file;

    private ControlFile(MappedFile file) => _file = file;

    public string Path => _file.Path;

    public ref ControlHeader Header => ref Unsafe.AsRef<ControlHeader>(_file.Pointer);

    public byte* Base => _file.Pointer;

    public ref LogicalRailEntry Rail(int index) =>
        ref Unsafe.AsRef<LogicalRailEntry>(At(ControlLayout.RailsOffset, index, LogicalRailEntry.Size, ControlLayout.MaxLogicalRails));

    public ref PhysicalRailEntry PhysicalRail(int index) =>
        ref Unsafe.AsRef<PhysicalRailEntry>(At(ControlLayout.PhysicalRailsOffset, index, PhysicalRailEntry.Size, ControlLayout.MaxPhysicalRails));

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

    public ref LockWord Lock(int index) =>
        ref Unsafe.AsRef<LockWord>(At(ControlLayout.LockWordsOffset, index, LockWord.Size, ControlLayout.MaxLocks));

    /// <summary>
    /// Opens and checks an existing control file; a damaged one is refused with a message that names it and says
    /// what to do. The header is read and checked before anything is mapped, so a file of another layout or a
    /// truncated one is never read past its end. It is never opened through a link, and only when
    /// <paramref name="owners"/> trust its owner.
    /// </summary>
    public static ControlFile Open(string path, bool writable, FileOwners owners)
    {
        void Check(FileStatus status) => owners.Check(path, What, status);
        VerifyHeader(path, Check);
        var file = MappedFile.Open(path, ControlLayout.FileSize, writable, What, Check);
        try
        {
            var control = new ControlFile(file);
            control.Verify();
            return control;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static void VerifyHeader(string path, Action<FileStatus> check)
    {
        var fd = NoFollow.OpenFile(path, writable: false, What, check);
        Span<byte> bytes = stackalloc byte[64];
        int read;
        long length;
        try
        {
            length = NoFollow.StatusOf(fd, path, What).Size;
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
        if (read < bytes.Length || BitConverter.ToUInt64(bytes) != ControlLayout.Magic)
        {
            throw new DriverException(DriverStatus.BadMap,
                $"{path} is not an Interconnect control file ({(read < bytes.Length ? "too short" : "wrong magic number")}): {recreate}");
        }

        var version = BitConverter.ToInt32(bytes[8..]);
        if (version != ControlLayout.Version)
        {
            throw new DriverException(DriverStatus.BadMap,
                $"{path} has control file layout version {version}, this library reads version {ControlLayout.Version}: " +
                $"use the same Interconnect version for every program of the cluster, or {recreate}");
        }

        if (length != ControlLayout.FileSize || BitConverter.ToInt64(bytes[16..]) != ControlLayout.FileSize)
        {
            throw new DriverException(DriverStatus.BadMap,
                $"control file {path} is {length} bytes, expected {ControlLayout.FileSize}: it was truncated or resized; {recreate}");
        }
    }

    /// <summary>Creates a new control file at <paramref name="path"/> (a temporary name: the caller publishes it).</summary>
    public static ControlFile Create(string path, ClusterConfiguration configuration)
    {
        var file = MappedFile.Create(path, ControlLayout.FileSize, 0b110_110_110, owner: (-1, -1), What);
        var control = new ControlFile(file);
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

        // The magic goes last: a reader that sees it sees a complete header.
        Volatile.Write(ref h.Magic, ControlLayout.Magic);
        return control;
    }

    public void Dispose() => _file.Dispose();

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

    private static void ThrowIndex(int index, int count) =>
        throw new DriverException(DriverStatus.BadMap,
            $"control file entry {index} is outside its table of {count}: the control file is damaged");
}
