using System.Globalization;
using System.IO.Pipes;
using System.Net;
using System.Net.Sockets;
using Interconnect.Imc;
using Interconnect.Latency.Interop;
using Interconnect.Latency.Protocol;
using Interconnect.Latency.Scenarios;
using Interconnect.Latency.Transports;

namespace Interconnect.Latency;

/// <summary>
/// The far side of every .NET scenario, run as <c>--peer ROLE --cpu N [--name value]...</c>: it pins its thread,
/// sets up, prints "ready", echoes until Stop, prints "jit N" and exits 0 (1 with a line on stderr on failure).
/// </summary>
internal static class PeerMain
{
    public const string ImcEcho = "imc-echo";
    public const string ImcBroadcast = "imc-broadcast";
    public const string SocketEcho = "socket-echo";
    public const string PipeEcho = "pipe-echo";
    public const string ImcLockHandOff = "imc-lock-handoff";
    public const string ImcKill = "imc-kill";

    public static int Run(string[] args)
    {
        ParentDeath.KillMeWithMyParent();
        var role = args[1];
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 2; i + 1 < args.Length; i += 2)
        {
            values[args[i]] = args[i + 1];
        }

        try
        {
            var failure = Affinity.TryPinCurrentThread(Int(values, "--cpu"));
            if (failure is not null)
            {
                Console.Error.WriteLine($"peer {role}: {failure}");
            }

            var jit = role switch
            {
                ImcEcho => RunImcEcho(values),
                ImcBroadcast => BroadcastReceiver.Run(values["--root"], values["--cluster"], Int(values, "--receivers")),
                SocketEcho => RunSocketEcho(values),
                PipeEcho => RunPipeEcho(values),
                ImcLockHandOff => ImcLockHandOffScenario.RunPeer(values["--root"], values["--cluster"]),
                ImcKill => ImcKillScenario.RunPeer(values["--root"], values["--cluster"]),
                MachinesPeers.Ping => MachinesPeers.RunPing(values),
                MachinesPeers.Echo => MachinesPeers.RunEcho(values),
                MachinesPeers.Attach => MachinesPeers.RunAttach(values),
                RawUcxPeers.Ping => RawUcxPeers.Run(values, ping: true),
                RawUcxPeers.Echo => RawUcxPeers.Run(values, ping: false),
                _ => throw new ArgumentException($"unknown peer role {role}"),
            };
            Console.WriteLine($"jit {jit}");
            return 0;
        }
        catch (Exception e) when (e is ImcException or IOException or SocketException or InvalidOperationException
            or TimeoutException or ArgumentException or KeyNotFoundException)
        {
            Console.Error.WriteLine($"peer {role}: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }

    public static void Ready()
    {
        Console.WriteLine("ready");
        Console.Out.Flush();
    }

    private static long RunImcEcho(Dictionary<string, string> values)
    {
        using var context = ImcContext.Open(ImcLayout.Options(values["--root"], values["--cluster"], ImcLayout.Beta));
        using var ping = context.AllocateRegion(ImcLayout.PingKey, PingPongProtocol.MessageArea);
        using var pong = context.AllocateRegion(ImcLayout.PongKey, PingPongProtocol.MessageArea);
        using var pingRx = ping.AttachReceive();
        using var pongTx = pong.AttachTransmit();
        Ready();
        var channel = new ImcEchoChannel(pingRx, pongTx);
        return EchoLoop.Run(ref channel, Int(values, "--size"));
    }

    private static long RunSocketEcho(Dictionary<string, string> values)
    {
        Socket socket;
        if (values.TryGetValue("--uds", out var path))
        {
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
        }
        else
        {
            socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            socket.Connect(new IPEndPoint(IPAddress.Loopback, Int(values, "--tcp")));
        }

        using (socket)
        {
            Ready();
            var channel = new SocketEchoChannel(socket);
            return EchoLoop.Run(ref channel, Int(values, "--size"));
        }
    }

    private static long RunPipeEcho(Dictionary<string, string> values)
    {
        using var input = new AnonymousPipeClientStream(PipeDirection.In, values["--in"]);
        using var output = new AnonymousPipeClientStream(PipeDirection.Out, values["--out"]);
        Ready();
        var channel = new StreamEchoChannel(input, output);
        return EchoLoop.Run(ref channel, Int(values, "--size"));
    }

    private static int Int(Dictionary<string, string> values, string name) =>
        int.Parse(values[name], NumberStyles.Integer, CultureInfo.InvariantCulture);
}
