using System.Runtime.InteropServices;

namespace Interconnect.Latency.Interop;

/// <summary>A peer that spins must not outlive the harness: the kernel kills it when its parent dies.</summary>
internal static partial class ParentDeath
{
    private const int PrSetPdeathsig = 1;
    private const int SigKill = 9;

    public static void KillMeWithMyParent() => _ = Prctl(PrSetPdeathsig, SigKill, 0, 0, 0);

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
}
