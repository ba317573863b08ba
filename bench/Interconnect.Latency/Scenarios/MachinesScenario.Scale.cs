using System.Diagnostics;
using System.Globalization;
using Interconnect.Latency.Reporting;
using Interconnect.Machines;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// The scale part (<c>--parts scale</c>, issue 23 item 8): for each of <c>--machine-counts</c>, a fresh cluster of that
/// many machines with an imcd each. After a settling pause, etcd's requests (<see cref="EtcdMetrics"/>) over an idle
/// window with imcd alone, then over one with an idle host (a process with its context open) on every machine; then
/// the host on each machine allocates and receive-attaches each of <c>--keys</c> keys, one after another, the creating
/// host rotating, timed as the attach part does, with etcd's requests counted over the measured keys. Each imcd's VmRSS
/// after the first idle window and again with every key attached.
/// </summary>
internal sealed partial class MachinesScenario
{
    public const string ScalePart = "scale";
    public const string ScaleGroup = "machines scale";
    public const string ScaleEtcdGroup = "machines scale etcd";
    public const string IdleAlone = "idle, imcd alone";
    public const string IdleHosts = "idle, a host per machine";
    public const string PerAttach = "per alloc+attach";
    public const string AllRequests = "all requests";
    public const string KeepAlive = "LeaseKeepAlive";
    public const string NotKeepAlive = "all but LeaseKeepAlive";
    public const string ImcdRss = "imcd VmRSS";
    public const string ImcdIdleCpu = "imcd CPU, idle";
    public const string PerMachineSecond = "requests/machine/s";
    public const string PerOperation = "requests/alloc+attach";

    // After the imcds (or the hosts) said ready: what their start set going has ended before a window opens.
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(3);

    private void RunScale(HarnessOptions options, List<Measurement> measurements, List<Figure> figures, List<string> notes)
    {
        foreach (var count in options.MachineCounts)
        {
            try
            {
                ScaleOnce(count, options, measurements, figures, notes);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                notes.Add($"**scale, {count} machines failed**: {e.GetType().Name}: {e.Message}");
                Console.Error.WriteLine($"  scale, {count} machines failed: {e.Message}");
            }
        }
    }

    private void ScaleOnce(int count, HarnessOptions options, List<Measurement> measurements, List<Figure> figures, List<string> notes)
    {
        var processes = new List<MachineProcess>();
        SimulatedCluster? cluster = null;
        var what = $"scale, {count} machines";
        try
        {
            var clock = Stopwatch.StartNew();
            cluster = SimulatedCluster.Create(count, s_clusterDeadline);
            var machines = cluster.Machines;
            var up = clock.Elapsed;
            var agents = machines.Select(m => StartImcd(m, processes)).ToList();
            notes.Add(Format.Invariant(
                $"{what}: machines and etcd up in {up.TotalSeconds:0.0} s, {count} imcd ready {(clock.Elapsed - up).TotalSeconds:0.0} s later (etcd {cluster.EtcdEndpoints}); load average {RunInfo.LoadAverage()}"));
            Console.Error.WriteLine(Format.Invariant($"  {Name}: {what} up, load {RunInfo.LoadAverage()}"));
            var etcd = new EtcdMetrics(machines[0], cluster.EtcdEndpoints);

            // (1) idle, imcd alone.
            Thread.Sleep(s_settle);
            Idle(IdleAlone);
            var rssIdle = agents.Select(a => ResidentMiB(a.Pid)).ToList();
            Record(ImcdRss, "idle", rssIdle, "MiB");

            // (2) idle, a host per machine (its context open, nothing asked).
            var hosts = machines.Select((m, i) => StartPeer(m, $"a{i + 1}", MachinesPeers.Attach, 0, processes)).ToList();
            hosts.ForEach(h => h.WaitFor("ready", s_ready));
            Thread.Sleep(s_settle);
            Idle(IdleHosts);

            // (3) allocate + receive attach on every machine, one after another, as the attach part does.
            var all = new Histogram();
            var first = new Histogram();
            var later = new Histogram();
            const int WarmupKeys = 5;
            Dictionary<string, double>? before = null;
            var wall = new Stopwatch();
            for (var k = 0; k < WarmupKeys + options.MachinesKeys; k++)
            {
                if (k == WarmupKeys)
                {
                    before = etcd.Read();
                    wall.Start();
                }

                var key = 5000 + k;
                for (var h = 0; h < hosts.Count; h++)
                {
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

            wall.Stop();
            var operations = options.MachinesKeys * hosts.Count;
            var attached = EtcdMetrics.Delta(before!, etcd.Read());
            Requests(PerAttach, attached, operations, PerOperation);
            notes.Add(Format.Invariant(
                $"{what}: {options.MachinesKeys} keys × {count} hosts ({operations} alloc+attach after {WarmupKeys} warm-up keys) in {wall.Elapsed.TotalSeconds:0.0} s; etcd counted: {Describe(attached)}"));
            measurements.Add(new Measurement(ScaleGroup, Transport, count, AllocAttach, all, 1));
            measurements.Add(new Measurement(ScaleGroup, Transport, count, AllocAttachFirst, first, 1));
            measurements.Add(new Measurement(ScaleGroup, Transport, count, AllocAttachLater, later, 1));
            Record(ImcdRss, "attached", [.. agents.Select(a => ResidentMiB(a.Pid))], "MiB");
            Console.Error.WriteLine(Format.Invariant(
                $"  {Name}: {what}: alloc+attach p50 {all.Quantile(0.5) / 1e6:0.00} ms, p99 {all.Quantile(0.99) / 1e6:0.00} ms; imcd VmRSS idle {rssIdle.Max():0.0} MiB at most; load {RunInfo.LoadAverage()}"));

            hosts.ForEach(h => h.Send("end"));
            hosts.ForEach(h => h.WaitExit(TimeSpan.FromSeconds(60)));
            foreach (var agent in agents)
            {
                agent.Stop(TimeSpan.FromSeconds(10));
            }

            // One idle window: etcd's requests per machine and second, and imcd's CPU over it.
            void Idle(string window)
            {
                var cpuBefore = agents.Select(a => a.CpuTime()).ToArray();
                var start = etcd.Read();
                var watch = Stopwatch.StartNew();
                Thread.Sleep(options.IdleWindow);
                var delta = EtcdMetrics.Delta(start, etcd.Read());
                var seconds = watch.Elapsed.TotalSeconds;
                var cpu = agents.Select((a, i) => (a.CpuTime() - cpuBefore[i]).TotalSeconds / seconds * 100).ToList();
                Requests(window, delta, count * seconds, PerMachineSecond);
                Record(ImcdIdleCpu, window, cpu, "% of a core");
                notes.Add(Format.Invariant(
                    $"{what}, {window}, {seconds:0.0} s: etcd counted: {Describe(delta)}; imcd CPU {string.Join(", ", cpu.Select(c => c.ToString("0.0", CultureInfo.InvariantCulture)))} % of a core"));
                Console.Error.WriteLine(Format.Invariant(
                    $"  {Name}: {what}, {window}: {Total(delta, _ => true) / count / seconds:0.00} requests/machine/s, of which not LeaseKeepAlive {Total(delta, m => m != KeepAlive) / count / seconds:0.00}"));
            }

            // The requests of a window by method, and their sums, each divided by `per`.
            void Requests(string window, Dictionary<string, double> delta, double per, string unit)
            {
                figures.Add(new Figure(ScaleEtcdGroup, Transport, count, $"{window}: {AllRequests}", Total(delta, _ => true) / per, unit));
                figures.Add(new Figure(ScaleEtcdGroup, Transport, count, $"{window}: {NotKeepAlive}", Total(delta, m => m != KeepAlive) / per, unit));
                foreach (var (key, value) in delta.Where(d => d.Key.StartsWith(EtcdMetrics.Request, StringComparison.Ordinal)))
                {
                    figures.Add(new Figure(ScaleEtcdGroup, Transport, count, $"{window}: {key[EtcdMetrics.Request.Length..]}", value / per, unit));
                }
            }

            // The median and the largest of one value per imcd.
            void Record(string transport, string when, IReadOnlyList<double> values, string unit)
            {
                var sorted = values.Order().ToArray();
                var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
                figures.Add(new Figure(ScaleGroup, transport, count, $"{when}, median", median, unit));
                figures.Add(new Figure(ScaleGroup, transport, count, $"{when}, max", sorted[^1], unit));
            }
        }
        finally
        {
            for (var i = processes.Count - 1; i >= 0; i--)
            {
                processes[i].Dispose();
            }

            cluster?.Dispose();
        }
    }

    /// <summary>The requests (messages clients sent) among <paramref name="delta"/> whose method passes <paramref name="method"/>.</summary>
    private static double Total(Dictionary<string, double> delta, Func<string, bool> method) =>
        delta.Where(d => d.Key.StartsWith(EtcdMetrics.Request, StringComparison.Ordinal) && method(d.Key[EtcdMetrics.Request.Length..]))
            .Sum(d => d.Value);

    private static string Describe(Dictionary<string, double> delta) =>
        delta.Count == 0 ? "nothing" : string.Join(", ", delta.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => Format.Invariant($"{d.Key} {d.Value:0}")));

    /// <summary>A process's resident set (VmRSS in /proc/PID/status), in MiB.</summary>
    private static double ResidentMiB(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kib = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                return kib / 1024.0;
            }
        }

        throw new InvalidOperationException($"/proc/{pid}/status has no VmRSS");
    }
}
