using System.Runtime.InteropServices;

namespace Interconnect.Testing;

/// <summary>Stopping and continuing peers (SIGSTOP, SIGCONT), to look at a cluster while its processes stand still.</summary>
public static partial class Signals
{
    public const int Stop = 19;
    public const int Continue = 18;
    public const int SigTerm = 15;

    public static void Send(int pid, int signal) => _ = Kill(pid, signal);

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
