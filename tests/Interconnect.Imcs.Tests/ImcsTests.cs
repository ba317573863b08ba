using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Interconnect.Driver;
using Interconnect.Imc;
using Interconnect.Testing;

namespace Interconnect.Imcs.Tests;

/// <summary>imcs as people and scripts use it, on a cluster the test builds.</summary>
public sealed partial class ImcsTests
{
    private TemporaryCluster _cluster = null!;
    private readonly List<IDisposable> _held = [];

    [SetUp]
    public void SetUp() =>
        _cluster = TemporaryCluster.Create(new ClusterConfiguration { PhysicalRails = 2, MaxAllocBytes = 20 << 20 }, "alpha", "beta", "gamma");

    [TearDown]
    public void TearDown()
    {
        foreach (var held in Enumerable.Reverse(_held))
        {
            held.Dispose();
        }

        _cluster.Dispose();
    }

    private CommandResult Imcs(params string[] args) => Command.Run("imcs", _cluster.Root, TemporaryCluster.ClusterName, args);

    private T Hold<T>(T disposable)
        where T : IDisposable
    {
        _held.Add(disposable);
        return disposable;
    }

    /// <summary>Hosts, every attach kind, a coherent region, a lock set with a held lock, a failed rail.</summary>
    private void BuildCluster()
    {
        var alpha = Hold(_cluster.Open("alpha"));
        var beta = Hold(_cluster.Open("beta"));
        var gamma = Hold(_cluster.Open("gamma"));
        var broadcast = Hold(alpha.AllocateRegion(100, 8192));
        Hold(broadcast.AttachTransmit(flags: ImcAttachFlags.Loopback));
        Hold(broadcast.AttachReceive());
        Hold(Hold(beta.AllocateRegion(100, 8192)).AttachReceive());
        var pointToPoint = Hold(beta.AllocateRegion(101, 65536, ImcPermissions.UserReadWrite | ImcPermissions.GroupRead));
        Hold(pointToPoint.AttachTransmitTo("gamma"));
        Hold(Hold(gamma.AllocateRegion(101, 65536)).AttachReceive(ImcShareMode.NonShared));
        Hold(Hold(gamma.AllocateRegion(102, 1 << 20, ImcPermissions.UserReadWrite, ImcRegionFlags.Coherent, logicalRail: 1))
            .AttachTransmit());
        var locks = Hold(alpha.AllocateLockSet(456, 4, ImcLockPermissions.User | ImcLockPermissions.Group));
        Hold(beta.AllocateLockSet(456, 4));
        locks.Acquire(2);
        ImcControl.FailRail(1, _cluster.ControlOptions);
    }

    private string Normalise(string output) =>
        PidPattern().Replace(output.Replace(_cluster.Paths.ClusterDirectory, "<cluster>", StringComparison.Ordinal), "/<pid>")
            .Replace(Environment.ProcessId.ToString(CultureInfo.InvariantCulture), "<pid>", StringComparison.Ordinal);

    [GeneratedRegex(@"/\d+")]
    private static partial Regex PidPattern();

    [GeneratedRegex(" {2,}")]
    private static partial Regex SpaceRuns();

    private static string FoldSpaces(string text) => SpaceRuns().Replace(text, "  ");

    private static string Golden(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Golden", name));

    [TestCase("full.txt", "-f")]
    [TestCase("default.txt")]
    [TestCase("statistics.txt", "-s")]
    public void ShouldPrintTheDocumentedLayout(string golden, params string[] args)
    {
        BuildCluster();

        var result = Imcs(args);

        Assert.That(result.ExitCode, Is.Zero, result.Error);
        // Pids differ in width from run to run, and the columns widen with them: compare with runs of spaces
        // folded, and check the alignment itself on the regions table.
        Assert.That(FoldSpaces(Normalise(result.Output)), Is.EqualTo(FoldSpaces(Golden(golden))));
        var lines = result.Output.Split('\n');
        var header = Array.FindIndex(lines, l => l.StartsWith("TYPE  ID  KEY", StringComparison.Ordinal));
        if (header >= 0)
        {
            Assert.That(lines[header + 1].IndexOf("100", StringComparison.Ordinal), Is.EqualTo(lines[header].IndexOf("KEY", StringComparison.Ordinal)));
            Assert.That(lines[header + 1].IndexOf("rw-------", StringComparison.Ordinal), Is.EqualTo(lines[header].IndexOf("MODE", StringComparison.Ordinal)));
        }
    }

    [Test]
    public void ShouldDescribeTheClusterInJsonFieldByField()
    {
        BuildCluster();

        var result = Imcs("--json");

        Assert.That(result.ExitCode, Is.Zero, result.Error);
        using var json = JsonDocument.Parse(result.Output);
        var root = json.RootElement;
        Assert.That(root.GetProperty("cluster").GetString(), Is.EqualTo(TemporaryCluster.ClusterName));
        Assert.That(root.GetProperty("maxAllocBytes").GetInt64(), Is.EqualTo(20L << 20));
        Assert.That(root.GetProperty("logicalRails").GetInt32(), Is.EqualTo(2));
        Assert.That(root.GetProperty("hosts").EnumerateArray().Select(h => h.GetProperty("name").GetString()),
            Is.EqualTo(new[] { "alpha", "beta", "gamma" }));
        var regions = root.GetProperty("regions").EnumerateArray().ToDictionary(r => r.GetProperty("key").GetInt32());
        Assert.That(regions.Keys, Is.EquivalentTo(new[] { 100, 101, 102 }));
        Assert.That(regions[100].GetProperty("size").GetInt64(), Is.EqualTo(8192));
        Assert.That(regions[100].GetProperty("mode").GetString(), Is.EqualTo("rw-------"));
        Assert.That(regions[100].GetProperty("transmit")[0].GetProperty("loopback").GetBoolean(), Is.True);
        Assert.That(regions[100].GetProperty("receive").EnumerateArray().Select(a => a.GetProperty("host").GetString()),
            Is.EquivalentTo(new[] { "alpha", "beta" }));
        Assert.That(regions[101].GetProperty("mode").GetString(), Is.EqualTo("rw-r-----"));
        Assert.That(regions[101].GetProperty("transmit")[0].GetProperty("target").GetString(), Is.EqualTo("gamma"));
        Assert.That(regions[101].GetProperty("receive")[0].GetProperty("nonShared").GetBoolean(), Is.True);
        Assert.That(regions[102].GetProperty("coherent").GetBoolean(), Is.True);
        Assert.That(regions[102].GetProperty("logicalRail").GetInt32(), Is.EqualTo(1));
        var lockSet = root.GetProperty("lockSets")[0];
        Assert.That(lockSet.GetProperty("key").GetInt32(), Is.EqualTo(456));
        Assert.That(lockSet.GetProperty("count").GetInt32(), Is.EqualTo(4));
        Assert.That(lockSet.GetProperty("mode").GetString(), Is.EqualTo("user,group"));
        Assert.That(lockSet.GetProperty("users").GetArrayLength(), Is.EqualTo(2));
        Assert.That(lockSet.GetProperty("held")[0].GetProperty("index").GetInt32(), Is.EqualTo(2));
        Assert.That(lockSet.GetProperty("held")[0].GetProperty("pid").GetInt32(), Is.EqualTo(Environment.ProcessId));
        var rails = root.GetProperty("rails");
        Assert.That(rails.GetProperty("logical")[1].GetProperty("down").GetBoolean(), Is.True);
        Assert.That(rails.GetProperty("physical")[1].GetProperty("failed").GetBoolean(), Is.True);
        Assert.That(root.GetProperty("allocatedBytes").GetInt64(), Is.EqualTo(8192 + 65536 + (1 << 20)));
    }

    [Test]
    public void ShouldNeverBlockOrMiscountWritersStreamingAtFullSpeed()
    {
        const int Messages = 2_000_000;
        var writers = new[] { _cluster.StartPeer("alpha"), _cluster.StartPeer("beta") };
        var reader = _cluster.StartPeer("gamma");
        foreach (var (peer, key) in new[] { (writers[0], 1), (writers[1], 2), (reader, 1), (reader, 2) })
        {
            peer.Send($"alloc {key} 8192");
        }

        reader.Send("rx 1");
        reader.Send("rx 2");
        writers[0].Send("tx 1");
        writers[1].Send("tx 2");

        writers[0].Post($"stream-write 1 {Messages}");
        writers[1].Post($"stream-write 2 {Messages}");
        var views = 0;
        var midway = 0;
        PeerReply? first = null;
        PeerReply? second = null;
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while ((first is null || second is null) && DateTime.UtcNow < deadline)
        {
            var result = Imcs("--json");
            Assert.That(result.ExitCode, Is.Zero, result.Error);
            using var json = JsonDocument.Parse(result.Output);
            var writes = json.RootElement.GetProperty("rails").GetProperty("logical")[0].GetProperty("writes").GetInt64();
            views++;
            midway += writes is > 0 and < 4L * Messages ? 1 : 0;
            if (first is null && writers[0].TryReceive(out var a, TimeSpan.Zero))
            {
                first = a;
            }

            if (second is null && writers[1].TryReceive(out var b, TimeSpan.Zero))
            {
                second = b;
            }
        }

        Assert.That(first?.Ok, Is.True, first?.Text);
        Assert.That(second?.Ok, Is.True, second?.Text);
        TestContext.Out.WriteLine($"{views} views, {midway} taken mid-stream");
        Assert.That(midway, Is.GreaterThan(0), "imcs ran while the writers streamed");
        var rails = ClusterAdmin.ReadRails(_cluster.Paths);
        Assert.That(rails.Logical[0].Writes, Is.EqualTo(4L * Messages), "each message is a payload write and a flag write");
        Assert.That(rails.Logical[0].Drops, Is.Zero);
    }

    [Test]
    public void ShouldSayHowToCreateAClusterWhenThereIsNone()
    {
        var result = Command.Run("imcs", _cluster.Root, "absent");

        Assert.That(result.ExitCode, Is.EqualTo(3));
        Assert.That(result.Error, Does.Contain("no cluster 'absent'").And.Contain("imc_init --host"));
    }

    [Test]
    public void ShouldShowWhatADeadProcessStillHolds()
    {
        var peer = _cluster.StartPeer("beta");
        peer.Send("alloc 7 8192");
        peer.Send("rx 7");
        var pid = peer.Pid;
        peer.Kill();

        var result = Imcs("-r", "-m");
        var check = Imcs("--check");

        Assert.That(result.Output, Does.Contain($"beta/{pid}(dead)"));
        Assert.That(check.ExitCode, Is.Zero, check.Output);
        Assert.That(check.Output, Does.Contain($"awaiting reclamation: process {pid}"));
    }

    [Test]
    public void ShouldRedrawWithRatesWhenWatching()
    {
        BuildCluster();

        var result = Imcs("--watch", "0.1", "--iterations", "3");

        Assert.That(result.ExitCode, Is.Zero, result.Error);
        Assert.That(Regex.Count(result.Output, "imcs --watch 0.1"), Is.EqualTo(3));
        Assert.That(result.Output, Does.Contain("WRITES/S").And.Contain("MB/S"));
    }

    [TestCase("--bogus")]
    [TestCase("--watch", "soon")]
    [TestCase("--watch", "0")]
    public void ShouldExitTwoWithOneLineOnBadUsage(params string[] arguments)
    {
        BuildCluster();

        var result = Imcs(arguments);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.Output + result.Error);
        Assert.That(result.Error, Does.StartWith("imcs: "), result.Error);
        Assert.That(result.Output, Is.Empty, "nothing shown: the command line was refused");
    }

    [Test]
    public void ShouldChangeNothingInTheCluster()
    {
        BuildCluster();
        var before = File.ReadAllBytes(_cluster.Paths.ControlFile);

        foreach (var args in new[] { new[] { "-f" }, ["--json"], ["--check"], ["-s"] })
        {
            Assert.That(Imcs(args).ExitCode, Is.Zero);
        }

        Assert.That(File.ReadAllBytes(_cluster.Paths.ControlFile), Is.EqualTo(before));
    }
}
