using System.Runtime.InteropServices;

namespace Interconnect.Driver.Interop;

/// <summary>
/// A whole file mapped shared into this process. It owns the mapping: everything above it works with the pointer it
/// hands out, within <see cref="Length"/>. The file descriptor is closed once the mapping exists.
/// </summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private nint _address;
    private int _retired;
    private long _pressure;

    private MappedFile(string path, nint address, long length, bool writable)
    {
        Path = path;
        _address = address;
        Length = length;
        Writable = writable;
    }

    ~MappedFile() => Unmap();

    public string Path { get; }

    public long Length { get; }

    public bool Writable { get; }

    public byte* Pointer => (byte*)_address;

    /// <summary>
    /// Maps an existing regular file (never through a link: <see cref="NoFollow"/>), checking that it is exactly
    /// <paramref name="expectedLength"/> bytes and passes <paramref name="check"/> (its owner, for one).
    /// </summary>
    public static MappedFile Open(string path, long expectedLength, bool writable, string what, Action<FileStatus>? check = null)
    {
        var fd = NoFollow.OpenFile(path, writable, what, check);
        try
        {
            var size = NoFollow.StatusOf(fd, path, what).Size;
            if (size != expectedLength)
            {
                throw new DriverException(DriverStatus.BadMap,
                    $"{what} {path} is {size} bytes, expected {expectedLength}: it was truncated or resized behind " +
                    "the library's back; remove the cluster with 'imcctl destroy' and run imc_init again");
            }

            return Map(fd, path, expectedLength, writable, what);
        }
        finally
        {
            _ = Libc.Close(fd);
        }
    }

    /// <summary>
    /// Creates a new file (never an existing one, never through a symbolic link) of <paramref name="length"/> zero
    /// bytes with exactly <paramref name="mode"/>, owned by <paramref name="owner"/> where given (-1: as made; a uid
    /// only for root, who may give a file away), and maps it.
    /// </summary>
    public static MappedFile Create(string path, long length, int mode, (int Uid, int Gid) owner, string what)
    {
        var fd = NoFollow.CreateFile(path, mode, what);
        return SizeAndMap(fd, path, length, owner, what, removeOnFailure: true);
    }

    /// <summary>
    /// Maps the file <paramref name="path"/> of <paramref name="length"/> bytes that this process keeps across its
    /// restarts: an existing one that passes <paramref name="check"/> (made zero-filled again when its length is not
    /// <paramref name="length"/>), else a new one with <paramref name="mode"/>. Never through a link, never anything but
    /// a regular file.
    /// </summary>
    public static MappedFile OpenOrCreate(string path, long length, int mode, string what, Action<FileStatus> check)
    {
        for (var attempt = 0; ; attempt++)
        {
            if (NoFollow.TryCreateFile(path, mode, what, out var created))
            {
                return SizeAndMap(created, path, length, owner: (-1, -1), what, removeOnFailure: true);
            }

            int fd;
            try
            {
                fd = NoFollow.OpenFile(path, writable: true, what, check);
            }
            catch (DriverException) when (attempt < 2 && NoFollow.LinkStatus(path) is null)
            {
                continue; // removed between the two opens: make it
            }

            if (NoFollow.StatusOf(fd, path, what).Size == length)
            {
                try
                {
                    return Map(fd, path, length, writable: true, what);
                }
                finally
                {
                    _ = Libc.Close(fd);
                }
            }

            // Of another length: zero-filled anew, through the descriptor checked above.
            if (Libc.FTruncate(fd, 0) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                _ = Libc.Close(fd);
                throw new DriverException(DriverStatus.OpenError, $"cannot empty {what} {path} (errno {errno})");
            }

            return SizeAndMap(fd, path, length, owner: (-1, -1), what, removeOnFailure: false);
        }
    }

    /// <summary>Sizes a new (or emptied) file to <paramref name="length"/> zero bytes and maps it; closes <paramref name="fd"/>.</summary>
    private static MappedFile SizeAndMap(int fd, string path, long length, (int Uid, int Gid) owner, string what, bool removeOnFailure)
    {
        var mapped = false;
        try
        {
            // ftruncate gives zero-filled pages.
            if (Libc.FTruncate(fd, length) != 0)
            {
                throw new DriverException(DriverStatus.NoResources,
                    $"cannot size {what} {path} to {length} bytes (errno {Marshal.GetLastPInvokeError()}): " +
                    "is the file system under IMC_ROOT full?");
            }

            var uid = Libc.GetEuid() == 0 ? owner.Uid : -1; // imcd, as root, makes files for the region's owner
            if (uid >= 0 || owner.Gid >= 0)
            {
                _ = Libc.FChown(fd, uid, owner.Gid); // best effort: a user may only give a file to a group of theirs
            }

            var file = Map(fd, path, length, writable: true, what);
            mapped = true;
            return file;
        }
        finally
        {
            _ = Libc.Close(fd);
            if (!mapped && removeOnFailure)
            {
                File.Delete(path);
            }
        }
    }

    public void Dispose()
    {
        Unmap();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Lets go of the file's pages at once while the address range stays valid, so that a thread still reading or
    /// writing through an old pointer touches private memory of this process instead of taking a fault (SIGSEGV).
    /// With <paramref name="keepContents"/> the range then holds a copy of the last bytes (a reader in flight reads
    /// what was there); without, zeros (a writer in flight writes where no one reads). The range itself is unmapped
    /// by <see cref="Dispose"/> or, when no one can use the pointer any more, the finalizer.
    /// </summary>
    public void Retire(bool keepContents)
    {
        var address = Volatile.Read(ref _address);
        if (address == 0 || Interlocked.Exchange(ref _retired, 1) != 0)
        {
            return;
        }

        var length = (nuint)Length;
        const int Private = Libc.MapPrivate | Libc.MapAnonymous | Libc.MapNoReserve;
        // Only what the file still holds can be copied: a page past its end (a file truncated behind the library's
        // back) faults with SIGBUS. A file that is gone leaves zeros.
        var readable = keepContents ? ReadableLength() : 0;
        if (readable > 0)
        {
            var copy = Libc.Mmap(0, length, Libc.ProtRead | Libc.ProtWrite, Private, -1, 0);
            if (copy != -1)
            {
                Buffer.MemoryCopy((void*)address, (void*)copy, Length, readable);
                // mremap over the old range replaces the file's pages with the copy in one step: no moment unmapped.
                if (Libc.Mremap(copy, length, length, Libc.MremapMayMove | Libc.MremapFixed, address) == address)
                {
                    _pressure = Length;
                    GC.AddMemoryPressure(Length); // the copy is ours until the finalizer: let the GC know it costs
                    return;
                }

                _ = Libc.Munmap(copy, length);
            }
        }

        // MAP_FIXED replaces the old mapping atomically; if even that fails, the file stays mapped (never a fault).
        _ = Libc.Mmap(address, length, Libc.ProtRead | Libc.ProtWrite, Private | Libc.MapFixed, -1, 0);
    }

    /// <summary>How many bytes of the mapping the file behind it still holds (0 when it cannot be opened any more).</summary>
    private long ReadableLength()
    {
        var fd = Libc.Open(Path, Libc.ORdOnly | Libc.ONoFollow | Libc.OCloExec, 0);
        if (fd < 0)
        {
            return 0;
        }

        try
        {
            return Libc.TryGetFileStatus(fd, out var size, out _, out _, out _) ? Math.Clamp(size, 0, Length) : 0;
        }
        finally
        {
            _ = Libc.Close(fd);
        }
    }

    private static MappedFile Map(int fd, string path, long length, bool writable, string what)
    {
        var protection = Libc.ProtRead | (writable ? Libc.ProtWrite : 0);
        var address = Libc.Mmap(0, (nuint)length, protection, Libc.MapShared, fd, 0);
        if (address == -1)
        {
            throw new DriverException(DriverStatus.BadMap,
                $"cannot map {what} {path} (errno {Marshal.GetLastPInvokeError()})");
        }

        return new MappedFile(path, address, length, writable);
    }

    private void Unmap()
    {
        var address = Interlocked.Exchange(ref _address, 0);
        if (address != 0)
        {
            _ = Libc.Munmap(address, (nuint)Length);
            if (_pressure != 0)
            {
                GC.RemoveMemoryPressure(_pressure);
            }
        }
    }
}
