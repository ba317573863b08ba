using System.Runtime.InteropServices;

namespace Interconnect.Driver.Interop;

/// <summary>
/// How the driver opens and makes every file and folder of a cluster: never through a symbolic link, never anything
/// but a regular file (or a folder) of the owner it expects. A folder such as <c>regions/</c> or the root of
/// <c>IMC_ROOT</c> is open to every user (mode 1777, like /tmp), so whatever name the driver opens there may already
/// be another user's: a link to a file elsewhere, a FIFO, a file of theirs. So a new file is made with
/// <c>O_CREAT | O_EXCL | O_NOFOLLOW</c> (it fails on anything already there, a dangling link too), an existing one
/// is opened with <c>O_NOFOLLOW | O_NONBLOCK</c> (a link fails, a FIFO does not block the open) and then checked on
/// its descriptor (fstat): what it is and who owns it are those of the file opened, whatever the name points at later.
/// </summary>
internal static class NoFollow
{
    private const int CreateFlags = Libc.ORdWr | Libc.OCreat | Libc.OExcl | Libc.OCloExec;

    /// <summary>
    /// Opens the existing regular file <paramref name="path"/>, checked by <paramref name="check"/> (which throws to
    /// refuse it) before anything is read or written; the descriptor is the caller's to close.
    /// </summary>
    public static int OpenFile(string path, bool writable, string what, Action<FileStatus>? check)
    {
        var flags = (writable ? Libc.ORdWr : Libc.ORdOnly) | Libc.ONoFollow | Libc.ONonBlock | Libc.OCloExec;
        var fd = Libc.Open(path, flags, 0);
        if (fd < 0)
        {
            throw Failure(Marshal.GetLastPInvokeError(), path, what);
        }

        try
        {
            var status = StatusOf(fd, path, what);
            if (!status.IsRegularFile)
            {
                throw new DriverException(DriverStatus.OpenError,
                    $"{what} {path} is {status.Kind}, not a regular file: remove it (the driver makes its files itself)");
            }

            check?.Invoke(status);
            return fd;
        }
        catch
        {
            _ = Libc.Close(fd);
            throw;
        }
    }

    /// <summary>
    /// Makes the new, empty regular file <paramref name="path"/> with exactly <paramref name="mode"/> (whatever the
    /// umask); false, with nothing made, when the name is taken (by a file, a folder or a link, dangling or not).
    /// </summary>
    public static bool TryCreateFile(string path, int mode, string what, out int fd)
    {
        fd = Libc.Open(path, CreateFlags | Libc.ONoFollow, 0b110_000_000);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno == Libc.EExist ? false : throw Failure(errno, path, what);
        }

        if (Libc.FChmod(fd, mode) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            _ = Libc.Close(fd);
            fd = -1;
            File.Delete(path);
            throw new DriverException(DriverStatus.OpenError, $"cannot set the mode of {what} {path} (errno {errno})");
        }

        return true;
    }

    /// <summary>As <see cref="TryCreateFile"/>, refusing a name that is taken.</summary>
    public static int CreateFile(string path, int mode, string what) =>
        TryCreateFile(path, mode, what, out var fd) ? fd : throw Failure(Libc.EExist, path, what);

    /// <summary>
    /// Makes the new folder <paramref name="path"/> with exactly <paramref name="mode"/>: mkdir never follows a link,
    /// and the mode is set on the folder opened (not through its name), after checking it is the one this process made.
    /// </summary>
    public static void CreateDirectory(string path, int mode, string what)
    {
        if (Libc.Mkdir(path, 0b111_000_000) != 0)
        {
            throw Failure(Marshal.GetLastPInvokeError(), path, what);
        }

        var fd = OpenDirectory(path, what);
        try
        {
            var status = StatusOf(fd, path, what);
            if (status.Uid != Libc.GetEuid())
            {
                throw new DriverException(DriverStatus.OpenError,
                    $"{what} {path} was replaced by another user's folder (uid {status.Uid}) as it was made: remove it");
            }

            if (Libc.FChmod(fd, mode) != 0)
            {
                throw new DriverException(DriverStatus.OpenError,
                    $"cannot set the mode of {what} {path} (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Libc.Close(fd);
        }
    }

    /// <summary>
    /// Opens the existing folder <paramref name="path"/> itself (never through a link: a link, or anything but a folder,
    /// fails); the descriptor is the caller's to close, and what <see cref="StatusOf"/> says of it is that folder's.
    /// </summary>
    public static int OpenDirectory(string path, string what)
    {
        var fd = Libc.Open(path, Libc.ORdOnly | Libc.ODirectory | Libc.ONoFollow | Libc.OCloExec, 0);
        return fd >= 0 ? fd : throw Failure(Marshal.GetLastPInvokeError(), path, what);
    }

    /// <summary>Reads the whole of a small regular file, opened as <see cref="OpenFile"/> does.</summary>
    public static unsafe byte[] ReadAll(string path, int maxLength, string what, Action<FileStatus>? check)
    {
        var fd = OpenFile(path, writable: false, what, check);
        try
        {
            var bytes = new byte[maxLength];
            var read = 0;
            fixed (byte* buffer = bytes)
            {
                while (read < maxLength)
                {
                    var n = Libc.PRead(fd, buffer + read, (nuint)(maxLength - read), read);
                    if (n < 0 && Marshal.GetLastPInvokeError() == Libc.EIntr)
                    {
                        continue;
                    }

                    if (n < 0)
                    {
                        throw new DriverException(DriverStatus.OpenError,
                            $"cannot read {what} {path} (errno {Marshal.GetLastPInvokeError()})");
                    }

                    if (n == 0)
                    {
                        break;
                    }

                    read += (int)n;
                }
            }

            return bytes[..read];
        }
        finally
        {
            _ = Libc.Close(fd);
        }
    }

    /// <summary>Writes all of <paramref name="bytes"/> to a descriptor from <see cref="CreateFile"/>.</summary>
    public static unsafe void WriteAll(int fd, ReadOnlySpan<byte> bytes, string path, string what)
    {
        fixed (byte* buffer = bytes)
        {
            var written = 0;
            while (written < bytes.Length)
            {
                var n = Libc.Write(fd, buffer + written, (nuint)(bytes.Length - written));
                if (n < 0 && Marshal.GetLastPInvokeError() == Libc.EIntr)
                {
                    continue;
                }

                if (n <= 0)
                {
                    throw new DriverException(DriverStatus.OpenError,
                        $"cannot write {what} {path} (errno {Marshal.GetLastPInvokeError()}): is the file system full?");
                }

                written += (int)n;
            }
        }
    }

    /// <summary>What the kernel says of <paramref name="path"/> itself (a link is not followed), or null when there is nothing.</summary>
    public static FileStatus? LinkStatus(string path) => Libc.TryGetLinkStatus(path, out var status) ? status : null;

    public static FileStatus StatusOf(int fd, string path, string what) =>
        Libc.TryGetStatus(fd, out var status)
            ? status
            : throw new DriverException(DriverStatus.OpenError,
                $"cannot read the status of {what} {path} (errno {Marshal.GetLastPInvokeError()})");

    /// <summary>The one message per errno of an open or a create, naming the file and what to do.</summary>
    public static DriverException Failure(int errno, string path, string what) => errno switch
    {
        Libc.EAccess or Libc.EPerm => new DriverException(DriverStatus.Permit,
            $"permission denied opening {what} {path}: run as a user the cluster's permissions allow"),
        Libc.ENoEnt => new DriverException(DriverStatus.OpenError, $"{what} {path} does not exist"),
        Libc.EExist => new DriverException(DriverStatus.OpenError,
            $"{what} {path} already exists: the cluster folder holds a file the directory does not know"),
        Libc.ELoop => new DriverException(DriverStatus.OpenError,
            $"{what} {path} is a symbolic link, which the driver never follows: remove it (the driver makes its files itself)"),
        _ => new DriverException(DriverStatus.OpenError, $"cannot open {what} {path} (errno {errno})"),
    };
}
