using System.Globalization;
using Interconnect.Driver;
using Interconnect.Driver.Store;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>
/// Crash consistency: processes killed at random moments while they allocate, attach, write, lock and detach never
/// leave the cluster inconsistent, never stop the others, and never change data already delivered to a live receiver.
/// </summary>
public sealed class CrashTests
{
    private static readonly string[] s_hosts = ["alpha", "beta", "gamma", "delta"];
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() =>
        _cluster = TemporaryCluster.Create(new ClusterConfiguration { MaxAllocBytes = 64 << 20, MaxRecvBytes = 64 << 20 }, s_hosts);

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    [Test]
    public void ShouldStayConsistentThroughThreeHundredRandomKills()
    {
        const int Rounds = 300;
        var random = new Random(20261122);
        using var sentinelWriter = _cluster.Open("alpha");
        using var sentinelReader = _cluster.Open("beta");
        using var sentinel = sentinelWriter.AllocateRegion(50, 16384);
        using var sentinelRx = sentinelReader.AllocateRegion(50, 16384);
        using var delivered = sentinelRx.AttachReceive();
        using (var tx = sentinel.AttachTransmit())
        {
            for (var i = 0; i < 2048; i++)
            {
                tx.Write(8L * i, (ulong)(i * 2654435761L));
            }
        }

        var expected = delivered.AsSpan(0, 16384).ToArray();
        var peers = new List<PeerProcess>();
        var reports = new ChurnReports();
        // The directory lock's recoveries: one exactly when a process took the lock over from a dead holder.
        using var directory = Cluster.Open(_cluster.Paths, ControlAccess.Read);
        int Recoveries() => Volatile.Read(ref directory.Control.Header.Recoveries);
        var killedInside = 0;
        var hostList = string.Join(',', s_hosts);
        PeerProcess StartChurner(int round)
        {
            var peer = _cluster.StartPeer(s_hosts[round % s_hosts.Length]);
            peer.Send("alloc 50 16384");
            peer.Send("rx 50"); // a churner on beta shares the sentinel's receive memory: its death must not disturb it
            Assert.That(peer.Send($"churn {round} {hostList}"), Is.EqualTo("churning"));
            return peer;
        }

        for (var i = 0; i < 3; i++)
        {
            peers.Add(StartChurner(i));
        }

        var kills = 0;
        for (var round = 0; round < Rounds; round++)
        {
            Thread.Sleep(random.Next(0, 25));
            var victim = random.Next(peers.Count);
            var recoveriesBefore = Recoveries(); // the last round's probe took over any lock its victim held
            peers[victim].Kill();
            reports.Collect(peers[victim]);
            peers[victim].Dispose();
            kills++;
            foreach (var survivor in peers.Where((_, i) => i != victim))
            {
                Assert.That(survivor.HasExited, Is.False, $"round {round}: a surviving churner stopped: {survivor.Errors}");
            }

            using (var probe = _cluster.Open("gamma"))
            {
                // Opening a context is a directory operation: it reclaims what the killed process held.
            }

            // Whoever entered the directory since the kill (the probe at the latest) took the lock over from the victim
            // exactly when the victim died holding it.
            var recovered = Recoveries() - recoveriesBefore;
            Assert.That(recovered, Is.InRange(0, 1), $"round {round}: one victim, one recovery at most");
            killedInside += recovered;

            var report = CheckWhileStopped(peers.Where((_, i) => i != victim).ToList());
            Assert.That(report.Violations, Is.Empty, $"round {round}");
            Assert.That(delivered.AsSpan(0, 16384).SequenceEqual(expected), Is.True, $"round {round}: delivered data changed");
            if (round % 100 == 99)
            {
                // The command itself, once in a while, with the churners standing still (exit 4: caught mid-change).
                var survivors = peers.Where((_, i) => i != victim).ToList();
                var imcs = Poll.Until(() =>
                    {
                        survivors.ForEach(p => Signals.Send(p.Pid, Signals.Stop));
                        try
                        {
                            // Only with the directory free: a churner stopped inside a directory operation holds its
                            // lock, and imcs would wait for it in vain; let the churners run a little and try again.
                            return ClusterAdmin.Check(_cluster.Paths, TimeSpan.FromMilliseconds(50)).Busy
                                ? null
                                : Command.Run("imcs", _cluster.Root, TemporaryCluster.ClusterName, "--check");
                        }
                        finally
                        {
                            survivors.ForEach(p => Signals.Send(p.Pid, Signals.Continue));
                        }
                    }, r => r is not null && r.ExitCode != 4, $"round {round}: imcs --check to find the directory free");

                Assert.That(imcs!.ExitCode, Is.Zero, imcs.Output);
            }

            peers[victim] = StartChurner(round + 3);
        }

        foreach (var peer in peers)
        {
            peer.Kill();
            reports.Collect(peer);
        }

        using (_cluster.Open("delta"))
        {
        }

        Assert.That(kills, Is.EqualTo(Rounds));
        Assert.That(ClusterAdmin.Check(_cluster.Paths).Violations, Is.Empty);
        var status = ClusterAdmin.ReadStatus(_cluster.Paths);
        Assert.That(status.Regions.Select(r => r.Key), Is.EqualTo(new[] { 50 }), "only the sentinel survives its killers");
        Assert.That(status.LockSets, Is.Empty);
        TestContext.Out.WriteLine($"{kills} kills survived, {killedInside} inside a directory operation; {reports}");
        Assert.That(reports.Churners, Is.EqualTo(Rounds + 3), "every churner's output was read");
        Assert.That(reports.Failures, Is.Zero, $"churners read words nobody wrote: {reports.FirstFailure}");
        Assert.That(reports.Reads, Is.GreaterThan(10_000), "the churners checked what they read");
        Assert.That(reports.Written, Is.GreaterThan(1_000), "the churners read words that were written, not only zeros");
        Assert.That(killedInside, Is.GreaterThan(0), "no kill landed inside a directory operation");
    }

    /// <summary>
    /// What the churners reported as they went ("report ... reads=N failures=M first_failure=..."): each report holds a
    /// churner's counts so far, so its last one counts.
    /// </summary>
    private sealed class ChurnReports
    {
        public int Churners { get; private set; }

        public long Reads { get; private set; }

        public long Written { get; private set; }

        public long Failures { get; private set; }

        public string? FirstFailure { get; private set; }

        /// <summary>Reads everything a killed churner printed, to the end of its output.</summary>
        public void Collect(PeerProcess killed)
        {
            Dictionary<string, string>? last = null;
            while (killed.TryReceive(out var reply, TimeSpan.FromSeconds(10)))
            {
                if (reply!.Ok && reply.Text.StartsWith("report ", StringComparison.Ordinal))
                {
                    last = reply.Text.Split(' ').Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1]);
                }
            }

            Churners++;
            if (last is not null)
            {
                Reads += long.Parse(last["reads"], CultureInfo.InvariantCulture);
                Written += long.Parse(last["written"], CultureInfo.InvariantCulture);
                Failures += long.Parse(last["failures"], CultureInfo.InvariantCulture);
                FirstFailure ??= last["first_failure"] == "none" ? null : last["first_failure"];
            }
        }

        public override string ToString() => $"{Churners} churners checked {Reads} reads ({Written} of written words), {Failures} failures";
    }

    /// <summary>
    /// Checks the cluster while its churners stand still (SIGSTOP): a running churner changes the directory too often
    /// for a consistent reading. One stopped while holding the directory lock is let run a moment, and stopped again.
    /// </summary>
    private Driver.Status.CheckReport CheckWhileStopped(List<PeerProcess> churners)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            churners.ForEach(p => Signals.Send(p.Pid, Signals.Stop));
            var report = ClusterAdmin.Check(_cluster.Paths, TimeSpan.FromMilliseconds(50));
            churners.ForEach(p => Signals.Send(p.Pid, Signals.Continue));
            if (!report.Busy)
            {
                return report;
            }

            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "never found the directory free");
            Thread.Sleep(2);
        }
    }

    [Test]
    public void ShouldKeepEveryFigureExactAfterAStormOfEightProcessesOnFourHosts()
    {
        const int Operations = 2000;
        var peers = Enumerable.Range(0, 8).Select(i => _cluster.StartPeer(s_hosts[i % 4])).ToArray();
        var hostList = string.Join(',', s_hosts);

        for (var i = 0; i < peers.Length; i++)
        {
            peers[i].Post($"storm {1000 + i} {Operations} {hostList}");
        }

        long total = 0;
        foreach (var peer in peers)
        {
            var reply = peer.Receive("storm", TimeSpan.FromMinutes(5));
            Assert.That(reply.Ok, Is.True, reply.Text);
            var fields = reply.Text.Split(' ').Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1]);
            Assert.That(fields["unexpected"], Is.EqualTo("0"), reply.Text);
            Assert.That(fields["failures"], Is.EqualTo("0"), reply.Text);
            total += long.Parse(fields["ops"], CultureInfo.InvariantCulture);
        }

        var report = ClusterAdmin.Check(_cluster.Paths);
        var status = ClusterAdmin.ReadStatus(_cluster.Paths);
        Assert.That(total, Is.EqualTo(8L * Operations));
        Assert.That(report.Violations, Is.Empty);
        Assert.That(report.AwaitingReclamation, Is.Empty);
        Assert.That(status.Regions, Is.Empty, "every peer released everything: " + string.Join("; ", status.Regions.Select(r =>
            $"key {r.Key}: alloc [{string.Join(',', r.Allocations)}] tx [{string.Join(',', r.Transmit)}] rx [{string.Join(',', r.Receive)}]")));
        Assert.That(status.LockSets, Is.Empty);
        Assert.That(status.AllocatedBytes, Is.Zero);
        Assert.That(status.Hosts.Select(h => h.ReceiveUsedBytes), Is.All.Zero);
        Assert.That(_cluster.ReceiveFiles(), Is.Empty);
    }
}
