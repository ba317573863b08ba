using System.Diagnostics;

namespace Interconnect.Machines;

/// <summary>
/// Removes everything one cluster made, found by its <see cref="OwnerTag"/> rather than by what the cluster object
/// remembers, so the same code cleans up a disposed cluster and the leftovers of an owner that was killed: processes in
/// its namespaces, its mounts, its named network namespaces (the veth links and the bridge go with them) and its folder.
/// </summary>
internal static class Teardown
{
    /// <summary>Removes what <paramref name="tag"/> made and returns what is still there (empty: nothing is left).</summary>
    public static List<string> Remove(OwnerTag tag, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan Left() => timeout - clock.Elapsed;

        // The namespaces as the nsfs mounts name them, taken before the mounts go: afterwards no name leads to them.
        var namespaces = Namespaces(tag);
        while (true)
        {
            KillProcesses(namespaces, Left);
            Unmount(tag, Left);
            DeleteNetworkNamespaces(tag, Left);
            if (MountsOf(tag).Count == 0)
            {
                // Only with nothing mounted below it: a recursive delete must never walk into a mount.
                try
                {
                    Directory.Delete(tag.Folder, recursive: true);
                }
                catch (IOException)
                {
                    // Gone already, or being removed by another sweep of the same leftovers: the check below tells.
                }
            }

            // A process of a killed owner may still be starting (forked before the kill) or exiting when first looked
            // at: look again, and remove again, until nothing is left or the time is up.
            var left = Leftovers(tag, namespaces);
            if (left.Count == 0 || Left() <= TimeSpan.Zero)
            {
                return left;
            }

            Thread.Sleep(50);
        }
    }

    /// <summary>What of <paramref name="tag"/> is still there: named namespaces, mounts, processes in its namespaces, its folder.</summary>
    public static List<string> Leftovers(OwnerTag tag, IReadOnlySet<string> namespaces)
    {
        var left = new List<string>();
        left.AddRange(NetworkNamespaceNames(tag).Select(name => $"network namespace {name}"));
        left.AddRange(MountsOf(tag).Select(mount => $"mount {mount.MountPoint} ({mount.FileSystemType})"));
        left.AddRange(ProcFs.ProcessesIn(namespaces).Select(pid => $"process {pid} ({Command(pid)})"));
        if (Directory.Exists(tag.Folder))
        {
            left.Add($"folder {tag.Folder}");
        }

        return left;
    }

    /// <summary>The namespaces of <paramref name="tag"/> as /proc/PID/ns links name them (<c>net:[inode]</c>, <c>mnt:[inode]</c>).</summary>
    public static HashSet<string> Namespaces(OwnerTag tag) =>
        MountsOf(tag).Where(mount => mount.FileSystemType == "nsfs").Select(mount => mount.Root).ToHashSet(StringComparer.Ordinal);

    /// <summary>The mounts of <paramref name="tag"/>: its folder and what is below it, and its files in /run/netns.</summary>
    public static List<ProcFs.Mount> MountsOf(OwnerTag tag) =>
        ProcFs.Mounts().Where(mount => IsBelow(mount.MountPoint, tag.Folder)
            || (Path.GetDirectoryName(mount.MountPoint) == OwnerTag.NetnsFolder && tag.Owns(Path.GetFileName(mount.MountPoint))))
            .ToList();

    /// <summary>The named network namespaces of <paramref name="tag"/> (files in /run/netns, mounted or not).</summary>
    public static List<string> NetworkNamespaceNames(OwnerTag tag) =>
        Directory.Exists(OwnerTag.NetnsFolder)
            ? Directory.EnumerateFileSystemEntries(OwnerTag.NetnsFolder).Select(Path.GetFileName).OfType<string>().Where(tag.Owns).ToList()
            : [];

    private static void KillProcesses(IReadOnlySet<string> namespaces, Func<TimeSpan> left)
    {
        // Killed until none is left: one may fork while its siblings die. SIGKILL, as nothing in a machine is to be
        // kept; a killed process leaves its namespaces before it is reaped, so zombies are not waited for.
        while (ProcFs.ProcessesIn(namespaces) is { Count: > 0 } pids && left() > TimeSpan.Zero)
        {
            foreach (var pid in pids)
            {
                Libc.Signal(pid, Libc.SigKill);
            }

            Thread.Sleep(5);
        }
    }

    private static void Unmount(OwnerTag tag, Func<TimeSpan> left)
    {
        // Deepest first: the mount namespace files sit on the folder's own bind mount.
        var mountPoints = MountsOf(tag).Select(mount => mount.MountPoint)
            .Where(point => IsBelow(point, tag.Folder)).OrderByDescending(point => point.Length).ToList();
        if (mountPoints.Count == 0)
        {
            return;
        }

        var result = HostCommand.Run("umount", mountPoints, Positive(left()));
        var stillMounted = MountsOf(tag).Select(mount => mount.MountPoint).Where(point => IsBelow(point, tag.Folder)).ToList();
        if (result.ExitCode != 0 && stillMounted.Count > 0)
        {
            // Busy (a process we could not kill holds a file there): detach, so that nothing stays visible.
            _ = HostCommand.Run("umount", ["--lazy", .. stillMounted], Positive(left()));
        }
    }

    private static void DeleteNetworkNamespaces(OwnerTag tag, Func<TimeSpan> left)
    {
        foreach (var name in NetworkNamespaceNames(tag))
        {
            // "ip netns delete" unmounts the name (the unmount propagates to every copy of the shared /run/netns) and
            // removes the file; the namespace, its veth ends and its bridge go once nothing else holds it.
            _ = HostCommand.Run("ip", ["netns", "delete", name], Positive(left()));
        }
    }

    private static bool IsBelow(string path, string folder) =>
        path == folder || path.StartsWith(folder + "/", StringComparison.Ordinal);

    private static TimeSpan Positive(TimeSpan left) => left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1);

    private static string Command(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "gone";
        }
    }
}
