using Interconnect.Driver.Interop;

namespace Interconnect.Driver.Fabric.MemoryMapped;

/// <summary>
/// The embedded fabric: each host's receive memory of a region is a file under <c>IMC_ROOT/CLUSTER/regions</c>,
/// mapped read-only by that host's receivers and read-write by the writers that deliver to it. The file's mode
/// carries the region's permissions, so the operating system enforces them on anyone who bypasses the library.
/// Every file is made and opened without following a link (<see cref="NoFollow"/>), and an existing one is used only
/// once <c>check</c> accepted its owner (the folder is open to every user).
/// </summary>
internal sealed unsafe class MemoryMappedFabric(string regionsDirectory, Action<ReceiveFileName, string, FileStatus> check) : IFabric
{
    private const string What = "receive file";

    public string Where(ReceiveFileName name) => PathOf(name);

    private string PathOf(ReceiveFileName name) => Path.Combine(regionsDirectory, name.ToString());

    public void Create(ReceiveFileName name, long length, int mode, (int Uid, int Gid) owner, ReceiveFileName? copyFrom)
    {
        using var created = MappedFile.Create(PathOf(name), length, mode, owner, What);
        if (copyFrom is { } source)
        {
            using var from = Map(source, length, writable: false);
            Buffer.MemoryCopy(from.Pointer, created.Pointer, length, length);
        }
    }

    public void Share(ReceiveFileName name, ReceiveFileName shared)
    {
        // A hard link: one inode, so every mapping of either name maps the same pages.
        if (Interop.Libc.Link(PathOf(shared), PathOf(name)) != 0)
        {
            throw new DriverException(DriverStatus.OpenError,
                $"cannot link {What} {PathOf(name)} to {PathOf(shared)} (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
        }
    }

    public void Delete(ReceiveFileName name)
    {
        try
        {
            File.Delete(PathOf(name));
        }
        catch (IOException)
        {
            // Left for the next repair pass, which removes files the directory does not know.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public MappedFile OpenForReceive(ReceiveFileName name, long length) => Map(name, length, writable: false);

    public IDeliveryTarget OpenTarget(ReceiveFileName name, long length) => new MappedTarget(Map(name, length, writable: true));

    public ReceiveMemoryInfo? Inspect(ReceiveFileName name)
    {
        // What is at the name itself: a link there shows as one (mode 0777), never as the file it points at.
        var path = PathOf(name);
        return NoFollow.LinkStatus(path) is { } status ? new ReceiveMemoryInfo(path, status.Size, status.Permissions) : null;
    }

    public IEnumerable<(string Where, ReceiveFileName? Name)> Inventory()
    {
        IEnumerable<string> entries;
        try
        {
            entries = System.IO.Directory.EnumerateFileSystemEntries(regionsDirectory).ToList();
        }
        catch (DirectoryNotFoundException)
        {
            yield break;
        }

        foreach (var path in entries)
        {
            yield return ReceiveFileName.TryParse(Path.GetFileName(path), out var name) ? (path, name) : (path, null);
        }
    }

    /// <summary>Maps the receive memory <paramref name="name"/>, for reading or, as a writer does, for writing.</summary>
    public MappedFile Map(ReceiveFileName name, long length, bool writable)
    {
        var path = PathOf(name);
        try
        {
            return MappedFile.Open(path, length, writable, What, status => check(name, path, status));
        }
        catch (DriverException e) when (e.Status is DriverStatus.OpenError or DriverStatus.BadMap)
        {
            throw new DriverException(e.Status,
                $"{e.Message} (the cluster's files were changed behind the library's back: 'imcs --check' lists what " +
                "is wrong; detach and attach again, or recreate the cluster with imcctl destroy and imc_init)", e);
        }
    }
}
