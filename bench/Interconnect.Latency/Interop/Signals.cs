using System.Runtime.InteropServices;

namespace Interconnect.Latency.Interop;

/// <summary>kill(2): SIGTERM to a process this harness started (imcd leaves the cluster cleanly on it).</summary>
internal static partial class Signals
{
    private const int SigTerm = 15;

    /// <summary>Sends SIGTERM to <paramref name="pid"/>; false when it is already gone.</summary>
    public static bool Terminate(int pid) => Kill(pid, SigTerm) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
