// Example 10-6 of the manual (mc_ex6.c): requesting cluster information, then waiting for a cluster event. It reads
// the hosts of the cluster and the active logical rails (imc_getclusterinfo, ImcContext.GetClusterInfo), then blocks
// until a host joins or leaves or the logical rails change (imc_wait_cluster_event, WaitForClusterEventAsync). The
// wait sleeps: it costs no CPU. The C program prints nothing unless a call fails; this one prints what it read and
// what changed, and gives up after --wait seconds (60 by default; 0 waits forever).
//
// Run it on one emulated host, then change the cluster from another shell:
//
//   dotnet build examples/Interconnect.McEx6 src/Interconnect.ImcInit
//   alias mc_ex6='dotnet examples/Interconnect.McEx6/bin/Debug/net10.0/mc_ex6.dll'
//   alias imc_init='dotnet src/Interconnect.ImcInit/bin/Debug/net10.0/imc_init.dll'
//   export IMC_AUTO_INIT=1          # or bring the host up first: imc_init --host alpha
//   IMC_HOST=alpha mc_ex6           # hosts: alpha; ... waiting
//   imc_init --host beta            # a host joins: mc_ex6 prints IMC_HOST_CHANGE and the new host list
//
// A rail change works too: imcctl fail-rail 0 (in a single-rail cluster the logical rail goes down: IMC_RAIL_CHANGE).
//
// Exit codes: 0 an event came, 1 bad arguments, 2 an Imc call failed, 3 no event within --wait.

using System.CommandLine;
using Interconnect.Imc;

namespace Interconnect.Examples.McEx6;

/// <summary>Example 10-6: print the cluster information, wait for a host or rail change, print it.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var wait = new Option<int>("--wait")
        {
            Description = "Give up after this many seconds without a cluster event; 0 waits forever.",
            DefaultValueFactory = _ => 60,
            HelpName = "SECONDS",
        };
        var command = new RootCommand("Example 10-6: cluster information and waiting for a cluster event.") { wait };
        command.SetAction(parse => Run(parse.GetValue(wait)));
        return command.Parse(args).Invoke();
    }

    private static int Run(int waitSeconds)
    {
        ImcContext context;
        try
        {
            context = ImcContext.Open(); // imc_api_init(NULL)
        }
        catch (ImcException e)
        {
            Console.Error.WriteLine($"imc_api_init: {e.Message}");
            return 2;
        }

        using (context)
        {
            // IMC_GET_ACTIVERAILS and IMC_GET_HOSTS: one call returns both, and the number of logical rails.
            ImcClusterInfo info;
            try
            {
                info = context.GetClusterInfo();
            }
            catch (ImcException e)
            {
                Console.Error.WriteLine($"imc_getclusterinfo: {e.Message}");
                return 2;
            }

            Console.WriteLine($"mc_ex6: pid {context.ProcessId} on host {context.HostName}: {Describe(info)}");
            Console.WriteLine("mc_ex6: waiting for a host to join or leave, or for the logical rails to change");

            // IMC_CC_EVENT_RAIL and IMC_CC_EVENT_HOST. The wait compares the cluster with the information read above,
            // so a change that happens between the two calls is not missed.
            using var deadline = waitSeconds > 0 ? new CancellationTokenSource(TimeSpan.FromSeconds(waitSeconds)) : new CancellationTokenSource();
            ImcClusterEvent change;
            try
            {
                change = context.WaitForClusterEventAsync(ImcClusterEvents.Rail | ImcClusterEvents.Host, info, deadline.Token)
                    .GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine("imc_wait_cluster_event didn't complete: " +
                    $"{ImcException.PerrorText(ImcStatus.Timeout)}: no host or rail change within {waitSeconds} s");
                return 3;
            }
            catch (ImcException e)
            {
                Console.Error.WriteLine($"imc_wait_cluster_event didn't complete: {e.Message}");
                return 2;
            }

            var status = change.Kind switch
            {
                ImcClusterEventKind.HostChange => ImcStatus.HostChange,
                ImcClusterEventKind.RailChange => ImcStatus.RailChange,
                _ => ImcStatus.MultipleChange,
            };
            Console.WriteLine($"mc_ex6: {ImcException.PerrorText(status)}; now {Describe(change.Info)}");
            return 0;
        }
    }

    private static string Describe(ImcClusterInfo info) =>
        $"hosts: {string.Join(", ", info.Hosts)}; {info.LogicalRailCount} logical rail(s); " +
        $"active rails mask 0x{info.ActiveRailMask:x}";
}
