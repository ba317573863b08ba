using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Interconnect.Machines;

/// <summary>
/// The helper by hand: <c>sweep</c> removes what dead owners left; <c>hold N</c> keeps an N-machine cluster up until
/// its input ends (or SIGTERM), printing how to enter each machine; <c>listen PORT TEXT</c> answers one TCP
/// connection with a line (a listener any machine can run: only dotnet is sure to be there).
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        try
        {
            return args switch
            {
                ["sweep"] => SweepCommand(),
                ["hold", var count] when int.TryParse(count, CultureInfo.InvariantCulture, out var machines) => Hold(machines),
                ["listen", var port, var text] when int.TryParse(port, CultureInfo.InvariantCulture, out var number) => Listen(number, text),
                _ => Usage(),
            };
        }
        catch (MachinesUnavailableException exception)
        {
            // On the output: it answers "hold" instead of the cluster's lines (a test skips on it).
            Console.WriteLine($"unavailable: {exception.Message}");
            return 3;
        }
    }

    private static int SweepCommand()
    {
        var swept = SimulatedCluster.Sweep();
        Console.WriteLine(swept.Count == 0 ? "nothing to sweep" : $"swept {string.Join(' ', swept)}");
        return 0;
    }

    private static int Hold(int machines)
    {
        // Not disposed here on purpose: the helper's exit hooks remove it (at the end of the input, on SIGTERM or
        // Ctrl+C), and this command is how the helper's tests prove that they do.
        var cluster = SimulatedCluster.Create(machines, TimeSpan.FromSeconds(60));
        Console.WriteLine($"tag {cluster.Tag}");
        Console.WriteLine($"etcd {cluster.EtcdEndpoints}");
        foreach (var machine in cluster.Machines)
        {
            Console.WriteLine($"machine {machine.Name} {machine.Address} nsenter --net=/run/netns/{machine.NetworkNamespace} --mount={machine.MountNamespaceFile} -- bash");
        }

        Console.WriteLine("ready (end the input to remove the cluster)");
        while (Console.In.ReadLine() is not null)
        {
        }

        return 0;
    }

    private static int Listen(int port, string text)
    {
        using var listener = new TcpListener(IPAddress.Any, port);
        listener.Start();
        Console.WriteLine("listening");
        using var client = listener.AcceptTcpClient();
        using var writer = new StreamWriter(client.GetStream());
        writer.WriteLine(text);
        return 0;
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: Interconnect.Machines sweep | hold MACHINES | listen PORT TEXT");
        return 2;
    }
}
