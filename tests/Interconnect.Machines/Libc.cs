using System.Runtime.InteropServices;

namespace Interconnect.Machines;

/// <summary>Signals by pid: .NET can only kill a process, and etcd deserves a SIGTERM first.</summary>
internal static partial class Libc
{
    public const int SigKill = 9;
    public const int SigTerm = 15;

    /// <summary>Sends <paramref name="signal"/>; a process that is already gone is not an error here.</summary>
    public static void Signal(int pid, int signal) => _ = Kill(pid, signal);

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
