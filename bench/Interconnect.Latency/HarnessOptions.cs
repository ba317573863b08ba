using System.Globalization;
using Interconnect.Latency.Protocol;

namespace Interconnect.Latency;

/// <summary>
/// The harness's command line. Full run: 10 rounds of 300 ms per size; <c>--quick</c>: 3 rounds of 150 ms per size.
/// Many short rounds rather than a few long ones: a virtual machine's speed drifts between states for tens of seconds
/// (2-3x apart here), and the median of many interleaved rounds lets each scenario see each state about as often.
/// </summary>
internal sealed class HarnessOptions
{
    public const string Usage = """
        Interconnect latency harness: Imc ping-pong and broadcast between processes on emulated hosts, side by side
        with the C floor (native/), a Unix domain socket, TCP loopback and an anonymous pipe.

        usage: dotnet run -c Release --project bench/Interconnect.Latency -- [options]
          --quick             3 rounds of 150 ms per size (under 2 minutes); default: 10 rounds of 300 ms per size
          --rounds N          rounds (each runs every scenario once, in a rotating order)
          --duration-ms N     measured time per size (or receiver count) per round
          --warmup-ms N       least warm-up of each .NET process pair (it goes on until the JIT settles)
          --max-samples N     most samples per size per round
          --only a,b          only the scenarios whose name contains one of these words (e.g. imc,floor)
          --json PATH         where the JSON report goes (default: artifacts/latency/latency-<time>.json)
          --machines          instead: across machines (needs root): 2-3 simulated machines with an imcd each; Imc
                              8 B ping-pong and 64 KiB stream beside ucx_perftest ucp_am_lat / ucp_am_bw (the
                              anchors; ucp_put_lat / ucp_put_bw for reference), and
                              allocate + receive attach on 3 machines (default 2 rounds; about a minute a round)
          --progress MODES    with --machines: imcd's --progress, spin, wait or spin,wait (default spin,wait)
          --iterations N      with --machines: ping-pong samples and ucp_*_lat iterations (default 20000)
          --chunks N          with --machines: 64 KiB chunks per stream and ucp_*_bw iterations (default 2000)
          --keys N            with --machines: keys allocated and attached by each of the 3 hosts (default 50)
          --parts P           with --machines: which parts to run, of latency (ucp_am_lat, ucp_put_lat, raw UCX
                              and Imc ping-pong), stream (ucp_am_bw, ucp_put_bw, the Imc stream), attach (default
                              these three) and scale (only when named: see --machine-counts)
          --machine-counts N,N  with --parts scale: for each count a fresh cluster of that many machines, an imcd
                              each; etcd's requests (its /metrics) while idle, with imcd alone and then with an idle
                              host per machine, and per allocate + receive attach of --keys keys by a host on every
                              machine; each imcd's VmRSS (default 2,4,8)
          --idle-s N          with --parts scale: seconds of each idle window (default 15)
          --tiered-jit        with --machines: run imcd and the Imc hosts with the runtime's tiered JIT as it is; by
                              default they run with DOTNET_TieredCompilation=0 (steady-state code from the first
                              call: seven .NET processes warming up at once on a small machine measured the JIT)
          --ucx-env V;V       with --machines: UCX settings to compare, one scenario each per round: each V is
                              "default" (the environment as it is) or K=V pairs joined by commas, given to every
                              process on the machines (imcd, hosts, ucx_perftest); e.g. "default;UCX_TCP_TX_SEG_SIZE=8K"
          -h, --help          this text
        """;

    public bool Quick { get; private set; }

    public int Rounds { get; private set; } = 10;

    public TimeSpan PerParameter { get; private set; } = TimeSpan.FromMilliseconds(300);

    public TimeSpan Warmup { get; private set; } = TimeSpan.FromSeconds(1);

    /// <summary>The C floor has no JIT: its warm-up only faults the pages in and warms the caches.</summary>
    public TimeSpan FloorWarmup { get; } = TimeSpan.FromMilliseconds(200);

    public int MaxSamples { get; private set; } = 2_000_000;

    public IReadOnlyList<string> Only { get; private set; } = [];

    public string? JsonPath { get; private set; }

    /// <summary>The across-machines scenarios instead of the one-machine ones (issue 12).</summary>
    public bool Machines { get; private set; }

    public IReadOnlyList<string> Progress { get; private set; } = ["spin", "wait"];

    public int MachinesLatencyIterations { get; private set; } = 20_000;

    public int MachinesBandwidthIterations { get; private set; } = 2_000;

    public int MachinesKeys { get; private set; } = 50;

    /// <summary>With --machines: imcd and the Imc hosts keep the runtime's tiered JIT (else DOTNET_TieredCompilation=0).</summary>
    public bool MachinesTieredJit { get; private set; }

    /// <summary>With --machines: the parts of each round to run (latency, stream, attach).</summary>
    public IReadOnlySet<string> MachinesParts { get; private set; } = new HashSet<string>(["latency", "stream", "attach"]);

    /// <summary>With --parts scale: the machine counts, each on a fresh cluster, in the order given.</summary>
    public IReadOnlyList<int> MachineCounts { get; private set; } = [2, 4, 8];

    /// <summary>With --parts scale: the length of each idle window over which etcd's requests are counted.</summary>
    public TimeSpan IdleWindow { get; private set; } = TimeSpan.FromSeconds(15);

    /// <summary>With --machines: the UCX environments compared, "" for the environment as it is.</summary>
    public IReadOnlyList<string> UcxVariants { get; private set; } = [""];

    public bool Help { get; private set; }

    public string CommandLine { get; private set; } = "";

    public MeasurePlan Plan => new(Warmup, Warmup * 5, PerParameter, MaxSamples);

    public static HarnessOptions Parse(string[] args)
    {
        var options = new HarnessOptions
        {
            CommandLine = "dotnet run -c Release --project bench/Interconnect.Latency" + (args.Length > 0 ? " -- " + string.Join(' ', args) : ""),
        };
        if (args.Contains("--quick"))
        {
            options.Quick = true;
            options.Rounds = 3;
            options.PerParameter = TimeSpan.FromMilliseconds(150);
            options.MaxSamples = 500_000;
        }

        if (args.Contains("--machines"))
        {
            options.Machines = true;
            options.Rounds = 2;
        }

        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--quick":
                    break;
                case "--rounds":
                    options.Rounds = Positive(Value(), "--rounds");
                    break;
                case "--duration-ms":
                    options.PerParameter = TimeSpan.FromMilliseconds(Positive(Value(), "--duration-ms"));
                    break;
                case "--warmup-ms":
                    options.Warmup = TimeSpan.FromMilliseconds(Positive(Value(), "--warmup-ms"));
                    break;
                case "--max-samples":
                    options.MaxSamples = Positive(Value(), "--max-samples");
                    break;
                case "--only":
                    options.Only = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    break;
                case "--json":
                    options.JsonPath = Value();
                    break;
                case "--machines":
                    break;
                case "--progress":
                    options.Progress = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    if (options.Progress.Count == 0 || options.Progress.Any(p => p is not ("spin" or "wait")))
                    {
                        throw new ArgumentException("--progress takes spin, wait or spin,wait");
                    }

                    break;
                case "--iterations":
                    options.MachinesLatencyIterations = Positive(Value(), "--iterations");
                    break;
                case "--chunks":
                    options.MachinesBandwidthIterations = Positive(Value(), "--chunks");
                    break;
                case "--keys":
                    options.MachinesKeys = Positive(Value(), "--keys");
                    break;
                case "--tiered-jit":
                    options.MachinesTieredJit = true;
                    break;
                case "--parts":
                    var parts = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    if (parts.Length == 0 || parts.Any(p => p is not ("latency" or "stream" or "attach" or "scale")))
                    {
                        throw new ArgumentException("--parts takes latency, stream, attach and scale, joined by commas");
                    }

                    options.MachinesParts = new HashSet<string>(parts);
                    break;
                case "--machine-counts":
                    var counts = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    if (counts.Length == 0)
                    {
                        throw new ArgumentException("--machine-counts takes machine counts joined by commas, e.g. 2,4,8");
                    }

                    options.MachineCounts = [.. counts.Select(c => Positive(c, "--machine-counts") is var n and >= 2
                        ? n
                        : throw new ArgumentException($"--machine-counts: a cluster needs at least 2 machines, not {c}"))];
                    break;
                case "--idle-s":
                    options.IdleWindow = TimeSpan.FromSeconds(Positive(Value(), "--idle-s"));
                    break;
                case "--ucx-env":
                    var variants = Value().Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(v => v == "default" ? "" : v).ToArray();
                    if (variants.Length == 0 || variants.Any(v => v.Length > 0 &&
                        v.Split(',').Any(pair => pair.IndexOf('=', StringComparison.Ordinal) < 1)))
                    {
                        throw new ArgumentException("--ucx-env takes variants joined by ';', each 'default' or NAME=VALUE pairs joined by ','");
                    }

                    options.UcxVariants = variants;
                    break;
                case "-h" or "--help":
                    options.Help = true;
                    break;
                default:
                    throw new ArgumentException($"unknown option {args[i]} (see --help)");
            }
        }

        return options;
    }

    private static int Positive(string text, string option) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new ArgumentException($"{option} takes a positive whole number, not '{text}'");
}
