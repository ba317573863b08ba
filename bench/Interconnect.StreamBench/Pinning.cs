using System.Globalization;
using System.Runtime.InteropServices;

namespace Interconnect.StreamBench;

/// <summary>
/// Pins the thread that does one end's work to a CPU of its own, the same for every transport: <c>IMC_BENCH_PIN=A,B</c>
/// puts the coordinator's working thread on CPU A and the peer's on CPU B while a session runs (the C floors do the
/// same with their two processes). Only that thread: the threads a transport runs beside it (NetMQ's I/O thread, an Imc
/// stream's background thread, the runtime's) stay free to run anywhere, as they would in a user's program that pins
/// its hot thread. Pinning whole processes (taskset) put NetMQ's I/O thread on its caller's CPU, where its latency runs
/// lost messages or stalled for the 30 s deadline in about half the runs.
/// </summary>
internal static partial class Pinning
{
    /// <summary>The CPUs of <c>IMC_BENCH_PIN</c>: (coordinator, peer), or null when it is not set.</summary>
    public static (int Coordinator, int Peer)? Cpus { get; } = Parse(Environment.GetEnvironmentVariable("IMC_BENCH_PIN"));

    /// <summary>Pins the calling thread to <paramref name="cpu"/> until the result is disposed (nothing when null).</summary>
    public static IDisposable? PinThisThread(int? cpu)
    {
        if (cpu is null)
        {
            return null;
        }

        var before = new ulong[16];
        if (SchedGetAffinity(0, before.Length * sizeof(ulong), before) != 0)
        {
            throw new InvalidOperationException($"sched_getaffinity failed (errno {Marshal.GetLastPInvokeError()})");
        }

        Set(Mask(cpu.Value));
        return new Restore(before);
    }

    private static (int, int)? Parse(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        var parts = value.Split(',');
        if (parts.Length != 2 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out var a) ||
            !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var b) || a < 0 || b < 0 || a >= 1024 || b >= 1024)
        {
            throw new ArgumentException($"IMC_BENCH_PIN={value}: give two CPU numbers, the coordinator's and the peer's (like 0,1)");
        }

        return (a, b);
    }

    private static ulong[] Mask(int cpu)
    {
        var mask = new ulong[16];
        mask[cpu / 64] = 1UL << (cpu % 64);
        return mask;
    }

    private static void Set(ulong[] mask)
    {
        if (SchedSetAffinity(0, mask.Length * sizeof(ulong), mask) != 0)
        {
            throw new InvalidOperationException($"sched_setaffinity failed (errno {Marshal.GetLastPInvokeError()}): is the CPU online?");
        }
    }

    // pid 0: the calling thread.
    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetAffinity(int pid, nint size, ulong[] mask);

    [LibraryImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static partial int SchedGetAffinity(int pid, nint size, ulong[] mask);

    private sealed class Restore(ulong[] mask) : IDisposable
    {
        public void Dispose() => Set(mask);
    }
}
