using Interconnect.Driver.Interop;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// The words of one lock set on one machine: a file of its own, <c>locksets/s{id}</c>, of <see cref="LockWord"/>s,
/// owned by the set's owner and group, readable and writable by its owner and by the classes its lock permissions admit
/// (<see cref="Mode"/>). So the operating system keeps a lock set's words to the users who may use it, as a region's
/// receive files are kept to those who may read or write it: a user the set does not admit can neither take nor free
/// its locks by writing memory. The file is made by whoever holds the directory when the set is made (<c>imcd</c>, as
/// root, gives it to the set's owner), never through a link, and removed when the set is freed.
/// </summary>
internal static class LockSetFile
{
    private const string What = "lock set file";

    public static string PathOf(ClusterPaths paths, long id) => Path.Combine(paths.LockSetsDirectory, $"s{id}");

    public static long Length(int count) => (long)count * LockWord.Size;

    /// <summary>The file's mode: read and write for its owner always (who made it), and for each class the set admits.</summary>
    public static int Mode(int permissions) => 0b110_000_000 | ControlFileDirectory.LockAccessMode(permissions);

    /// <summary>Makes the zeroed words of a new set, for <paramref name="owner"/>, and maps them.</summary>
    public static MappedFile Create(ClusterPaths paths, long id, int count, int permissions, (int Uid, int Gid) owner) =>
        MappedFile.Create(PathOf(paths, id), Length(count), Mode(permissions), owner, What);

    /// <summary>
    /// Maps the words of the live set <paramref name="set"/>. A process that checks owners uses a file of a trusted
    /// owner or of the set's owner only (the one who made it, without imcd).
    /// </summary>
    public static MappedFile Open(ClusterPaths paths, in LockSetEntry set, bool writable)
    {
        var path = PathOf(paths, set.Id);
        var (owner, whose) = (set.OwnerUid, $"lock set key {set.Key}");
        return MappedFile.Open(path, Length(set.Count), writable, What,
            status => paths.Owners.CheckOwnedBy(path, What, status, owner, whose));
    }
}
