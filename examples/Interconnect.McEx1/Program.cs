// Example 10-1 of the manual (mc_ex1.c): accessing regions of Memory Channel address space. In master mode the
// program writes its process id into a region of the cluster's address space; in slave mode it polls the region
// until the master's pid arrives and prints it.
//
// Run it on two emulated hosts, each in its own shell, the slave first: a receiver sees only what is written after
// it attached (the initial coherency problem, manual 10.6.2), so a master started first writes to nobody.
//
//   dotnet build examples/Interconnect.McEx1
//   alias mc_ex1='dotnet examples/Interconnect.McEx1/bin/Debug/net10.0/mc_ex1.dll'
//   export IMC_AUTO_INIT=1          # or bring the hosts up first: imc_init --host alpha; imc_init --host beta
//   IMC_HOST=beta  mc_ex1 0         # the slave: waits for the master (60 s at most; --wait 0 waits forever)
//   IMC_HOST=alpha mc_ex1 1         # the master: the slave prints "pid of master process is ..."
//
// Exit codes: 0 done, 1 bad arguments, 2 an Imc call failed (printed as imc_perror would), 3 the slave gave up.

using System.CommandLine;
using Interconnect.Imc;

namespace Interconnect.Examples.McEx1;

/// <summary>Example 10-1: the master writes its pid and a valid flag; the slave polls the flag and prints the pid.</summary>
internal static class Program
{
    private const int Key = 123;          // the manual's key: choose application-specific keys in real programs
    private const long RegionSize = 8192;
    private const int LogicalRail = 0;

    // The C program's record: struct { pid_t pid; volatile int valid; } at the start of the region.
    private const long PidOffset = 0;
    private const long ValidOffset = 4;
    private const int Valid = 756;

    private static int Main(string[] args)
    {
        var mode = new Argument<int>("0|1") { Description = "1: master (writes its pid); 0: slave (waits for the master's pid)." };
        var wait = new Option<int>("--wait")
        {
            Description = "Slave: give up after this many seconds without the master's pid; 0 waits forever.",
            DefaultValueFactory = _ => 60,
            HelpName = "SECONDS",
        };
        var command = new RootCommand("Example 10-1: exchange a process id through a Memory Channel region.") { mode, wait };
        command.SetAction(parse => Run(parse.GetValue(mode) != 0, Wait.Seconds(parse.GetValue(wait))));
        return command.Parse(args).Invoke();
    }

    private static int Run(bool master, TimeSpan limit)
    {
        ImcContext context;
        try
        {
            context = ImcContext.Open(); // imc_api_init(NULL): the host, cluster and root come from IMC_HOST etc.
        }
        catch (ImcException e)
        {
            Console.Error.WriteLine($"imc_api_init: {e.Message}"); // imc_perror("imc_api_init", status)
            return 2;
        }

        using (context)
        {
            try
            {
                return master ? Master(context) : Slave(context, limit);
            }
            catch (ImcException e)
            {
                Console.Error.WriteLine($"mc_ex1: {e.Message}");
                return 2;
            }
        }
    }

    private static int Master(ImcContext context)
    {
        var region = context.AllocateRegion(Key, RegionSize, ImcPermissions.UserReadWrite, ImcRegionFlags.None, LogicalRail);
        var tx = region.AttachTransmit(ImcShareMode.Shared); // write-only: there is no way to read the pid back
        tx.Write(PidOffset, context.ProcessId);
        tx.Barrier();                                         // mb(): here only for the port; writes already land in order
        tx.Write(ValidOffset, Valid);
        tx.Barrier();
        Console.WriteLine($"mc_ex1: master pid {context.ProcessId} on host {context.HostName} wrote its pid to region key {Key}");

        region.Detach();      // imc_asdetach
        region.Deallocate();  // imc_asdealloc
        return 0;
    }

    private static int Slave(ImcContext context, TimeSpan limit)
    {
        var region = context.AllocateRegion(Key, RegionSize, ImcPermissions.UserReadWrite, ImcRegionFlags.None, LogicalRail);
        var rx = region.AttachReceive(ImcShareMode.Shared);
        Console.WriteLine($"mc_ex1: slave pid {context.ProcessId} on host {context.HostName} attached region key {Key} " +
            "for receive; waiting for the master (start 'mc_ex1 1' on another host)");

        // Read<T> is a volatile read, as the C program's volatile valid flag: every poll loads from memory.
        if (!Wait.Until(() => rx.Read<int>(ValidOffset) == Valid, limit))
        {
            Console.Error.WriteLine($"mc_ex1: no master wrote region key {Key} within {limit.TotalSeconds} s; giving up");
            region.Dispose();
            return 3;
        }

        Console.WriteLine($"pid of master process is {rx.Read<int>(PidOffset)}");
        region.Detach();
        region.Deallocate();
        return 0;
    }
}
