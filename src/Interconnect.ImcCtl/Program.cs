using System.CommandLine;
using Interconnect.Driver;

namespace Interconnect.ImcCtl;

/// <summary>
/// imcctl: the emulator's own controls, for testing programs against faults real hardware makes only rarely.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var rail = new Option<int>("--rail") { Description = "The logical rail.", Required = true, HelpName = "R" };
        var count = new Option<int>("--count")
        {
            Description = "How many transmissions to drop (one write toward one receiving host is one); 0 disarms.",
            DefaultValueFactory = _ => 1,
            HelpName = "N",
        };
        var host = new Option<string?>("--host") { Description = "Drop only transmissions toward this host.", HelpName = "H" };
        var inject = new Command("inject-error",
            "Drop the next N transmissions on a logical rail, whole; the rail's error count rises before anything sent after a drop can be seen.")
        {
            rail, count, host,
        };
        inject.SetAction(parse => Run(paths =>
        {
            var rails = parse.GetValue(rail);
            var n = parse.GetValue(count);
            ClusterAdmin.InjectErrors(paths, rails, n, parse.GetValue(host));
            var target = parse.GetValue(host) is { } h ? $"toward host '{h}'" : "toward any host";
            return $"imcctl: the next {n} transmission(s) on logical rail {rails} {target} will be dropped";
        }));

        var physical = new Argument<int>("P") { Description = "The physical rail." };
        var fail = new Command("fail-rail",
            "Fail a physical rail: a failover pair moves traffic to its other rail, a single rail's logical rail goes down.")
        {
            physical,
        };
        fail.SetAction(parse => Run(paths =>
        {
            var p = parse.GetValue(physical);
            return ClusterAdmin.FailRail(paths, p)
                ? $"imcctl: physical rail {p} failed"
                : $"imcctl: physical rail {p} had already failed";
        }));

        var repairPhysical = new Argument<int>("P") { Description = "The physical rail." };
        var repair = new Command("repair-rail", "Repair a failed physical rail; a logical rail that was down comes back.")
        {
            repairPhysical,
        };
        repair.SetAction(parse => Run(paths =>
        {
            var p = parse.GetValue(repairPhysical);
            return ClusterAdmin.RepairRail(paths, p)
                ? $"imcctl: physical rail {p} repaired"
                : $"imcctl: physical rail {p} was not failed";
        }));

        var destroy = new Command("destroy", "Remove the cluster (IMC_ROOT/IMC_CLUSTER) and all its files.");
        destroy.SetAction(_ => Run(paths => ClusterAdmin.Destroy(paths)
            ? $"imcctl: cluster '{paths.Cluster}' removed from {paths.Root}"
            : throw new DriverException(DriverStatus.NotInitialized,
                $"no cluster '{paths.Cluster}' under {paths.Root}: nothing to remove")));

        var root = new RootCommand("Controls of the Interconnect emulator: fault injection, rail failure and repair, and removal.")
        {
            inject, fail, repair, destroy,
        };
        return root.Parse(args).Invoke();
    }

    private static int Run(Func<ClusterPaths, string> action)
    {
        try
        {
            Console.WriteLine(action(ClusterPaths.Resolve()));
            return 0;
        }
        catch (DriverException e)
        {
            Console.Error.WriteLine($"imcctl: {e.Message}");
            return e.Status == DriverStatus.NotInitialized ? 3 : 1;
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"imcctl: {e.Message}");
            return 1;
        }
    }
}
