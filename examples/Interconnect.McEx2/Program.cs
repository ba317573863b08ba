// Example 10-2 of the manual (mc_ex2.c, its Memory Channel half): a global process count. Each process adds one to
// the count when it starts and takes one away when it leaves; the process that brings it back to zero prints
// "The last process is exiting". It shows latency-related coherency (manual 10.6.5): a process reads the count from
// its receive memory, writes the new value through its transmit window, and before trusting the receive memory
// again waits until its own write has come back there (loopback).
//
// Run it on two emulated hosts, each in its own shell; each process stays until you press Enter:
//
//   dotnet build examples/Interconnect.McEx2
//   alias mc_ex2='dotnet examples/Interconnect.McEx2/bin/Debug/net10.0/mc_ex2.dll'
//   export IMC_AUTO_INIT=1          # or bring the hosts up first: imc_init --host alpha; imc_init --host beta
//   IMC_HOST=alpha mc_ex2 --coherent      # process count is now 1
//   IMC_HOST=beta  mc_ex2 --coherent      # process count is now 2; press Enter in each shell: the last one to leave
//                                         # prints "The last process is exiting"
//
// --coherent allocates the region with IMC_COHERENT. The C program does not, and so (run as written, without the
// flag) it counts right only when every process attaches before any of them writes, or when all run on one host:
// a host's first receive attach of a non-coherent region starts from zeroed memory (manual 10.6.2), so a process
// on a second host starts from 0, not from the count. Try it: without --coherent the beta process says "now 1".
// Nor is the count locked: two processes that start or leave at the same moment can lose an update (Example 10-5
// adds the lock).
//
// Exit codes: 0 done, 1 bad arguments, 2 an Imc call failed, 3 the decremented count never showed up.

using System.CommandLine;
using Interconnect.Imc;

namespace Interconnect.Examples.McEx2;

/// <summary>Example 10-2: a process count kept in a region, read through receive memory and written through transmit.</summary>
internal static class Program
{
    private const int Key = 123;
    private const long RegionSize = 8192;
    private const int LogicalRail = 0;

    // The C program's page: struct { int proc_count; int remainder[2047]; }.
    private const long ProcCountOffset = 0;

    private static int Main(string[] args)
    {
        var coherent = new Option<bool>("--coherent")
        {
            Description = "Allocate the region with IMC_COHERENT, so that a process on another host sees the current count.",
        };
        var hold = new Option<int?>("--hold")
        {
            Description = "Stay this many seconds, then leave (default: until Enter or the end of the input).",
            HelpName = "SECONDS",
        };
        var command = new RootCommand("Example 10-2: a global process count in a Memory Channel region.") { coherent, hold };
        command.SetAction(parse => Run(parse.GetValue(coherent), parse.GetValue(hold)));
        return command.Parse(args).Invoke();
    }

    private static int Run(bool coherent, int? holdSeconds)
    {
        try
        {
            using var context = ImcContext.Open(); // imc_api_init(NULL)
            var flags = coherent ? ImcRegionFlags.Coherent : ImcRegionFlags.None;
            using var region = context.AllocateRegion(Key, RegionSize,
                ImcPermissions.UserReadWrite | ImcPermissions.GroupReadWrite, flags, LogicalRail);
            // Two windows on one region: writes go out through the transmit window (looped back to this host) and
            // are read from the receive window. The C program's mypage_tx and mypage_rx.
            var tx = region.AttachTransmit(ImcShareMode.Shared, ImcAttachFlags.Loopback);
            var rx = region.AttachReceive(ImcShareMode.Shared);

            // Increment the process count: read from receive memory, write through transmit.
            var joined = rx.Read<int>(ProcCountOffset) + 1;
            tx.Write(ProcCountOffset, joined);
            Console.WriteLine($"mc_ex2: pid {context.ProcessId} on host {context.HostName} joined: process count is now {joined}");

            // The body of the program goes here.
            Hold(holdSeconds);

            // Decrement it, and wait until the decremented value has come back to receive memory before reading it:
            // reading too early could show a transient value (latency-related coherency).
            var temp = rx.Read<int>(ProcCountOffset) - 1;
            tx.Write(ProcCountOffset, temp);
            if (!Wait.Until(() => rx.Read<int>(ProcCountOffset) == temp, TimeSpan.FromSeconds(10)))
            {
                Console.Error.WriteLine($"mc_ex2: the count never showed {temp} in receive memory (it shows " +
                    $"{rx.Read<int>(ProcCountOffset)}): another process wrote it at the same moment; an unlocked count " +
                    "loses updates (see mc_ex5)");
                return 3;
            }

            Console.WriteLine($"mc_ex2: pid {context.ProcessId} leaving: process count is now {temp}");
            if (rx.Read<int>(ProcCountOffset) == 0)
            {
                Console.WriteLine("The last process is exiting");
            }

            return 0;
        }
        catch (ImcException e)
        {
            Console.Error.WriteLine($"mc_ex2: {e.Message}");
            return 2;
        }
    }

    private static void Hold(int? seconds)
    {
        if (seconds is { } s)
        {
            Console.WriteLine($"mc_ex2: running for {s} s");
            Thread.Sleep(TimeSpan.FromSeconds(Math.Max(0, s)));
        }
        else
        {
            Console.WriteLine("mc_ex2: running; press Enter (or end the input) to leave");
            Console.ReadLine();
        }
    }
}
