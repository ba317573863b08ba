using System.Diagnostics;
using System.Globalization;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Latency.Reporting;
using Interconnect.Machines;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// Across machines (issue 12, "Performance"): simulated machines (tests/Interconnect.Machines: network and mount
/// namespaces, etcd on a bridge, <c>UCX_TLS=tcp</c>), an imcd on each with <c>--progress</c> spin or wait. Per round,
/// on a fresh cluster: (1) ucx_perftest from machine 1 to machine 2, before any imcd runs (so its baseline has the CPUs
/// to itself): the anchors ucp_am_lat 8 B and ucp_am_bw 64 KiB (DESIGN.md: over tcp UCX's fastest primitive is the
/// active message), and ucp_put_lat / ucp_put_bw beside them for reference; (2) imcd on both; 8 B ping-pong through the Imc API between a
/// host on machine 1 and one on machine 2, then a 64 KiB stream machine 1 → machine 2; (3) a third machine and its
/// imcd; a host on each machine allocates and receive-attaches each of a series of keys, one after another, timed;
/// (4) only when asked (<c>--parts scale</c>), on clusters of its own: <c>MachinesScenario.Scale.cs</c>.
/// Everything runs inside the machines; the cluster is disposed (nothing left behind) whatever happens.
/// </summary>
internal sealed partial class MachinesScenario(string progress, string ucxVariant = "") : ILatencyScenario
{
    public const string PingPongGroup = "machines ping-pong";
    public const string StreamGroup = "machines stream";
    public const string DirectoryGroup = "machines directory";
    public const string Perftest = "ucx_perftest";
    public const string AmLat = "ucp_am_lat"; // the anchors (DESIGN.md "Across machines" -> "Performance")
    public const string AmBw = "ucp_am_bw";
    public const string PutLat = "ucp_put_lat"; // reference rows
    public const string PutBw = "ucp_put_bw";
    public const string Bandwidth = "bandwidth";
    public const string AllocAttach = "alloc+attach";
    public const string AllocAttachFirst = "alloc+attach, first (creates the key)";
    public const string AllocAttachLater = "alloc+attach, later (key exists)";
    public const string ImcdCpu = "imcd CPU";
    public const string WriteGroup = "machines write";
    public const string RawUcx = "raw UCX put through UcxEndpoint (.NET, no imcd)";

    private const string ClusterName = "xbench";

    // Whether imcd and the Imc hosts keep the runtime's tiered JIT. By default they run with it off: during the attach
    // part seven .NET processes share the 2 CPUs of the box this was measured on, and their first-call code and the
    // background recompilation of their hot methods took the CPU from every attach (p50 47-59 ms tiered against 14.5
    // ms with it off, the same afternoon). imcd as installed is NativeAOT, with no JIT at all.
    private bool _tieredJit;
    private const string ImcRoot = "/dev/shm/imc";
    private static readonly TimeSpan s_clusterDeadline = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan s_ready = TimeSpan.FromSeconds(120);
    private static int s_port = 14000 + (System.Environment.ProcessId % 1000 * 20);

    public string Name => $"machines (imcd --progress {progress}{VariantSuffix})";

    public string Transport => ImcTransport(progress) + VariantSuffix;

    /// <summary>ucx_perftest's row of a test: "ucx_perftest ucp_am_lat" for the environment as it is, else the variant after it.</summary>
    public static string PerftestRow(string test) => $"{Perftest} {test}";

    private string PerftestTransport(string test) => PerftestRow(test) + VariantSuffix;

    private string VariantSuffix => ucxVariant.Length == 0 ? "" : $" [{ucxVariant}]";

    public static string ImcTransport(string progress) => $"Imc, imcd {progress}";

    /// <summary>The variant's UCX settings, given to every process on the machines.</summary>
    private Dictionary<string, string?> UcxEnvironment()
    {
        var environment = new Dictionary<string, string?>();
        foreach (var pair in ucxVariant.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            environment[pair[..equals]] = pair[(equals + 1)..];
        }

        return environment;
    }

    /// <summary>
    /// ucx_perftest's environment: the variant's, plus the tcp segment sizes the driver uses unless told otherwise
    /// (<see cref="UcxContext.TcpSegmentDefaults"/>), so UCX's baseline runs with the same settings as Imc.
    /// </summary>
    private Dictionary<string, string?> PerftestEnvironment()
    {
        var environment = UcxEnvironment();
        var set = UcxContext.TcpSegmentDefaults.Any(d =>
            environment.ContainsKey(d.Key) || System.Environment.GetEnvironmentVariable(d.Key) is { Length: > 0 });
        if (!set)
        {
            foreach (var (variable, value) in UcxContext.TcpSegmentDefaults)
            {
                environment[variable] = value;
            }
        }

        return environment;
    }

    public ScenarioRun Run(RoundContext round)
    {
        var options = round.Options;
        _tieredJit = options.MachinesTieredJit;
        var measurements = new List<Measurement>();
        var figures = new List<Figure>();
        var notes = new List<string> { $"load average at start: {RunInfo.LoadAverage()}" };
        if (options.MachinesParts.Overlaps(["latency", "stream", "attach"]))
        {
            RunOnTwoAndThree(options, measurements, figures, notes);
        }

        if (options.MachinesParts.Contains(ScalePart))
        {
            RunScale(options, measurements, figures, notes);
        }

        return new ScenarioRun(Name, round.Round, measurements, notes, figures);
    }

    /// <summary>The latency, stream and attach parts, on one cluster of 2 machines (and a third for the attach).</summary>
    private void RunOnTwoAndThree(HarnessOptions options, List<Measurement> measurements, List<Figure> figures, List<string> notes)
    {
        var processes = new List<MachineProcess>();
        SimulatedCluster? cluster = null;
        try
        {
            var clock = Stopwatch.StartNew();
            cluster = SimulatedCluster.Create(2, s_clusterDeadline);
            var (m1, m2) = (cluster.Machines[0], cluster.Machines[1]);
            notes.Add(Format.Invariant($"2 machines and etcd up in {clock.Elapsed.TotalSeconds:0.0} s ({m1}, {m2}; etcd {cluster.EtcdEndpoints})"));

            // (1) UCX's own figures, between the same namespaces over the same transport, before any imcd spins.
            var parts = options.MachinesParts;
            var perftestEnvironment = PerftestEnvironment();
            var perftestSettings = string.Join(' ', perftestEnvironment.Select(e => $"{e.Key}={e.Value}"));
            notes.Add(_tieredJit
                ? "imcd and the Imc hosts with the runtime's tiered JIT (--tiered-jit)"
                : "imcd and the Imc hosts with DOTNET_TieredCompilation=0 (steady-state code from the first call)");
            notes.Add($"UCX settings: Imc processes {(ucxVariant.Length == 0 ? "as the environment is" : ucxVariant)} " +
                $"(the driver's tcp segments unless set: {string.Join(' ', UcxContext.TcpSegmentDefaults.Select(d => $"{d.Key}={d.Value}"))}); " +
                $"ucx_perftest {perftestSettings}");
            Console.Error.WriteLine($"  {Name}: ucx_perftest with {perftestSettings}");
            double? perftestBandwidth = null;
            Phase("ucx_perftest", () =>
            {
                foreach (var test in parts.Contains("latency") ? new[] { AmLat, PutLat } : [])
                {
                    var latency = UcxPerftest.Run(m1, m2, NextPort(), test, 8, options.MachinesLatencyIterations, perftestEnvironment);
                    figures.Add(new Figure(PingPongGroup, PerftestTransport(test), 8, "p50", latency.P50Us * 1000, "ns"));
                    figures.Add(new Figure(PingPongGroup, PerftestTransport(test), 8, "average", latency.AverageUs * 1000, "ns"));
                    notes.Add(Format.Invariant($"`{perftestSettings} {latency.Command}`: one-way p50 {latency.P50Us:0.000} µs, average {latency.AverageUs:0.000} µs"));
                }

                foreach (var test in parts.Contains("stream") ? new[] { AmBw, PutBw } : [])
                {
                    var bandwidth = UcxPerftest.Run(m1, m2, NextPort(), test, MachinesPeers.Chunk, options.MachinesBandwidthIterations, perftestEnvironment);
                    figures.Add(new Figure(StreamGroup, PerftestTransport(test), MachinesPeers.Chunk, Bandwidth, bandwidth.OverallGBs, "GB/s"));
                    if (test == AmBw)
                    {
                        perftestBandwidth = bandwidth.OverallGBs;
                    }

                    notes.Add(Format.Invariant(
                        $"`{perftestSettings} {bandwidth.Command}`: {bandwidth.BandwidthOverallMiBs:0.00} MB/s (2^20 B) = {bandwidth.OverallGBs:0.000} GB/s, overhead p50 {bandwidth.P50Us:0.000} µs; load average {RunInfo.LoadAverage()}"));
                }
            });

            // The profile: the same put ping-pong in .NET through the driver's UcxEndpoint, each side progressing itself.
            if (parts.Contains("latency"))
            {
                Phase("raw UCX ping-pong", () =>
                    measurements.Add(new Measurement(PingPongGroup, RawUcx + VariantSuffix, 8, Groups.OneWay, RawPingPong(m1, m2, options.MachinesLatencyIterations, processes), 0.5)));
            }

            // (2) imcd on both machines, then the Imc ping-pong and stream between a host on each.
            var agents = new List<MachineProcess> { StartImcd(m1, processes), StartImcd(m2, processes) };
            var peerParts = string.Join(',', parts.Where(p => p is "latency" or "stream"));
            Phase("Imc ping-pong and stream", () =>
            {
                if (peerParts.Length == 0)
                {
                    return;
                }

                var ping = StartPeer(m1, "alpha", MachinesPeers.Ping, 0, processes,
                    "--parts", peerParts,
                    "--sizes", "8",
                    "--samples", options.MachinesLatencyIterations.ToString(CultureInfo.InvariantCulture),
                    "--warmup-ms", ((int)options.Warmup.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
                    "--duration-ms", "20000",
                    "--chunks", options.MachinesBandwidthIterations.ToString(CultureInfo.InvariantCulture),
                    "--repeats", "3");
                ping.WaitFor("ready", s_ready);
                var echo = StartPeer(m2, "beta", MachinesPeers.Echo, 1, processes, "--parts", peerParts);
                echo.WaitFor("ready", s_ready);
                var cpuBefore = agents.Select(a => a.CpuTime()).ToArray();
                var wall = Stopwatch.StartNew();
                var load = RunInfo.LoadAverage();
                ping.Send("go");
                var histogram = new Histogram();
                var writeCost = new Histogram();
                var streams = new List<double>();
                var streamParts = new List<string>();
                string? line;
                while ((line = ping.ReadLine(TimeSpan.FromMinutes(3))) is not null)
                {
                    var fields = line.Split(' ');
                    switch (fields[0])
                    {
                        case "bucket":
                            histogram.Record(Long(fields[2]), Long(fields[3]));
                            break;
                        case "write":
                            writeCost.Record(Long(fields[2]), Long(fields[3]));
                            break;
                        case "warmup":
                            notes.Add($"ping-pong warm-up {fields[1]} ms; methods compiled while measuring: ping side {fields[2]}");
                            break;
                        case "stream":
                            streams.Add(Long(fields[1]) / (double)Long(fields[2])); // bytes per ns = GB/s
                            break;
                        case "streamparts":
                            streamParts.Add(Format.Invariant(
                                $"chunk writes {Long(fields[1]) / 1e6:0} ms, head writes {Long(fields[2]) / 1e6:0} ms, waits for credit {Long(fields[3]) / 1e6:0} ms"));
                            break;
                        case "streamucx":
                            streamParts.Add(Format.Invariant(
                                $"{Long(fields[1])} puts, {Long(fields[2])} not complete at once, waited {Long(fields[3]) / 1e6:0} ms"));
                            break;
                        case "jit":
                            break;
                        default:
                            notes.Add($"ping side said: {line}");
                            break;
                    }
                }

                ping.WaitExit(TimeSpan.FromSeconds(30));
                echo.WaitExit(TimeSpan.FromSeconds(30));
                var seconds = wall.Elapsed.TotalSeconds;
                var cpu = agents.Select((a, i) => (a.CpuTime() - cpuBefore[i]).TotalSeconds / seconds).ToArray();
                notes.Add(Format.Invariant(
                    $"during ping-pong and stream ({seconds:0.0} s): imcd CPU m1 {cpu[0] * 100:0}%, m2 {cpu[1] * 100:0}% of a core; load average at its start: {load}, at its end: {RunInfo.LoadAverage()}"));
                figures.Add(new Figure(StreamGroup, ImcdCpu + VariantSuffix, 1, "m1", cpu[0] * 100, "% of a core"));
                figures.Add(new Figure(StreamGroup, ImcdCpu + VariantSuffix, 2, "m2", cpu[1] * 100, "% of a core"));
                if (histogram.Count > 0)
                {
                    measurements.Add(new Measurement(PingPongGroup, Transport, 8, Groups.OneWay, histogram, 0.5));
                    measurements.Add(new Measurement(WriteGroup, Transport, 8, Groups.Write, writeCost, 1));
                }

                if (streams.Count > 0)
                {
                    var median = streams.Order().ElementAt(streams.Count / 2);
                    figures.Add(new Figure(StreamGroup, Transport, MachinesPeers.Chunk, Bandwidth, median, "GB/s"));
                    notes.Add("Imc 64 KiB stream, " + options.MachinesBandwidthIterations + " chunks per run: " +
                        string.Join(", ", streams.Select(s => Format.Invariant($"{s:0.000}"))) + " GB/s" +
                        (perftestBandwidth is { } baseline ? Format.Invariant($"; median {median / baseline:0.00}× of ucp_am_bw this round") : "") +
                        "; the writer's time per run: " + string.Join("; ", streamParts));
                    Console.Error.WriteLine(Format.Invariant(
                        $"  {Name}: Imc stream {string.Join(", ", streams.Select(s => Format.Invariant($"{s:0.000}")))} GB/s, ucp_am_bw {perftestBandwidth:0.000} GB/s, imcd CPU {cpu[0] * 100:0}% / {cpu[1] * 100:0}%, load {RunInfo.LoadAverage()}; writer: {string.Join("; ", streamParts)}"));
                }
            });

            // (3) a third machine; a host on each machine allocates and receive-attaches every key, one after another.
            Phase("alloc+attach", () =>
            {
                if (!parts.Contains("attach"))
                {
                    return;
                }

                var m3 = cluster.AddMachine();
                agents.Add(StartImcd(m3, processes));
                var hosts = new[] { (m1, "a1"), (m2, "a2"), (m3, "a3") }
                    .Select(h => StartPeer(h.Item1, h.Item2, MachinesPeers.Attach, 0, processes))
                    .ToList();
                hosts.ForEach(h => h.WaitFor("ready", s_ready));
                var all = new Histogram();
                var first = new Histogram();
                var later = new Histogram();
                const int WarmupKeys = 5;
                for (var k = 0; k < WarmupKeys + options.MachinesKeys; k++)
                {
                    var key = 5000 + k;
                    for (var h = 0; h < hosts.Count; h++)
                    {
                        // The first host of each key rotates, so each machine creates a third of them.
                        var host = hosts[(h + k) % hosts.Count];
                        host.Send(FormattableString.Invariant($"key {key}"));
                        var took = Long(host.WaitFor("took ", TimeSpan.FromMinutes(1))["took ".Length..]);
                        if (k >= WarmupKeys)
                        {
                            all.Record(took);
                            (h == 0 ? first : later).Record(took);
                        }
                    }
                }

                hosts.ForEach(h => h.Send("end"));
                hosts.ForEach(h => h.WaitExit(TimeSpan.FromSeconds(60)));
                measurements.Add(new Measurement(DirectoryGroup, Transport, 3, AllocAttach, all, 1));
                measurements.Add(new Measurement(DirectoryGroup, Transport, 3, AllocAttachFirst, first, 1));
                measurements.Add(new Measurement(DirectoryGroup, Transport, 3, AllocAttachLater, later, 1));
                notes.Add(Format.Invariant($"alloc+attach: {options.MachinesKeys} keys × 3 hosts (after {WarmupKeys} warm-up keys), one after another; the creating host rotates"));
            });
            foreach (var agent in agents)
            {
                agent.Stop(TimeSpan.FromSeconds(10));
            }
        }
        finally
        {
            for (var i = processes.Count - 1; i >= 0; i--)
            {
                processes[i].Dispose();
            }

            cluster?.Dispose();
            notes.Add($"load average at end: {RunInfo.LoadAverage()}");
        }

        // One part of the round: its failure is reported in the notes and the other parts still run and report.
        void Phase(string name, Action action)
        {
            try
            {
                action();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                notes.Add($"**{name} failed**: {e.GetType().Name}: {e.Message}");
                Console.Error.WriteLine($"  {name} failed: {e.Message}");
            }
        }
    }

    /// <summary>The raw UCX put ping-pong (<see cref="RawUcxPeers"/>) between a process on each machine.</summary>
    private Histogram RawPingPong(SimulatedMachine m1, SimulatedMachine m2, int samples, List<MachineProcess> processes)
    {
        var ping = StartPeer(m1, "raw", RawUcxPeers.Ping, 0, processes, "--samples", samples.ToString(CultureInfo.InvariantCulture));
        var echo = StartPeer(m2, "raw", RawUcxPeers.Echo, 1, processes);
        var pingMe = ping.WaitFor("me ", s_ready);
        var echoMe = echo.WaitFor("me ", s_ready);
        echo.Send("peer" + pingMe[2..]);
        ping.Send("peer" + echoMe[2..]);
        echo.WaitFor("ready", s_ready);
        var histogram = new Histogram();
        string? line;
        while ((line = ping.ReadLine(TimeSpan.FromMinutes(3))) is not null)
        {
            var fields = line.Split(' ');
            if (fields[0] == "bucket")
            {
                histogram.Record(Long(fields[2]), Long(fields[3]));
            }
        }

        ping.WaitExit(TimeSpan.FromSeconds(30));
        echo.WaitExit(TimeSpan.FromSeconds(30));
        return histogram;
    }

    private static int NextPort() => Interlocked.Increment(ref s_port);

    private static long Long(string text) => long.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture);

    private Dictionary<string, string?> ImcEnvironment(string? host)
    {
        var environment = UcxEnvironment();
        environment["IMC_ROOT"] = ImcRoot;
        environment["IMC_CLUSTER"] = ClusterName;
        environment["IMC_HOST"] = host;
        environment["IMC_AUTO_INIT"] = host is null ? null : "1";
        environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        environment["DOTNET_TieredCompilation"] = _tieredJit ? null : "0";
        return environment;
    }

    private MachineProcess StartImcd(SimulatedMachine machine, List<MachineProcess> processes)
    {
        var imcd = Path.Combine(AppContext.BaseDirectory, "imcd.dll");
        var agent = MachineProcess.Start(machine, "imcd", "dotnet", [imcd, "--progress", progress], ImcEnvironment(null), stderrIsOutput: true);
        processes.Add(agent);
        _ = agent.WaitFor("imcd: ready", s_ready);
        return agent;
    }

    private MachineProcess StartPeer(SimulatedMachine machine, string host, string role, int cpu, List<MachineProcess> processes,
        params string[] arguments)
    {
        string[] args =
        [
            typeof(MachinesScenario).Assembly.Location, "--peer", role, "--cpu", cpu.ToString(CultureInfo.InvariantCulture),
            "--root", ImcRoot, "--cluster", ClusterName, "--host", host, .. arguments,
        ];
        var peer = MachineProcess.Start(machine, $"{role} ({host})", "dotnet", args, ImcEnvironment(host));
        processes.Add(peer);
        return peer;
    }
}
