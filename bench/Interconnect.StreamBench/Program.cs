// imc-stream-bench: the streams benchmark. Throughput of a byte stream written in 64 KiB and 1 MiB writes, and
// ping-pong latency of 8 B and 4 KiB messages, between two processes, through: Imc streams (Interconnect.Imc.Streams,
// two emulated hosts), a Unix domain socket and TCP loopback (blocking, and busy-polling non-blocking reads), NetMQ
// PAIR sockets over ipc:// and tcp://, and the C limit in native/ (memcpy through a shared mapping for throughput;
// imc_floor's ping-pong for latency). Writes a JSON file and SVG charts (OxyPlot) and prints markdown tables.
//
//   dotnet run -c Release --project bench/Interconnect.StreamBench -- [--quick] [--out DIR]
//   (also: --throughput-only, --latency-only, --transports A,B, --throughput-sizes BYTES,..., --latency-sizes BYTES,...,
//   --imc-ring SLOTSxKIB, --no-floor, --total-mib N, --warmup-mib N, --runs N)
//
// Throughput runs time TOTAL bytes after WARMUP bytes through the same connection (default 1024 after 512 MiB): a
// fresh process's first few hundred MiB run in code the JIT has not optimised yet and touch its buffers' pages for the
// first time, and timing them measured start-up (256 MiB untimed-free runs of the Imc stream spread from 1.5 to 8.9 GB/s).
//
// The child process is this program too: "imc-stream-bench peer ..." (see Peer).
//
// Pinning, the same for every transport: IMC_BENCH_PIN=0,1 dotnet .../imc-stream-bench.dll ... runs the thread that
// does this end's work on CPU 0 and the peer's on CPU 1 (see Pinning), and the C floors' two processes likewise.
// Unpinned, on 2 CPUs, the two busy ends of a stream may share one CPU for a while and take turns, and one run differs
// from the next by 3x.

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Interconnect.StreamBench;

/// <summary>The coordinator: runs every scenario against a peer process and reports.</summary>
internal static class Program
{
    private static readonly string[] s_throughputTransports = ["imc-stream", "uds", "tcp", "netmq-ipc", "netmq-tcp"];
    private static readonly string[] s_latencyTransports =
        ["imc-stream", "uds", "uds-spin", "tcp", "tcp-spin", "netmq-ipc", "netmq-tcp"];

    private static int s_slots = 64;
    private static int s_slotKib = 64;

    private static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "peer")
        {
            return Peer.Run(args[1..]);
        }

        var quick = args.Contains("--quick");
        var slotsIndex = Array.IndexOf(args, "--imc-ring");
        if (slotsIndex >= 0)
        {
            // "--imc-ring SLOTSxKIB": the Imc streams' ring (default 64x64, imccat's).
            var ring = args[slotsIndex + 1].Split('x');
            s_slots = int.Parse(ring[0], CultureInfo.InvariantCulture);
            s_slotKib = int.Parse(ring[1], CultureInfo.InvariantCulture);
        }

        var throughputOnly = args.Contains("--throughput-only");
        var noFloor = args.Contains("--no-floor");
        var latencyOnly = args.Contains("--latency-only");
        var sizesIndex = Array.IndexOf(args, "--latency-sizes");
        var writeSizesIndex = Array.IndexOf(args, "--throughput-sizes");
        int[] writeSizes = writeSizesIndex >= 0 ? [.. args[writeSizesIndex + 1].Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture))] : [64 * 1024, 1024 * 1024];
        int[] latencySizes = sizesIndex >= 0 ? [.. args[sizesIndex + 1].Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture))] : [8, 4096];
        var transportsIndex = Array.IndexOf(args, "--transports");
        string[]? only = transportsIndex >= 0 ? args[transportsIndex + 1].Split(',') : null;
        var outIndex = Array.IndexOf(args, "--out");
        var output = outIndex >= 0 ? args[outIndex + 1] : Path.Combine("bench", "results", "streams");
        Directory.CreateDirectory(output);
        var repo = FindRepository();
        var totalIndex = Array.IndexOf(args, "--total-mib");
        var total = totalIndex >= 0 ? long.Parse(args[totalIndex + 1], CultureInfo.InvariantCulture) << 20 : quick ? 64L << 20 : 1024L << 20;
        var warmupIndex = Array.IndexOf(args, "--warmup-mib");
        var warmupBytes = warmupIndex >= 0 ? long.Parse(args[warmupIndex + 1], CultureInfo.InvariantCulture) << 20 : quick ? 64L << 20 : 512L << 20;
        var runsIndex = Array.IndexOf(args, "--runs");
        var runs = runsIndex >= 0 ? int.Parse(args[runsIndex + 1], CultureInfo.InvariantCulture) : quick ? 1 : 3;
        var samples = quick ? 5_000 : 20_000;
        var warmup = TimeSpan.FromSeconds(quick ? 0.3 : 1);
        var loadBefore = File.ReadAllText("/proc/loadavg").Trim();
        var started = DateTime.UtcNow;

        Build(repo);
        var throughput = new List<ThroughputResult>();
        foreach (var size in latencyOnly ? [] : writeSizes)
        {
            if (!noFloor)
            {
                throughput.Add(Floor(repo, size, total, runs));
            }

            foreach (var transport in s_throughputTransports.Where(t => only is null || only.Contains(t)))
            {
                throughput.Add(Guarded(() => Throughput(transport, size, total, warmupBytes, runs),
                    e => new ThroughputResult(transport, size, double.NaN, [], e)));
            }
        }

        var latency = new List<LatencyResult>();
        if (!throughputOnly)
        {
            latency.AddRange(FloorLatency(repo, quick));
        }

        foreach (var size in throughputOnly ? [] : latencySizes)
        {
            foreach (var transport in s_latencyTransports.Where(t => only is null || only.Contains(t)))
            {
                latency.Add(Guarded(() => Latency(transport, size, samples, warmup),
                    e => new LatencyResult(transport, size, double.NaN, double.NaN, double.NaN, 0, e)));
            }
        }

        var report = new Report(started, Environment.MachineName, Environment.ProcessorCount, loadBefore,
            File.ReadAllText("/proc/loadavg").Trim(), Environment.Version.ToString(),
            "dotnet " + string.Join(' ', Environment.GetCommandLineArgs()),
            total, warmupBytes, runs, samples, throughput, latency);
        var json = Path.Combine(output, "streams.json");
        File.WriteAllText(json, JsonSerializer.Serialize(report, ReportJson.Default.Report));
        Plots.Write(report, output);
        Console.WriteLine(Markdown.Render(report));
        Console.WriteLine($"wrote {json} and the charts beside it");
        return 0;
    }

    private static string FindRepository()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Interconnect.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("run from inside the repository");
    }

    private static void Build(string repo)
    {
        using var make = Process.Start(new ProcessStartInfo("make", ["-s", "-C", Path.Combine(repo, "native")]))!;
        make.WaitForExit();
        if (make.ExitCode != 0)
        {
            throw new InvalidOperationException("make -C native failed");
        }
    }

    private static ThroughputResult Floor(string repo, int size, long total, int runs)
    {
        var rates = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            var line = RunNative(Path.Combine(repo, "native", "build", "imc_stream_floor"),
                size.ToString(CultureInfo.InvariantCulture), total.ToString(CultureInfo.InvariantCulture));
            var words = line.Split(' ');
            rates.Add(double.Parse(words[Array.IndexOf(words, "mib_per_s") + 1], CultureInfo.InvariantCulture));
        }

        Console.Error.WriteLine($"throughput {size} floor: {Median(rates):0} MiB/s");
        return new ThroughputResult("C memcpy (limit)", size, Median(rates), rates);
    }

    private static string RunNative(string path, params string[] args)
    {
        var info = new ProcessStartInfo(path, args) { RedirectStandardOutput = true };
        using var process = Process.Start(info)!;
        var text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return text.Trim();
    }

    private static IEnumerable<LatencyResult> FloorLatency(string repo, bool quick)
    {
        var text = RunNative(Path.Combine(repo, "native", "build", "imc_floor"), "pingpong", "--sizes", "8,4096",
            "--duration-ms", quick ? "300" : "1000");
        var histogram = new List<(long Value, long Count)>();
        foreach (var line in text.Split('\n'))
        {
            var words = line.Split(' ');
            if (words[0] == "begin")
            {
                histogram.Clear();
            }
            else if (words[0] == "h")
            {
                histogram.Add((long.Parse(words[1], CultureInfo.InvariantCulture), long.Parse(words[2], CultureInfo.InvariantCulture)));
            }
            else if (words[0] == "end")
            {
                var size = int.Parse(words[2], CultureInfo.InvariantCulture);
                var count = histogram.Sum(h => h.Count);
                double At(double q)
                {
                    var rank = (long)Math.Ceiling(q * count);
                    long seen = 0;
                    foreach (var (value, n) in histogram)
                    {
                        seen += n;
                        if (seen >= rank)
                        {
                            return value / 2.0;
                        }
                    }

                    return histogram[^1].Value / 2.0;
                }

                yield return new LatencyResult("C shared memory (limit)", size, At(0.5), At(0.99), At(0.999), count);
            }
        }
    }

    /// <summary>
    /// Streams <paramref name="warmupBytes"/> and then <paramref name="total"/> bytes in writes of <paramref name="size"/>
    /// through one connection, <paramref name="runs"/> times (a new pair of processes each), and times the second part
    /// at the receiver: from its first message after the warm-up to its last.
    /// </summary>
    private static ThroughputResult Throughput(string transport, int size, long total, long warmupBytes, int runs)
    {
        var rates = new List<double>();
        var count = (int)(total / size);
        var warmup = (int)(warmupBytes / size);
        for (var run = 0; run < runs; run++)
        {
            using var session = Session.Start(transport, "throughput", size, count, warmup);
            for (var i = 0; i < warmup + count; i++)
            {
                session.Channel.SendProduced(size, i);
            }

            var done = session.Peer.WaitForLine("done ").Split(' ');
            var seconds = double.Parse(done[1], CultureInfo.InvariantCulture);
            if (ulong.Parse(done[2], CultureInfo.InvariantCulture) != Words.Expected(size, warmup + count))
            {
                throw new InvalidDataException($"{transport} delivered other bytes than were sent (checksum {done[2]})");
            }

            rates.Add((double)(count - 1) * size / seconds / (1 << 20));
        }

        Console.Error.WriteLine($"throughput {size} {transport}: {Median(rates):0} MiB/s");
        return new ThroughputResult(transport, size, Median(rates), rates);
    }

    private static LatencyResult Latency(string transport, int size, int samples, TimeSpan warmup)
    {
        using var session = Session.Start(transport, "latency", size, 0);
        session.Peer.ThrowIfExited();
        var message = new byte[size];
        var reply = new byte[size];
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < warmup)
        {
            session.Channel.Send(message);
            session.Channel.Receive(reply);
        }

        var ticks = new long[samples];
        for (var i = 0; i < samples; i++)
        {
            var start = Stopwatch.GetTimestamp();
            session.Channel.Send(message);
            session.Channel.Receive(reply);
            ticks[i] = Stopwatch.GetTimestamp() - start;
        }

        message[0] = 0xFF; // stop
        session.Channel.Send(message);
        session.Channel.Receive(reply);
        Array.Sort(ticks);
        double OneWay(double q) => ticks[Math.Min(ticks.Length - 1, (int)(q * ticks.Length))] * 1e9 / Stopwatch.Frequency / 2;
        var result = new LatencyResult(transport, size, OneWay(0.5), OneWay(0.99), OneWay(0.999), samples);
        Console.Error.WriteLine($"latency {size} {transport}: p50 {result.P50Ns:0} ns, p99 {result.P99Ns:0} ns");
        return result;
    }

    /// <summary>Runs a scenario; a transport that fails is reported as failed (with why), and the run goes on.</summary>
    private static T Guarded<T>(Func<T> scenario, Func<string, T> failed)
    {
        try
        {
            return scenario();
        }
        catch (Exception e) when (e is TimeoutException or IOException or InvalidDataException or System.Net.Sockets.SocketException or NetMQ.NetMQException or AggregateException)
        {
            var why = e.Message.Split('\n')[0];
            Console.Error.WriteLine($"failed: {why}");
            return failed(why);
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>A peer process and the coordinator's end of the channel to it.</summary>
    private sealed class Session : IDisposable
    {
        private readonly IDisposable? _pinned;

        private Session(PeerProcess peer, IChannel channel, string? root)
        {
            Peer = peer;
            Channel = channel;
            Root = root;
            _pinned = Pinning.PinThisThread(Pinning.Cpus?.Coordinator); // the channel's own threads are made: they stay free
        }

        public PeerProcess Peer { get; }

        public IChannel Channel { get; }

        private string? Root { get; }

        public static Session Start(string transport, string mode, int size, int count, int warmup = 0)
        {
            var root = Path.Combine("/dev/shm", $"imc-bench-{Environment.ProcessId}-{Guid.NewGuid():N}"[..36]);
            Directory.CreateDirectory(root);
            var spin = transport.EndsWith("-spin", StringComparison.Ordinal);
            var kind = transport.Replace("-spin", "", StringComparison.Ordinal);
            var peerArgs = new List<string>
            {
                kind, mode, size.ToString(CultureInfo.InvariantCulture), warmup.ToString(CultureInfo.InvariantCulture),
                count.ToString(CultureInfo.InvariantCulture), spin ? "spin" : "block", root,
            };
            switch (kind)
            {
                case "imc-stream":
                {
                    var peer = PeerProcess.Start([.. peerArgs, $"{s_slots}:{s_slotKib}"]);
                    var channel = new ImcChannel(root, coordinator: true, spin: mode == "latency", s_slots, s_slotKib);
                    peer.WaitForLine("ready");
                    return new Session(peer, channel, root);
                }

                case "uds":
                case "tcp":
                {
                    using var listener = kind == "uds"
                        ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                        : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    string endpoint;
                    if (kind == "uds")
                    {
                        endpoint = Path.Combine(root, "bench.sock");
                        listener.Bind(new UnixDomainSocketEndPoint(endpoint));
                    }
                    else
                    {
                        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                        endpoint = ((IPEndPoint)listener.LocalEndPoint!).Port.ToString(CultureInfo.InvariantCulture);
                    }

                    listener.Listen(1);
                    var peer = PeerProcess.Start([.. peerArgs, endpoint]);
                    var accepted = listener.AcceptAsync();
                    if (!accepted.Wait(TimeSpan.FromSeconds(30)))
                    {
                        throw new TimeoutException($"the {transport} peer did not connect\n{peer.Errors}");
                    }

                    peer.WaitForLine("ready");
                    return new Session(peer, new SocketChannel(accepted.Result, spin), root);
                }

                case "netmq-ipc":
                case "netmq-tcp":
                {
                    var address = kind == "netmq-ipc" ? $"ipc://imc-bench-{Guid.NewGuid():N}" : $"tcp://127.0.0.1:{FreePort()}";
                    var channel = new NetMqChannel(address, bind: true, size);
                    var peer = PeerProcess.Start([.. peerArgs, address]);
                    peer.WaitForLine("ready");
                    return new Session(peer, channel, root);
                }

                default:
                    throw new ArgumentException($"unknown transport {transport}", nameof(transport));
            }
        }

        public void Dispose()
        {
            _pinned?.Dispose();
            Peer.WaitForExit(TimeSpan.FromSeconds(60));
            Channel.Dispose();

            Peer.Dispose();
            if (Root is not null)
            {
                try
                {
                    Directory.Delete(Root, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }

        private static int FreePort()
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            return ((IPEndPoint)probe.LocalEndPoint!).Port;
        }
    }
}
