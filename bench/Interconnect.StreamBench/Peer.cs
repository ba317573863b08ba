using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Interconnect.StreamBench;

/// <summary>
/// The child process: "peer KIND MODE SIZE WARMUP COUNT spin|block ROOT ENDPOINT". Throughput: consumes WARMUP and then
/// COUNT messages of SIZE bytes (summing the words of all where the transport hands them over) and prints
/// "done SECONDS SUM" (SECONDS from the first of the COUNT messages to the last). Latency: echoes every message until
/// one starting with 0xFF, which it echoes too.
/// </summary>
internal static class Peer
{
    public static int Run(string[] args)
    {
        var (kind, mode, size, warmup, count, spin, root, endpoint) = (args[0], args[1], int.Parse(args[2], CultureInfo.InvariantCulture),
            int.Parse(args[3], CultureInfo.InvariantCulture), int.Parse(args[4], CultureInfo.InvariantCulture), args[5] == "spin",
            args[6], args[7]);
        using var channel = Connect(kind, spin || (kind == "imc-stream" && mode == "latency"), root, endpoint, size);
        using var pinned = Pinning.PinThisThread(Pinning.Cpus?.Peer); // after Connect: the channel's own threads stay free
        Console.WriteLine("ready");
        var buffer = new byte[size];
        if (mode == "throughput")
        {
            var sum = default(WordSum);
            for (var i = 0; i < warmup; i++)
            {
                channel.Consume(size, ref sum);
            }

            channel.Consume(size, ref sum);
            var watch = Stopwatch.StartNew();
            for (var i = 1; i < count; i++)
            {
                channel.Consume(size, ref sum);
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done {watch.Elapsed.TotalSeconds:0.000000} {sum.Value}"));
        }
        else
        {
            do
            {
                channel.Receive(buffer);
                channel.Send(buffer);
            }
            while (buffer[0] != 0xFF);
        }

        Console.Out.Flush();
        if (kind == "imc-stream")
        {
            Thread.Sleep(200); // let the coordinator's reader take the last answer before this end goes away
        }

        return 0;
    }

    private static IChannel Connect(string kind, bool spin, string root, string endpoint, int size)
    {
        switch (kind)
        {
            case "imc-stream":
            {
                var ring = endpoint.Split(':'); // "SLOTS:SLOT_KIB"
                return new ImcChannel(root, coordinator: false, spin, int.Parse(ring[0], CultureInfo.InvariantCulture),
                    int.Parse(ring[1], CultureInfo.InvariantCulture));
            }

            case "uds":
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                socket.Connect(new UnixDomainSocketEndPoint(endpoint));
                return new SocketChannel(socket, spin);
            }

            case "tcp":
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Connect(new IPEndPoint(IPAddress.Loopback, int.Parse(endpoint, CultureInfo.InvariantCulture)));
                return new SocketChannel(socket, spin);
            }

            default:
                return new NetMqChannel(endpoint, bind: false, size);
        }
    }
}
