using System.CommandLine;
using System.Globalization;
using Interconnect.Driver;

namespace Interconnect.ImcInit;

/// <summary>
/// imc_init: creates the cluster if needed and brings a host up, or reconfigures its limits, or takes it down.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var maxAlloc = new Option<int?>("-a", "--maxalloc")
        {
            Description = "Clusterwide address space in MiB (default 10). A joining host raises it to the largest asked.",
            HelpName = "maxalloc",
        };
        var maxRecv = new Option<int?>("-r", "--maxrecv")
        {
            Description = "This host's receive space in MiB (default 10).",
            HelpName = "maxrecv",
        };
        var host = new Option<string?>("--host")
        {
            Description = "The host to bring up (default: IMC_HOST, else the machine's host name).",
            HelpName = "NAME",
        };
        var rails = new Option<int?>("--rails")
        {
            Description = "Physical rails, 1 to 8 (fixed when the cluster is created; default 1).",
            HelpName = "N",
        };
        var railStyle = new Option<int?>("--rail-style")
        {
            Description = "rm_rail_style: 0 single-rail, 1 failover pair (fixed when the cluster is created; default 0).",
            HelpName = "0|1",
        };
        var errorWindow = new Option<int?>("--error-window")
        {
            Description = "How long a rail reports 'processing an error' after a fault, in ms (fixed when the cluster is created; default 10).",
            HelpName = "MS",
        };
        var down = new Option<bool>("--down")
        {
            Description = "Take the host out of the cluster (a host leave).",
        };

        var command = new RootCommand(
            "Initialises the Memory Channel API cluster under IMC_ROOT/IMC_CLUSTER for a host, or reconfigures it.")
        {
            maxAlloc, maxRecv, host, rails, railStyle, errorWindow, down,
        };

        command.SetAction(parse =>
        {
            try
            {
                var paths = ClusterPaths.Resolve();
                var hostName = ClusterPaths.ResolveHost(parse.GetValue(host));
                if (parse.GetValue(down))
                {
                    ClusterAdmin.TakeHostDown(paths, hostName);
                    Console.WriteLine($"imc_init: host '{hostName}' is down in cluster '{paths.Cluster}'");
                    return 0;
                }

                var result = ClusterAdmin.InitializeHost(paths, hostName,
                    Mebibytes(parse.GetValue(maxAlloc), "-a"), Mebibytes(parse.GetValue(maxRecv), "-r"),
                    parse.GetValue(rails), parse.GetValue(railStyle), parse.GetValue(errorWindow));
                var what = result.CreatedCluster ? "created cluster" : "cluster";
                var state = result.JoinedHost ? "joined" : "reconfigured";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"imc_init: {what} '{paths.Cluster}' at {paths.ClusterDirectory}; host '{result.Host}' {state}; " +
                    $"maxalloc {result.MaxAllocBytes >> 20} MiB, maxrecv {result.MaxRecvBytes >> 20} MiB, " +
                    $"{result.PhysicalRails} physical rail(s), rail style {result.RailStyle}, {result.LogicalRails} logical rail(s), " +
                    $"error window {result.ErrorWindowMs} ms"));
                return 0;
            }
            catch (DriverException e)
            {
                Console.Error.WriteLine($"imc_init: {e.Message}");
                return 1;
            }
        });

        return command.Parse(args).Invoke();
    }

    private static long? Mebibytes(int? value, string option) => value switch
    {
        null => null,
        <= 0 or > 1 << 20 => throw new DriverException(DriverStatus.InitError,
            $"{option} {value}: give a size in MiB from 1 to {1 << 20}"),
        _ => value.Value * ClusterConfiguration.Mebibyte,
    };
}
