using System.Globalization;
using System.Text;

namespace Interconnect.Machines;

/// <summary>What /proc says about processes and mounts: who lives in which namespace, and what is mounted where.</summary>
internal static class ProcFs
{
    /// <summary>A mount: where it is, what it is, and its root within its file system (for nsfs: <c>net:[inode]</c>).</summary>
    public readonly record struct Mount(string MountPoint, string FileSystemType, string Root);

    /// <summary>
    /// The process's start time in clock ticks after boot (field 22 of /proc/PID/stat); null when it is gone or a
    /// zombie (dead, only not reaped: where no one reaps orphans, a killed owner stays one).
    /// </summary>
    public static long? StartTime(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields.Length > 19 && fields[0] is not ("Z" or "X") && long.TryParse(fields[19], CultureInfo.InvariantCulture, out var start) ? start : null;
    }

    /// <summary>
    /// Live processes that are in any of <paramref name="namespaces"/> (links as /proc/PID/ns shows them:
    /// <c>net:[4026532246]</c>, <c>mnt:[...]</c>). Zombies hold no namespace and are not listed.
    /// </summary>
    public static List<int> ProcessesIn(IReadOnlySet<string> namespaces)
    {
        var found = new List<int>();
        if (namespaces.Count == 0)
        {
            return found;
        }

        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            if (IsIn(directory, "net", namespaces) || IsIn(directory, "mnt", namespaces))
            {
                found.Add(pid);
            }
        }

        return found;
    }

    /// <summary>The mounts of this process's mount namespace, from /proc/self/mountinfo.</summary>
    public static List<Mount> Mounts()
    {
        var mounts = new List<Mount>();
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
            var fields = line.Split(' ');
            var separator = Array.IndexOf(fields, "-", 6);
            if (fields.Length < 7 || separator < 0 || separator + 1 >= fields.Length)
            {
                continue;
            }

            mounts.Add(new Mount(Unescape(fields[4]), fields[separator + 1], Unescape(fields[3])));
        }

        return mounts;
    }

    private static bool IsIn(string processDirectory, string kind, IReadOnlySet<string> namespaces)
    {
        try
        {
            var link = new FileInfo(Path.Combine(processDirectory, "ns", kind)).LinkTarget;
            return link is not null && namespaces.Contains(link);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>mountinfo writes space, tab, newline and backslash in paths as octal escapes (<c>\040</c>).</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var text = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                text.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }

        return text.ToString();
    }

    private static bool IsOctal(string field, int start) =>
        start + 3 <= field.Length && field.AsSpan(start, 3).IndexOfAnyExceptInRange('0', '7') < 0;
}
