using System.CommandLine;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Interconnect.Driver;
using Interconnect.Driver.Agent;
using Interconnect.Driver.Agent.Machine;
using Interconnect.Driver.Directory;
using Interconnect.Driver.Directory.Etcd;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Store;
using Microsoft.Extensions.Logging;

namespace Interconnect.Imcd;

/// <summary>
/// imcd: one machine's agent in a cluster that spans machines; with <c>--local</c>, the agent of a cluster on this
/// machine only, without etcd. It serves in the foreground until SIGTERM or SIGINT, when the machine's hosts leave the
/// cluster (across machines) and its socket is removed.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var directory = new Option<string?>("--directory")
        {
            Description = "etcd's client URLs, comma-separated (default: IMC_DIRECTORY).", HelpName = "URLS",
        };
        var cluster = new Option<string?>("--cluster") { Description = "The cluster's name (default: IMC_CLUSTER, else 'default').", HelpName = "NAME" };
        var machine = new Option<string?>("--machine")
        {
            Description = "This machine's name in the cluster (default: IMC_MACHINE, else the host name).", HelpName = "NAME",
        };
        var address = new Option<string?>("--address")
        {
            Description = "The address other machines reach this one at (default: the first non-loopback interface that is up).",
            HelpName = "IP",
        };
        var progress = new Option<string>("--progress")
        {
            Description = "How UCX progress runs: spin (lowest latency, a core busy) or wait (sleeps between events).",
            DefaultValueFactory = _ => "spin",
            HelpName = "spin|wait",
        };
        progress.AcceptOnlyFromAmong("spin", "wait");
        var lease = new Option<int>("--lease")
        {
            Description = "Seconds after which a machine whose imcd stopped leaves the cluster, with its hosts.",
            DefaultValueFactory = _ => 3,
            HelpName = "SECONDS",
        };
        var etcdCa = new Option<string?>("--etcd-ca")
        {
            Description = "For an https:// directory: the CA that signed etcd's certificate, the only one trusted for it (default: IMC_ETCD_CA).",
            HelpName = "FILE",
        };
        var etcdCert = new Option<string?>("--etcd-cert")
        {
            Description = "For an https:// directory: this machine's client certificate, which etcd (--client-cert-auth) checks (default: IMC_ETCD_CERT).",
            HelpName = "FILE",
        };
        var etcdKey = new Option<string?>("--etcd-key")
        {
            Description = "The client certificate's key, unencrypted PEM, readable by imcd's user alone (chmod 600) (default: IMC_ETCD_KEY).",
            HelpName = "FILE",
        };
        var local = new Option<bool>("--local")
        {
            Description = "Serve a cluster on this machine only, without etcd: processes ask imcd over its socket, which checks " +
                "each request with the caller's credentials (the other options are for clusters across machines).",
        };
        var group = new Option<string?>("--group")
        {
            Description = "Only members of this group (and root) may use the cluster: its folder becomes 0750, its control file " +
                "0660 and regions/ 1770, of this group (default: every local user; the folder 0755).",
            HelpName = "GROUP",
        };
        var root = new RootCommand("The machine's agent of an Interconnect cluster across machines (etcd directory, UCX data path), " +
            "or with --local of a cluster on this machine.")
        {
            directory, cluster, machine, address, progress, lease, etcdCa, etcdCert, etcdKey, local, group,
        };
        root.SetAction(parse => parse.GetValue(local)
            ? ServeLocal(parse.GetValue(directory), parse.GetValue(cluster), parse.GetValue(group))
            : Serve(
            parse.GetValue(directory) ?? Directories.Endpoints,
            parse.GetValue(group),
            (parse.GetValue(etcdCa), parse.GetValue(etcdCert), parse.GetValue(etcdKey)),
            parse.GetValue(cluster),
            parse.GetValue(machine) ?? Directories.MachineName,
            parse.GetValue(address),
            parse.GetValue(progress) == "wait" ? ProgressMode.Wait : ProgressMode.Spin,
            parse.GetValue(lease)));
        return root.Parse(args).Invoke();
    }

    private static int Serve(string? endpoints, string? group, (string? Ca, string? Cert, string? Key) tls, string? cluster, string machine,
        string? address, ProgressMode progress, int lease)
    {
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true)
            .AddFilter(l => l >= (Environment.GetEnvironmentVariable("IMCD_DEBUG") == "1" ? LogLevel.Debug : LogLevel.Information)));
        var logger = loggers.CreateLogger("imcd");
        if (endpoints is null)
        {
            Console.Error.WriteLine("imcd: no directory: give --directory http://HOST:2379 or set IMC_DIRECTORY");
            return 2;
        }

        if (lease < 2)
        {
            Console.Error.WriteLine("imcd: --lease must be at least 2 seconds (etcd's shortest lease is about 1.5 s)");
            return 2;
        }

        try
        {
            // The directory and its certificates first, each fault in one line: nothing of the cluster is touched before.
            var etcd = EtcdConnection.FromEnvironment(endpoints, tls.Ca, tls.Cert, tls.Key);
            var paths = ClusterPaths.Resolve(cluster: cluster);
            _ = AgentProtocol.EndPoint(AgentProtocol.SocketPath(paths)); // a socket path too long: refused before anything is made
            ClusterFolder.Take(paths, group is null ? null : ClusterFolder.GroupId(group));
            address ??= FirstAddress();
            using var stopped = new ManualResetEventSlim();
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stopped.Set(); });
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stopped.Set(); });
            using (var agent = MachineAgent.Start(paths, etcd, machine, address, lease, progress, logger))
            {
                Console.WriteLine($"imcd: ready machine={machine} cluster={paths.Cluster} address={address} lease={lease}s " +
                    $"progress={progress.ToString().ToLowerInvariant()} directory={endpoints}");
                while (!stopped.Wait(TimeSpan.FromSeconds(1)))
                {
                    if (agent.NicFailure is { } failure)
                    {
                        // Its writes would be lost unseen: leave (the other machines count it gone), and exit non-zero.
                        Console.Error.WriteLine($"imcd: the NIC of machine '{machine}' stopped, leaving the cluster: {failure}");
                        return 1;
                    }
                }

                var nic = agent.NicCounts;
                Console.WriteLine($"imcd: leaving cluster '{paths.Cluster}'; writes from other machines: {nic.Applied} applied, " +
                    $"{nic.Refused} refused, {nic.Malformed} malformed, {nic.Unauthenticated} from connections without the " +
                    $"cluster key; error counts raised for lost ones {nic.Raised} times");
            }

            return 0;
        }
        catch (DriverException e)
        {
            Console.Error.WriteLine($"imcd: {e.Message}");
            return 1;
        }
    }

    /// <summary>imcd --local: serves the cluster's control file on its socket until SIGTERM or SIGINT, then removes the socket.</summary>
    private static int ServeLocal(string? directory, string? cluster, string? group)
    {
        if (directory is not null || Directories.Endpoints is not null)
        {
            Console.Error.WriteLine(directory is not null
                ? "imcd: --local serves a cluster on this machine without etcd: drop --directory (or drop --local to join a cluster across machines)"
                : "imcd: --local serves a cluster on this machine without etcd, but IMC_DIRECTORY is set: unset it (or drop --local to join a cluster across machines)");
            return 2;
        }

        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true)
            .AddFilter(l => l >= (Environment.GetEnvironmentVariable("IMCD_DEBUG") == "1" ? LogLevel.Debug : LogLevel.Information)));
        var logger = loggers.CreateLogger("imcd");
        try
        {
            var paths = ClusterPaths.Resolve(cluster: cluster);
            _ = AgentProtocol.EndPoint(AgentProtocol.SocketPath(paths)); // a socket path too long: refused before anything is made
            var gid = group is null ? (int?)null : ClusterFolder.GroupId(group);
            ClusterFolder.Take(paths, gid);
            using var stopped = new ManualResetEventSlim();
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stopped.Set(); });
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stopped.Set(); });
            using (var agent = LocalAgent.Start(paths, logger))
            {
                Console.WriteLine($"imcd: ready local cluster={paths.Cluster} root={paths.Root} socket={AgentProtocol.SocketPath(agent.Paths)}");
                stopped.Wait();
            }

            ClusterFolder.HandBack(paths, gid); // the socket is gone: the embedded default's processes change the directory

            Console.WriteLine($"imcd: stopped serving cluster '{paths.Cluster}'");
            return 0;
        }
        catch (DriverException e)
        {
            Console.Error.WriteLine($"imcd: {e.Message}");
            return 1;
        }
    }

    private static string FirstAddress()
    {
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback)
            {
                continue;
            }

            foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
            {
                if (unicast.Address.AddressFamily == AddressFamily.InterNetwork)
                {
                    return unicast.Address.ToString();
                }
            }
        }

        return "127.0.0.1";
    }
}
