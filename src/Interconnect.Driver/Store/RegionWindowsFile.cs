using Interconnect.Driver.Interop;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// The words of one region's transmit windows on one machine: a file of its own, <c>windows/r{id}</c>
/// (<see cref="WindowsLayout"/>): the region's write lock (coherent regions) and each transmit window's counters. It
/// carries the region's owner and group, and is readable and writable by each class that may read or write the region
/// (<see cref="Mode"/>: its writers count and take the write lock; a receiver joining a coherent region takes it too),
/// so a user who has no right to the region can neither take its write lock nor touch its counters. Made by whoever
/// holds the directory when the region is made (<c>imcd</c>, as root, gives it to the region's owner), never through a
/// link, and removed when the region is freed.
/// </summary>
internal static unsafe class RegionWindowsFile
{
    private const string What = "region windows file";

    public static string PathOf(ClusterPaths paths, long id) => Path.Combine(paths.WindowsDirectory, $"r{id}");

    /// <summary>Makes the zeroed words of a new region, for its owner, with its mode.</summary>
    public static MappedFile Create(ClusterPaths paths, in RegionEntry region) =>
        MappedFile.Create(PathOf(paths, region.Id), WindowsLayout.FileSize, Mode(region.Permissions),
            (region.OwnerUid, region.OwnerGid), What);

    /// <summary>Read and write for each class (user, group, other) that may read or write the region.</summary>
    public static int Mode(int permissions)
    {
        var mode = 0;
        for (var shift = 0; shift <= 6; shift += 3)
        {
            mode |= ((permissions >> shift) & 0b110) != 0 ? 0b110 << shift : 0;
        }

        return mode;
    }

    /// <summary>
    /// Maps the words of the live region <paramref name="region"/>. A process that checks owners uses a file of a
    /// trusted owner or of the region's owner only.
    /// </summary>
    public static MappedFile Open(ClusterPaths paths, in RegionEntry region, bool writable)
    {
        var path = PathOf(paths, region.Id);
        var (owner, whose) = (region.OwnerUid, $"region key {region.Key}");
        return MappedFile.Open(path, WindowsLayout.FileSize, writable, What,
            status => paths.Owners.CheckOwnedBy(path, What, status, owner, whose));
    }

    public static ref RegionWords Region(byte* file) => ref *(RegionWords*)file;

    public static ref WindowCounters Window(byte* file, int attachment)
    {
        if ((uint)attachment >= ControlLayout.MaxAttachments)
        {
            throw new DriverException(DriverStatus.BadMap,
                $"attachment {attachment} is outside the table of {ControlLayout.MaxAttachments}: the control file is damaged");
        }

        return ref *(WindowCounters*)(file + WindowsLayout.CountersOffset + ((long)attachment * WindowCounters.Size));
    }
}
