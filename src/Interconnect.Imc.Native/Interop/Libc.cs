using System.Runtime.InteropServices;

namespace Interconnect.Imc.Native.Interop;

/// <summary>
/// The C library calls of the C ABI: address ranges for the transmit pointers of emulated regions, and the exit
/// handler that flushes.
/// </summary>
internal static partial class Libc
{
    public const int ProtNone = 0x0;
    public const int MapPrivate = 0x02;
    public const int MapAnonymous = 0x20;
    public const int MapNoReserve = 0x4000;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    /// <summary>
    /// Registers <paramref name="function"/> to run when the program calls exit (or returns from main), as
    /// <c>atexit</c> does: glibc exports no <c>atexit</c> (it lives in the static part of the C library and calls this).
    /// </summary>
    [LibraryImport("libc", EntryPoint = "__cxa_atexit")]
    public static unsafe partial int CxaAtExit(delegate* unmanaged[Cdecl]<nint, void> function, nint argument, nint dsoHandle);
}
