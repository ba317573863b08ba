using System.Runtime.InteropServices;

namespace Interconnect.Latency.Interop;

/// <summary>
/// Pins the calling thread to one CPU (sched_setaffinity on thread id 0, the caller), so the two hot threads of a
/// ping-pong run on different cores, as the C floor's do.
/// </summary>
internal static partial class Affinity
{
    /// <summary>True when the machine has a CPU for each of the two hot threads.</summary>
    public static bool CanPin => Environment.ProcessorCount >= 2;

    /// <summary>Pins the calling thread to <paramref name="cpu"/>; returns why not when it cannot.</summary>
    public static string? TryPinCurrentThread(int cpu)
    {
        if (!CanPin)
        {
            return $"not pinned: {Environment.ProcessorCount} CPU";
        }

        if (cpu is < 0 or >= 64)
        {
            return $"not pinned: CPU {cpu} is outside the 64-CPU mask this harness uses";
        }

        var mask = 1UL << cpu;
        return SchedSetAffinity(0, sizeof(ulong), ref mask) == 0
            ? null
            : $"not pinned to CPU {cpu}: errno {Marshal.GetLastPInvokeError()}";
    }

    /// <summary>Lets the calling thread run on every CPU again.</summary>
    public static void UnpinCurrentThread()
    {
        var count = Math.Min(Environment.ProcessorCount, 64);
        var mask = count == 64 ? ulong.MaxValue : (1UL << count) - 1;
        _ = SchedSetAffinity(0, sizeof(ulong), ref mask);
    }

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetAffinity(int pid, nuint size, ref ulong mask);
}
