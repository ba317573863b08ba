using Interconnect.Driver.Interop;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// One user's loss tally: <c>tallies/u{uid}</c>, a <see cref="TallyEntry"/> per logical rail, where that user's
/// processes count the deliveries they lost while <c>imcd</c> serves the cluster (its words file, which holds the
/// rails, is then imcd's alone). imcd makes it when it first registers a process of the user, as root for that user
/// (0644: the user raises its counts, everyone reads them, no one else writes them), and lists it in the words file
/// (<see cref="WordsHeader.TallyCount"/>). A rail's error count is the words file's plus every tally's, so a user can
/// make errors appear (as by losing writes) but can hide only its own losses, never another's.
/// </summary>
internal static unsafe class TallyFile
{
    private const string What = "loss tally";

    public const int Length = ControlLayout.MaxLogicalRails * TallyEntry.Size;

    public static string PathOf(ClusterPaths paths, int uid) => Path.Combine(paths.TalliesDirectory, $"u{uid}");

    /// <summary>
    /// Makes the zeroed tally of <paramref name="uid"/>: the user's own, 0644, when imcd runs as root or as that user.
    /// An imcd of another user cannot give a file away: the tally is then imcd's and 0666 (in a cluster folder that
    /// <c>--group</c> may close to others), so the user can write it at all, and so can every other user of the cluster.
    /// </summary>
    public static MappedFile Create(ClusterPaths paths, int uid)
    {
        var euid = Libc.GetEuid();
        var mode = euid == 0 || euid == uid ? 0b110_100_100 : 0b110_110_110;
        return MappedFile.Create(PathOf(paths, uid), Length, mode, (uid, -1), What);
    }

    /// <summary>
    /// Maps the tally of <paramref name="uid"/>: writable for one of that user's processes, read-only for every reader.
    /// A process that checks owners uses a tally of a trusted owner or of that user only.
    /// </summary>
    public static MappedFile Open(ClusterPaths paths, int uid, bool writable)
    {
        var path = PathOf(paths, uid);
        return MappedFile.Open(path, Length, writable, What,
            status => paths.Owners.CheckOwnedBy(path, What, status, uid, $"user {uid}'s losses"));
    }

    public static ref TallyEntry Rail(byte* file, int rail) => ref *(TallyEntry*)(file + ((long)rail * TallyEntry.Size));
}
