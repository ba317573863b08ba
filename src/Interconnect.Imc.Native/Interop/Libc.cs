using System.Runtime.InteropServices;

namespace Interconnect.Imc.Native.Interop;

/// <summary>The C library calls of the C ABI: address ranges for the transmit pointers of emulated regions.</summary>
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
}
