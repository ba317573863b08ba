using System.Globalization;
using System.Runtime.InteropServices;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Status;

namespace Interconnect.Driver.Store;

/// <summary>
/// <c>imcd</c>'s hold on the cluster's folder (API.md, "Security across machines": files): once the cluster exists,
/// imcd makes the folder its own (root's or imcd's user's, else it refuses, as <see cref="FileOwners"/> does) and sets
/// who may use the cluster. The control file (the directory) and the words file (the rails and event words), which
/// imcd alone changes, are then writable by imcd's user only, 0644, and so are <c>locksets/</c>, <c>windows/</c> and
/// <c>tallies/</c>, 0755, where imcd alone makes each lock set's and each region's file (with that entry's owner and
/// permissions) and each user's loss tally (that user's). Open to every local user, the folder is 0755 and
/// <c>regions/</c> 1777. With a group (<c>imcd --group G</c>), only G's members (and root) may use the cluster: the
/// folder is 0750, <c>regions/</c> 1770 (sticky: none removes another's receive file), <c>locksets/</c>,
/// <c>windows/</c> and <c>tallies/</c> 0750, the control and words files 0640, each of group G, so a user outside G
/// reaches neither the socket nor any file of the cluster.
/// Each is opened without following a link and changed through its descriptor (<c>fchown</c>, <c>fchmod</c>), so
/// what is changed is what was checked.
/// </summary>
internal static class ClusterFolder
{
    private const int Sticky = 0b1_000_000_000;

    /// <summary>
    /// Makes the cluster if it is not there, then sets the group and modes of its folder, <c>regions/</c>,
    /// <c>locksets/</c>, <c>windows/</c>, <c>tallies/</c>, control file and words file: for <paramref name="group"/> alone
    /// when given, else for every local user; then removes what names no live entry or listed tally from those three.
    /// </summary>
    public static void Take(ClusterPaths paths, int? group)
    {
        paths = paths.ForAgent();
        ControlFileDirectory.OpenOrCreate(paths).Dispose(); // made if new, with the defaults
        var shared = group is null;
        Change(paths, paths.ClusterDirectory, "cluster folder", directory: true, group, shared ? 0b111_101_101 : 0b111_101_000);
        Change(paths, paths.RegionsDirectory, "folder of receive files", directory: true, group,
            Sticky | (shared ? 0b111_111_111 : 0b111_111_000));
        foreach (var (folder, what) in EntryFolders(paths))
        {
            Change(paths, folder, what, directory: true, group, shared ? 0b111_101_101 : 0b111_101_000);
        }

        Change(paths, paths.TalliesDirectory, "folder of loss tallies", directory: true, group, shared ? 0b111_101_101 : 0b111_101_000);
        Change(paths, paths.WordsFile, "words file", directory: false, group, shared ? 0b110_100_100 : 0b110_100_000);
        Change(paths, paths.ControlFile, "control file", directory: false, group, shared ? 0b110_100_100 : 0b110_100_000);

        // locksets/, windows/ and tallies/ are imcd's from here on: what someone left there before would only be in the way.
        using var local = ControlFileDirectory.Open(paths);
        using var scope = local.Cluster.EnterDirectory();
        local.Cluster.SweepEntryFiles();
    }

    /// <summary>
    /// When <c>imcd --local</c> stops serving the cluster: its control and words files, <c>locksets/</c> and
    /// <c>windows/</c> are writable again by those who may use the cluster (0666 and 1777, or 0660 and 1770 of
    /// <paramref name="group"/>), as the embedded default, in which every process changes the directory and the rails
    /// itself, needs. The loss tallies stay, imcd's and listed: every reader still adds up what they counted.
    /// </summary>
    public static void HandBack(ClusterPaths paths, int? group)
    {
        paths = paths.ForAgent();
        var shared = group is null;
        foreach (var (folder, what) in EntryFolders(paths))
        {
            Change(paths, folder, what, directory: true, group, Sticky | (shared ? 0b111_111_111 : 0b111_111_000));
        }

        Change(paths, paths.WordsFile, "words file", directory: false, group, shared ? 0b110_110_110 : 0b110_110_000);
        Change(paths, paths.ControlFile, "control file", directory: false, group, shared ? 0b110_110_110 : 0b110_110_000);
    }

    /// <summary>
    /// The group <paramref name="name"/> names (a name from /etc/group, or a number); throws a one-line refusal for an
    /// unknown one.
    /// </summary>
    public static int GroupId(string name)
    {
        if (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var gid))
        {
            return gid;
        }

        return new AccountNames().GroupId(name) ?? throw new DriverException(DriverStatus.BadParameter,
            $"there is no group '{name}' in /etc/group: give --group the name or number of the group whose members may " +
            "use the cluster (groupadd makes one)");
    }

    /// <summary>
    /// Refuses, in one line, a cluster whose folder this process may not enter: one that <c>imcd --group</c> keeps to
    /// its group's members. Nothing to refuse when there is no folder yet.
    /// </summary>
    public static void CheckMayEnter(ClusterPaths paths)
    {
        if (NoFollow.LinkStatus(paths.ClusterDirectory) is { IsDirectory: true } status &&
            Libc.FAccessAt(Libc.AtFdCwd, paths.ClusterDirectory, Libc.XOk, Libc.AtEAccess) != 0 &&
            Marshal.GetLastPInvokeError() == Libc.EAccess)
        {
            var names = new AccountNames();
            throw new DriverException(DriverStatus.Permit,
                $"cluster '{paths.Cluster}' under {paths.Root} is for the members of group {names.Group(status.Gid)} only (its " +
                $"folder is mode {Convert.ToString(status.Permissions, 8)}, imcd --group): this process (user " +
                $"{names.User(Libc.GetEuid())}) is not one; ask the cluster's operator to add the user to {names.Group(status.Gid)}");
        }
    }

    /// <summary>The folders of the files each lock set and region has of its own, which the directory's holder makes.</summary>
    private static (string Folder, string What)[] EntryFolders(ClusterPaths paths) =>
        [(paths.LockSetsDirectory, "folder of lock set files"), (paths.WindowsDirectory, "folder of region windows files")];

    private static void Change(ClusterPaths paths, string path, string what, bool directory, int? group, int mode)
    {
        // Opened without following a link, and checked on the descriptor: a folder, or a regular file, of a trusted owner.
        var fd = directory ? NoFollow.OpenDirectory(path, what) : NoFollow.OpenFile(path, writable: false, what, check: null);
        try
        {
            var status = NoFollow.StatusOf(fd, path, what);
            paths.Owners.Check(path, what, status);
            if (group is { } gid && status.Gid != gid && Libc.FChown(fd, -1, gid) != 0)
            {
                throw new DriverException(DriverStatus.OpenError,
                    $"cannot give {what} {path} to group {gid} (errno {Marshal.GetLastPInvokeError()}): imcd must run as root, " +
                    "or as a member of that group");
            }

            if (status.Permissions != mode && Libc.FChmod(fd, mode) != 0)
            {
                throw new DriverException(DriverStatus.OpenError,
                    $"cannot set the mode of {what} {path} (errno {Marshal.GetLastPInvokeError()}): imcd must own it");
            }
        }
        finally
        {
            _ = Libc.Close(fd);
        }
    }
}
