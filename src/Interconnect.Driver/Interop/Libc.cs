using System.Runtime.InteropServices;

namespace Interconnect.Driver.Interop;

/// <summary>
/// Every call into the C library that the driver makes. Nothing outside <c>Interop/</c> declares a P/Invoke.
/// </summary>
internal static unsafe partial class Libc
{
    private const string LibraryName = "libc";

    public const int ORdOnly = 0x0;
    public const int ORdWr = 0x2;
    public const int OCreat = 0x40;
    public const int OExcl = 0x80;
    public const int ONonBlock = 0x800;
    public const int OCloExec = 0x80000;

    /// <summary><c>O_NOFOLLOW</c>: its value differs between x86-64 and arm64 (asm-generic does not hold for either).</summary>
    public static int ONoFollow => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x8000 : 0x20000;

    /// <summary><c>O_DIRECTORY</c>: as <see cref="ONoFollow"/>, a per-architecture value.</summary>
    public static int ODirectory => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x4000 : 0x10000;

    public const int ProtRead = 0x1;
    public const int ProtWrite = 0x2;
    public const int MapShared = 0x01;
    public const int MapPrivate = 0x02;
    public const int MapFixed = 0x10;
    public const int MapAnonymous = 0x20;
    public const int MapNoReserve = 0x4000;
    public const int MremapMayMove = 0x1;
    public const int MremapFixed = 0x2;

    public const int EPerm = 1;
    public const int EExist = 17;
    public const int EAccess = 13;
    public const int ENoEnt = 2;
    public const int ELoop = 40;
    public const int ENotDir = 20;
    public const int EIntr = 4;

    public const int FutexWait = 0;
    public const int FutexWake = 1;
    private const long SysFutexX64 = 202;
    private const long SysFutexArm64 = 98;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>
    /// <c>setenv</c>: the C library's environment, which native libraries read with <c>getenv</c> (the runtime's
    /// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach it).
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport(LibraryName, EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    /// <summary>Waits until <paramref name="fd"/> is readable or <paramref name="timeoutMs"/> passed; true when readable.</summary>
    public static bool PollIn(int fd, int timeoutMs)
    {
        var entry = new PollFd { Fd = fd, Events = 0x1 }; // POLLIN
        return Poll(&entry, 1, timeoutMs) > 0;
    }

    [LibraryImport(LibraryName, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport(LibraryName, EntryPoint = "mkdir", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Mkdir(string path, int mode);

    [LibraryImport(LibraryName, EntryPoint = "pread", SetLastError = true)]
    public static partial nint PRead(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport(LibraryName, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport(LibraryName, EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Link(string existingPath, string newPath);

    public const int AtEAccess = 0x200;
    public const int XOk = 1;

    [LibraryImport(LibraryName, EntryPoint = "faccessat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int FAccessAt(int directoryFd, string path, int mode, int flags);

    [LibraryImport(LibraryName, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(LibraryName, EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int FTruncate(int fd, long length);

    [LibraryImport(LibraryName, EntryPoint = "fchmod", SetLastError = true)]
    public static partial int FChmod(int fd, int mode);

    [LibraryImport(LibraryName, EntryPoint = "fchown", SetLastError = true)]
    public static partial int FChown(int fd, int uid, int gid);

    [LibraryImport(LibraryName, EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport(LibraryName, EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    [LibraryImport(LibraryName, EntryPoint = "mremap", SetLastError = true)]
    public static partial nint Mremap(nint oldAddress, nuint oldLength, nuint newLength, int flags, nint newAddress);

    /// <summary><c>PRIO_PROCESS</c>: with a thread id, <c>setpriority</c> sets that one thread's nice value on Linux.</summary>
    public const int PrioProcess = 0;

    [LibraryImport(LibraryName, EntryPoint = "setpriority", SetLastError = true)]
    public static partial int SetPriority(int which, uint who, int priority);

    [LibraryImport(LibraryName, EntryPoint = "gettid")]
    public static partial int GetTid();

    [LibraryImport(LibraryName, EntryPoint = "getuid")]
    public static partial int GetUid();

    [LibraryImport(LibraryName, EntryPoint = "geteuid")]
    public static partial int GetEuid();

    [LibraryImport(LibraryName, EntryPoint = "getgid")]
    public static partial int GetGid();

    [LibraryImport(LibraryName, EntryPoint = "getgroups", SetLastError = true)]
    public static partial int GetGroups(int size, int* list);

    [LibraryImport(LibraryName, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport(LibraryName, EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall6(long number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);

    [LibraryImport(LibraryName, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirFd, string path, int flags, uint mask, byte* buffer);

    public const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;

    /// <summary>
    /// The size, permission bits and owner of an open file, through statx(2), whose layout is the same on every
    /// architecture (struct stat is not).
    /// </summary>
    public static bool TryGetFileStatus(int fd, out long size, out int mode, out int uid, out int gid)
    {
        var found = TryGetStatus(fd, out var status);
        (size, mode, uid, gid) = found ? (status.Size, status.Permissions, status.Uid, status.Gid) : (0, 0, -1, -1);
        return found;
    }

    /// <summary>What statx(2) says of an open file (<paramref name="fd"/>).</summary>
    public static bool TryGetStatus(int fd, out FileStatus status) => TryStatx(fd, "", AtEmptyPath, out status);

    /// <summary>What statx(2) says of <paramref name="path"/> itself: a symbolic link is described, not followed.</summary>
    public static bool TryGetLinkStatus(string path, out FileStatus status) => TryStatx(AtFdCwd, path, AtSymlinkNoFollow, out status);

    private static bool TryStatx(int dirFd, string path, int flags, out FileStatus status)
    {
        var buffer = stackalloc byte[256];
        if (Statx(dirFd, path, flags, StatxBasicStats, buffer) != 0)
        {
            status = default;
            return false;
        }

        status = new FileStatus(
            Size: *(long*)(buffer + 40),
            Mode: *(ushort*)(buffer + 28),
            Uid: *(int*)(buffer + 20),
            Gid: *(int*)(buffer + 24),
            Links: *(int*)(buffer + 16));
        return true;
    }

    /// <summary>FUTEX_WAIT on a 32-bit word in shared memory (not private: other processes wake it).</summary>
    public static int FutexWaitShared(int* word, int expected, TimeSpan timeout)
    {
        var spec = stackalloc long[2];
        spec[0] = (long)timeout.TotalSeconds;
        spec[1] = (long)(timeout.Ticks % TimeSpan.TicksPerSecond * 100);
        var result = Syscall6(FutexSyscallNumber, (nint)word, FutexWait, expected, (nint)spec, 0, 0);
        return result == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>FUTEX_WAKE: wakes up to <paramref name="count"/> waiters on a shared word.</summary>
    public static void FutexWakeShared(int* word, int count) =>
        Syscall6(FutexSyscallNumber, (nint)word, FutexWake, count, 0, 0, 0);

    private static long FutexSyscallNumber =>
        RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? SysFutexArm64 : SysFutexX64;
}
