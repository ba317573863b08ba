// The consumer test's program (tests/packaging/run.sh copies it into a fresh `dotnet new console` project whose only
// references are the Interconnect.Imc and Interconnect.Imc.Streams packages). Two processes run it on two emulated
// hosts, `alpha` and `beta`:
// each allocates the same coherent region and lock set, adds to a shared counter under the lock, writes a pattern of
// its own, and checks what the other wrote. Then it says "checked" and holds the region and the lock set until the
// file named by its second argument exists, so that the script can look at the cluster with the packaged imcs.
//
// Usage: consumer alpha|beta RELEASE_FILE. Exit codes: 0 checked, 1 bad arguments, 2 an Imc call failed,
// 3 gave up waiting, 4 a wrong result.

using System.Diagnostics;
using System.Runtime.Versioning;
using Interconnect.Imc;

[assembly: SupportedOSPlatform("linux")]

namespace Consumer;

internal static class Program
{
    public const int RegionKey = 4711;
    public const int LockKey = 4712;
    private const long RegionSize = 4096;
    private const int Increments = 200;

    // Region layout: the counter, one done flag per side, one pattern per side.
    private const long CounterOffset = 0;
    private const long DoneOffset = 64;          // + 8 * side
    private const long PatternOffset = 1024;     // + 1024 * side
    private const int PatternLength = 1024;

    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(60);

    private static int Main(string[] args)
    {
        if (args.Length != 2 || (args[0] != "alpha" && args[0] != "beta"))
        {
            Console.Error.WriteLine("usage: consumer alpha|beta RELEASE_FILE");
            return 1;
        }
        int side = args[0] == "alpha" ? 0 : 1;
        try
        {
            return Run(side, args[1]);
        }
        catch (ImcException e)
        {
            Console.Error.WriteLine($"{args[0]}: {e.Message}");
            return 2;
        }
        catch (TimeoutException e)
        {
            Console.Error.WriteLine($"{args[0]}: {e.Message}");
            return 3;
        }
    }

    private static int Run(int side, string releaseFile)
    {
        using var context = ImcContext.Open();   // IMC_HOST, IMC_ROOT, IMC_AUTO_INIT from the environment
        string me = context.HostName;
        using var region = context.AllocateRegion(RegionKey, RegionSize, flags: ImcRegionFlags.Coherent);
        using var tx = region.AttachTransmit();
        using var rx = region.AttachReceive();
        ImcLockSet? locks;
        if (context.TryCreateLockSet(LockKey, 1, ImcLockPermissions.User, out locks))
        {
            locks.Release(0);   // created holding lock 0: nothing to initialise (a new region is zeroed)
        }
        else
        {
            locks = context.AllocateLockSet(LockKey, 1);
        }
        using var lockSet = locks;

        // The shared counter: read, add one, wait for the write to come back (coherent regions loop back), release.
        for (int i = 0; i < Increments; i++)
        {
            lockSet.Acquire(0);
            long value = rx.Read<long>(CounterOffset);
            tx.Write(CounterOffset, value + 1);
            WaitFor(() => rx.Read<long>(CounterOffset) == value + 1, $"{me}: the counter's write to come back");
            lockSet.Release(0);
        }

        // A pattern of this side's own, then the done flag after it.
        tx.Write(PatternOffset + (side * PatternLength), Pattern(side));
        tx.Write(DoneOffset + (8 * side), 1L);

        int other = 1 - side;
        WaitFor(() => rx.Read<long>(DoneOffset + (8 * other)) == 1, $"{me}: the other host to finish");
        long counter = rx.Read<long>(CounterOffset);
        byte[] seen = rx.AsSpan(PatternOffset + (other * PatternLength), PatternLength).ToArray();
        if (counter != 2 * Increments || !seen.AsSpan().SequenceEqual(Pattern(other)))
        {
            Console.Error.WriteLine($"{me}: counter {counter} (expected {2 * Increments}), other side's pattern " +
                (seen.AsSpan().SequenceEqual(Pattern(other)) ? "intact" : "wrong"));
            return 4;
        }
        Console.WriteLine($"{me}: checked: counter {counter} under lock set {LockKey}, the other host's pattern intact in region {RegionKey}; " +
            $"streams package loaded (default ring {new Interconnect.Imc.Streams.ImcStreamOptions().SlotCount} slots)");
        Console.Out.Flush();

        WaitFor(() => File.Exists(releaseFile), $"{me}: {releaseFile} to appear");
        return 0;
    }

    private static byte[] Pattern(int side)
    {
        var pattern = new byte[PatternLength];
        for (int i = 0; i < pattern.Length; i++)
        {
            pattern[i] = (byte)((i * 7) + (side * 101) + 1);
        }
        return pattern;
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > s_limit)
            {
                throw new TimeoutException($"gave up after {s_limit.TotalSeconds} s waiting for {what}");
            }
            Thread.Sleep(1);
        }
    }
}
