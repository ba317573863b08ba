using Interconnect.Driver.Interop;

namespace Interconnect.Driver.Fabric.MemoryMapped;

/// <summary>
/// The embedded fabric: each host's receive memory of a region is a file under <c>IMC_ROOT/CLUSTER/regions</c>,
/// mapped read-only by that host's receivers and read-write by the writers that deliver to it. The file's mode
/// carries the region's permissions, so the operating system enforces them on anyone who bypasses the library.
/// </summary>
internal sealed unsafe class MemoryMappedFabric
{
    private const string What = "receive file";

    public MemoryMappedFabric(string regionsDirectory) => Directory = regionsDirectory;

    public string Directory { get; }

    public string PathOf(ReceiveFileName name) => Path.Combine(Directory, name.ToString());

    /// <summary>
    /// Makes the receive memory <paramref name="name"/>: zero-filled, or a copy of <paramref name="copyFrom"/>'s
    /// current contents (a coherent region's late joiner).
    /// </summary>
    public void Create(ReceiveFileName name, long mappedLength, int mode, int groupId, ReceiveFileName? copyFrom)
    {
        using var created = MappedFile.Create(PathOf(name), mappedLength, mode, groupId, What);
        if (copyFrom is { } source)
        {
            using var from = MappedFile.Open(PathOf(source), mappedLength, writable: false, What);
            Buffer.MemoryCopy(from.Pointer, created.Pointer, mappedLength, mappedLength);
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

    public MappedFile MapForReceive(ReceiveFileName name, long mappedLength) => Map(name, mappedLength, writable: false);

    public MappedFile MapForTransmit(ReceiveFileName name, long mappedLength) => Map(name, mappedLength, writable: true);

    private MappedFile Map(ReceiveFileName name, long mappedLength, bool writable)
    {
        try
        {
            return MappedFile.Open(PathOf(name), mappedLength, writable, What);
        }
        catch (DriverException e) when (e.Status is DriverStatus.OpenError or DriverStatus.BadMap)
        {
            throw new DriverException(e.Status,
                $"{e.Message} (the cluster's files were changed behind the library's back: 'imcs --check' lists what " +
                "is wrong; detach and attach again, or recreate the cluster with imcctl destroy and imc_init)", e);
        }
    }

    /// <summary>Every receive file present, and every other entry of the folder (which should not be there).</summary>
    public IEnumerable<(string Path, ReceiveFileName? Name)> List()
    {
        IEnumerable<string> entries;
        try
        {
            entries = System.IO.Directory.EnumerateFileSystemEntries(Directory).ToList();
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
}
