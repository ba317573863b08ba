// Example 10-5 of the manual (mc_ex5.c): locking Memory Channel regions. Every process tries to create lock set 456
// with IMC_CREATOR (ImcContext.TryCreateLockSet), which creates the set and takes its lock 0 in one atomic step:
// exactly one process succeeds, however many race, and it initialises the shared region (process count 0 and a
// pattern) before releasing the lock. Every other process gets IMC_EXISTS (false), allocates the existing set,
// waits for lock 0, and adds one to the process count under it.
//
// Run it on two emulated hosts, several processes at once if you like; each stays until you press Enter, so that
// the lock set lives on while the others start (the last process to leave frees it, and the next run starts over):
//
//   dotnet build examples/Interconnect.McEx5
//   alias mc_ex5='dotnet examples/Interconnect.McEx5/bin/Debug/net10.0/mc_ex5.dll'
//   export IMC_AUTO_INIT=1          # or bring the hosts up first: imc_init --host alpha; imc_init --host beta
//   IMC_HOST=alpha mc_ex5 --coherent      # created lock set 456 ...: initialised the region
//   IMC_HOST=beta  mc_ex5 --coherent      # lock set 456 exists ...: process count 0 -> 1
//
// --coherent allocates the region with IMC_COHERENT. The C program does not, so a process on a host that attaches
// after the first process initialised the region finds zeroed memory there (the initial coherency problem, manual
// 10.6.2): it reports the pattern as missing and counts from 0. On one host, or with --coherent, every process sees
// the initialised region. Unlike the C program, each process waits until its write has come back through loopback
// before releasing the lock (manual 10.6.5), so that the next holder reads the new value, and checks the pattern.
//
// Exit codes: 0 done, 1 bad arguments, 2 an Imc call failed, 3 a write never came back through loopback.

using System.CommandLine;
using System.Runtime.InteropServices;
using Interconnect.Imc;

namespace Interconnect.Examples.McEx5;

/// <summary>Example 10-5: the first process to create the lock set initialises the region; the others count themselves in.</summary>
internal static class Program
{
    private const int RegionKey = 123;
    private const long RegionSize = 8192;
    private const int LockKey = 456;
    private const int Locks = 4;

    // The C program's record: struct { int proc_count; int pattern[2047]; }.
    private const long ProcCountOffset = 0;
    private const long PatternOffset = 4;
    private const int PatternLength = 2047;

    private static readonly TimeSpan s_loopbackLimit = TimeSpan.FromSeconds(10);

    private static int Main(string[] args)
    {
        var coherent = new Option<bool>("--coherent")
        {
            Description = "Allocate the region with IMC_COHERENT, so that processes on other hosts see its initialised contents.",
        };
        var hold = new Option<int?>("--hold")
        {
            Description = "Stay this many seconds, then leave (default: until Enter or the end of the input).",
            HelpName = "SECONDS",
        };
        var command = new RootCommand("Example 10-5: the first process to create a lock set initialises the region.")
        {
            coherent, hold,
        };
        command.SetAction(parse => Run(parse.GetValue(coherent), parse.GetValue(hold)));
        return command.Parse(args).Invoke();
    }

    private static int Run(bool coherent, int? holdSeconds)
    {
        try
        {
            using var context = ImcContext.Open(); // imc_api_init(NULL)
            using var region = context.AllocateRegion(RegionKey, RegionSize, ImcPermissions.UserReadWrite,
                coherent ? ImcRegionFlags.Coherent : ImcRegionFlags.None);
            // Transmit with loopback and receive, to read back what this process writes (as Example 10-2).
            var tx = region.AttachTransmit(ImcShareMode.Shared, ImcAttachFlags.Loopback);
            var rx = region.AttachReceive(ImcShareMode.Shared);
            var who = $"mc_ex5: pid {context.ProcessId} on host {context.HostName}";

            ImcLockSet? locks;
            if (context.TryCreateLockSet(LockKey, Locks, ImcLockPermissions.User, out locks))
            {
                // This is the first process, and it holds lock 0: initialise the global region.
                tx.Write(ProcCountOffset, 0);
                var pattern = Enumerable.Range(0, PatternLength).ToArray();
                tx.Write(PatternOffset, MemoryMarshal.AsBytes(pattern.AsSpan()));
                if (!CameBack(rx, () => HoldsPattern(rx) && rx.Read<int>(ProcCountOffset) == 0))
                {
                    return 3;
                }

                locks.Release(0);
                Console.WriteLine($"{who} created lock set {LockKey} ({locks.Count} locks) holding lock 0: " +
                    $"initialised the region (process count 0, pattern 0..{PatternLength - 1})");
            }
            else
            {
                // IMC_EXISTS: a secondary process. Allocate the set without IMC_CREATOR, then wait for lock 0.
                locks = context.AllocateLockSet(LockKey, Locks, ImcLockPermissions.User);
                locks.Acquire(0);
                var before = rx.Read<int>(ProcCountOffset);
                var count = before + 1;
                tx.Write(ProcCountOffset, count);
                var intact = HoldsPattern(rx);
                if (!CameBack(rx, () => rx.Read<int>(ProcCountOffset) == count))
                {
                    return 3;
                }

                locks.Release(0);
                Console.WriteLine($"{who}: lock set {LockKey} exists; took lock 0: process count {before} -> {count}; " +
                    (intact ? "the initialised pattern is there"
                        : "the initialised pattern is NOT there (this host attached after it was written: use --coherent)"));
            }

            // The body of the program goes here.
            Hold(holdSeconds);

            // Clean up: imc_lkdealloc, imc_asdetach, imc_asdealloc.
            locks.Deallocate();
            region.Detach();
            region.Deallocate();
            Console.WriteLine($"{who} released the lock set and the region");
            return 0;
        }
        catch (ImcException e)
        {
            Console.Error.WriteLine($"mc_ex5: {e.Message}");
            return 2;
        }
    }

    private static bool HoldsPattern(ImcReceiveWindow rx)
    {
        var pattern = MemoryMarshal.Cast<byte, int>(rx.AsSpan(PatternOffset, PatternLength * sizeof(int)));
        for (var j = 0; j < pattern.Length; j++)
        {
            if (pattern[j] != j)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Waits until this process's writes show in its receive memory (they come back through loopback).</summary>
    private static bool CameBack(ImcReceiveWindow rx, Func<bool> written)
    {
        if (Wait.Until(written, s_loopbackLimit))
        {
            return true;
        }

        Console.Error.WriteLine($"mc_ex5: a write did not come back through loopback within {s_loopbackLimit.TotalSeconds} s " +
            $"(the count shows {rx.Read<int>(ProcCountOffset)})");
        return false;
    }

    private static void Hold(int? seconds)
    {
        if (seconds is { } s)
        {
            Console.WriteLine($"mc_ex5: running for {s} s");
            Thread.Sleep(TimeSpan.FromSeconds(Math.Max(0, s)));
        }
        else
        {
            Console.WriteLine("mc_ex5: running; press Enter (or end the input) to leave");
            Console.ReadLine();
        }
    }
}
