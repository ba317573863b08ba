using Interconnect.Driver.Interop;

namespace Interconnect.Driver.Store;

/// <summary>The caller's real user and groups, and UNIX-style permission checks against them.</summary>
internal sealed class Credentials
{
    public const int Read = 4;
    public const int Write = 2;

    private static readonly Lazy<Credentials> s_current = new(Load);
    private readonly int[] _groups;

    private Credentials(int uid, int gid, int[] groups)
    {
        Uid = uid;
        Gid = gid;
        _groups = groups;
    }

    public static Credentials Current => s_current.Value;

    /// <summary>
    /// The credentials of process <paramref name="pid"/>, whose uid and gid the kernel gave (<c>SO_PEERCRED</c>), with its
    /// supplementary groups from <c>/proc/PID/status</c>; null when the process is gone.
    /// </summary>
    public static Credentials? OfProcess(int pid, int uid, int gid)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines($"/proc/{pid.ToString(System.Globalization.CultureInfo.InvariantCulture)}/status");
        }
        catch (IOException)
        {
            return null;
        }

        var groups = lines.FirstOrDefault(l => l.StartsWith("Groups:", StringComparison.Ordinal)) is { } line
            ? line["Groups:".Length..].Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries)
                .Select(g => int.Parse(g, System.Globalization.CultureInfo.InvariantCulture)).ToArray()
            : [];
        return new Credentials(uid, gid, groups);
    }

    public int Uid { get; }

    public int Gid { get; }

    /// <summary>
    /// Whether this caller may access an object owned by <paramref name="ownerUid"/>:<paramref name="ownerGid"/>
    /// with mode bits <paramref name="permissions"/> (rw-rw-rw- as 0666) for <paramref name="access"/> (Read, Write or
    /// both). As in UNIX, the class (owner, group, other) is chosen first, then its bits decide; root may do anything.
    /// </summary>
    public bool MayAccess(int ownerUid, int ownerGid, int permissions, int access)
    {
        if (Uid == 0)
        {
            return true;
        }

        int bits;
        if (Uid == ownerUid)
        {
            bits = (permissions >> 6) & 7;
        }
        else if (Gid == ownerGid || Array.IndexOf(_groups, ownerGid) >= 0)
        {
            bits = (permissions >> 3) & 7;
        }
        else
        {
            bits = permissions & 7;
        }

        return (bits & access) == access;
    }

    /// <summary>
    /// The mode of a receive file for a region with <paramref name="permissions"/>: read where the region may be read,
    /// read and write where it may be written (a writer maps the file shared, which needs both).
    /// </summary>
    public static int FileMode(int permissions) => (permissions & 0b110_110_110) | ((permissions & 0b010_010_010) << 1);

    private static unsafe Credentials Load()
    {
        var uid = Libc.GetUid();
        var gid = Libc.GetGid();
        var count = Libc.GetGroups(0, null);
        var groups = new int[Math.Max(count, 0)];
        if (count > 0)
        {
            fixed (int* list = groups)
            {
                count = Libc.GetGroups(groups.Length, list);
            }
        }

        return new Credentials(uid, gid, count > 0 ? groups[..count] : []);
    }
}
