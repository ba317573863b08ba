using System.Globalization;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Status;

namespace Interconnect.Driver.Store;

/// <summary>
/// Whose folders and files of a cluster this process uses. An ordinary process of the embedded cluster trusts every
/// local user of it (docs/trust-model.md), so it checks no owner. A process with root's power (effective uid 0) and
/// the machine's agent (<c>imcd</c>, whatever its uid) are <see cref="Strict"/>: they use a folder or file of the
/// cluster only when root or the process's own user owns it (the receive files of <c>regions/</c>, which each user's
/// processes make, are judged by the region they belong to: <see cref="Cluster"/>), and every folder from <c>/</c> down to
/// the cluster's is one that no one else can rename or replace (theirs, and not writable by others unless sticky).
/// Otherwise another user could point root's writes at a file of their choice.
/// </summary>
internal sealed class FileOwners
{
    private static readonly Lazy<AccountNames> s_names = new(() => new AccountNames());
    private readonly int[] _uids;
    private readonly string _who;

    private FileOwners(int[] uids, string who)
    {
        _uids = uids;
        _who = who;
    }

    /// <summary>No check: every local user of the cluster is trusted with its files (the embedded model).</summary>
    public static FileOwners Anyone { get; } = new([], "");

    /// <summary>The owners this process trusts: strict as root, otherwise <see cref="Anyone"/>.</summary>
    public static FileOwners ForThisProcess() => Libc.GetEuid() == 0 ? ForAgent() : Anyone;

    /// <summary>Strict whatever the uid: root and this process's own user.</summary>
    public static FileOwners ForAgent()
    {
        var me = Libc.GetEuid();
        return me == 0 ? new([0], "a process running as root") : new([0, me], $"imcd (running as {Name(me)})");
    }

    /// <summary>True when owners are checked at all.</summary>
    public bool Strict => _uids.Length > 0;

    public bool Trusts(int uid) => !Strict || Array.IndexOf(_uids, uid) >= 0;

    /// <summary>Refuses a file or folder another user owns, in one line: which path, which owner, what to do.</summary>
    public void Check(string path, string what, FileStatus status)
    {
        if (!Trusts(status.Uid))
        {
            throw Untrusted(path, what, status.Uid);
        }
    }

    /// <summary>
    /// Refuses, as <see cref="Check"/> does, a file whose owner is neither trusted nor <paramref name="entryOwner"/>: the
    /// owner of the lock set or region the file belongs to (<paramref name="whose"/>), who made it without imcd.
    /// </summary>
    public void CheckOwnedBy(string path, string what, FileStatus status, int entryOwner, string whose)
    {
        if (!Trusts(status.Uid) && status.Uid != entryOwner)
        {
            throw Untrusted(path, what, status.Uid, $" (not the owner of {whose}, whose file it names)");
        }
    }

    /// <summary>The refusal of <paramref name="path"/>, owned by <paramref name="uid"/>.</summary>
    public DriverException Untrusted(string path, string what, int uid, string? why = null) =>
        new(DriverStatus.OpenError,
            $"{what} {path} is owned by {Name(uid)}, not by {Trusted()}: {_who} does not use a file or folder of a cluster " +
            $"that another user controls{why}; remove it (the cluster is made anew), or start this program as {Name(uid)}");

    /// <summary>
    /// Checks every folder from <c>/</c> down to <paramref name="folder"/> (those that exist, called by
    /// <paramref name="names"/> in messages): each a folder of a
    /// trusted owner that no one else may write, or sticky (as /tmp and /dev/shm); a link on the way is followed only
    /// when a trusted owner made it, and its target is checked the same way.
    /// </summary>
    public void CheckFolders(string folder, params (string Path, string Name)[] names)
    {
        if (!Strict)
        {
            return;
        }

        CheckFolders(Path.GetFullPath(folder), names, depth: 0);
    }

    private void CheckFolders(string folder, (string Path, string Name)[] names, int depth)
    {
        var prefix = "/";
        foreach (var part in folder.Split('/', StringSplitOptions.RemoveEmptyEntries).Prepend(""))
        {
            prefix = part.Length == 0 ? "/" : Path.Combine(prefix, part);
            if (NoFollow.LinkStatus(prefix) is not { } status)
            {
                return; // not made yet: whoever makes it is checked when it is used
            }

            var name = names.FirstOrDefault(n => n.Path == prefix).Name ?? "folder";
            if (status.IsSymbolicLink)
            {
                Check(prefix, $"{name} (a symbolic link)", status);
                var target = ResolvedTarget(prefix);
                if (depth > 8 || target is null)
                {
                    throw new DriverException(DriverStatus.OpenError,
                        $"{name} {prefix} is a symbolic link that does not lead to a folder: point IMC_ROOT at a real folder");
                }

                CheckFolders(target, names, depth + 1);
                continue;
            }

            if (!status.IsDirectory)
            {
                throw new DriverException(DriverStatus.OpenError,
                    $"{name} {prefix} is {status.Kind}, not a folder: remove it, or point IMC_ROOT elsewhere");
            }

            Check(prefix, name, status);
            if (status.IsWritableByOthers && !status.IsSticky)
            {
                throw new DriverException(DriverStatus.OpenError,
                    $"{name} {prefix} (mode {Convert.ToString(status.Permissions, 8)}) may be written by other users and is not " +
                    $"sticky, so they could replace what {_who} opens under it: chmod o-w,g-w {prefix} (or +t), or use another IMC_ROOT");
            }
        }
    }

    private static string? ResolvedTarget(string link)
    {
        try
        {
            return new DirectoryInfo(link).ResolveLinkTarget(returnFinalTarget: true)?.FullName;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private string Trusted() => string.Join(" or ", _uids.Distinct().Select(Name));

    private static string Name(int uid)
    {
        var name = s_names.Value.User(uid);
        var number = uid.ToString(CultureInfo.InvariantCulture);
        return name == number ? $"uid {number}" : $"{name} (uid {number})";
    }
}
