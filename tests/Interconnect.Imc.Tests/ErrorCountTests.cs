using System.Globalization;
using Interconnect.Driver;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>Error counts and injected drops (manual 10.6.6): the patterns of Examples 10-3 and 10-4, between processes.</summary>
public sealed class ErrorCountTests
{
    private const int Messages = 2000;
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private static ImcStatus StatusOf(TestDelegate call) => Assert.Throws<ImcException>(call)!.Status;

    /// <summary>Rail 0's error count once no error is being processed (it reads negative inside the window).</summary>
    private static int SettledErrorCount(ImcContext context) =>
        Poll.Until(() => context.ReadErrorCount(0), c => c >= 0, "rail 0's error processing window to end");

    private (PeerProcess Sender, PeerProcess Receiver) StartPair()
    {
        var sender = _cluster.StartPeer("alpha");
        var receiver = _cluster.StartPeer("beta");
        foreach (var peer in new[] { sender, receiver })
        {
            peer.Send("alloc 1234 8192");
            peer.Send("alloc 1235 8192");
        }

        receiver.Send("rx 1234");
        receiver.Send("tx 1235");
        sender.Send("rx 1235");
        sender.Send("tx 1234");
        return (sender, receiver);
    }

    /// <summary>Random drop points: (message, write) with write 0 = count, 1 = payload, 2 = flag.</summary>
    private static List<(int Message, int Write)> DropPoints(int seed, int howMany)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, howMany * 4)
            .Select(_ => (Message: random.Next(1, Messages + 1), Write: random.Next(0, 3)))
            .DistinctBy(p => p.Message)
            .Take(howMany)
            .OrderBy(p => p.Message)
            .ToList();
    }

    private static string Format(List<(int Message, int Write)> points) =>
        string.Join(';', points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Message}:{p.Write}")));

    private static Dictionary<string, string> Fields(string text) =>
        text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(f => f.Split('=', 2))
            .ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");

    [TestCase(1)]
    [TestCase(2)]
    public void ShouldFlagExactlyTheMessagesThatLostAWriteWithTheReceiversCountCheck(int seed)
    {
        var (sender, receiver) = StartPair();
        var points = DropPoints(seed, 40);

        receiver.Post($"ex3-receive 1234 1235 {Messages} 120000");
        var sent = sender.Send($"ex3-send 1234 1235 {Messages} {Format(points)}", TimeSpan.FromMinutes(2));
        var reply = receiver.Receive("ex3-receive", TimeSpan.FromMinutes(2));

        Assert.That(reply.Ok, Is.True, reply.Text);
        var fields = Fields(reply.Text);
        TestContext.Out.WriteLine($"sender: {sent}; receiver: {reply.Text}");
        Assert.That(fields["corrupt_accepted"], Is.EqualTo("0"), "a message judged whole was not");
        var flagged = fields["flagged"].Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(f => int.Parse(f, CultureInfo.InvariantCulture));
        Assert.That(flagged, Is.EqualTo(points.Select(p => p.Message)), "flagged messages differ from those that lost a write");
    }

    [TestCase(3)]
    [TestCase(4)]
    public void ShouldDeliverEveryMessageWholeWhenTheSenderRetransmitsUntilTheCheckSucceeds(int seed)
    {
        var (sender, receiver) = StartPair();
        var points = DropPoints(seed, 40);

        receiver.Post($"ex4-receive 1234 1235 {Messages} 120000");
        var sent = Fields(sender.Send($"ex4-send 1234 1235 {Messages} {Format(points)}", TimeSpan.FromMinutes(2)));
        var reply = receiver.Receive("ex4-receive", TimeSpan.FromMinutes(2));

        Assert.That(reply.Ok, Is.True, reply.Text);
        Assert.That(Fields(reply.Text)["received"], Is.EqualTo($"{Messages}"));
        Assert.That(int.Parse(sent["retransmissions"], CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(points.Count));
    }

    [Test]
    public void ShouldRaiseTheCountBeforeAnyLaterWriteIsSeen()
    {
        using var writer = _cluster.Open("alpha");
        using var reader = _cluster.Open("beta");
        using var tx = writer.AllocateRegion(1, 8192).AttachTransmit();
        using var rxRegion = reader.AllocateRegion(1, 8192);
        using var rx = rxRegion.AttachReceive();
        var before = SettledErrorCount(writer);
        ImcControl.InjectErrors(0, 1, options: _cluster.ControlOptions);

        tx.Write(0, 1UL);
        tx.Write(8, 2UL);

        Assert.That(rx.Read<ulong>(0), Is.Zero, "the first write was dropped");
        Assert.That(rx.Read<ulong>(8), Is.EqualTo(2UL));
        // The count reads negative while the rail processes the error; once the window is over it is exact.
        Assert.That(SettledErrorCount(reader), Is.EqualTo(before + 1));
    }

    [Test]
    public void ShouldDropWholeWritesOnlyTowardTheNamedHost()
    {
        _cluster.InitHost("gamma");
        using var writer = _cluster.Open("alpha");
        using var beta = _cluster.Open("beta");
        using var gamma = _cluster.Open("gamma");
        using var tx = writer.AllocateRegion(1, 8192).AttachTransmit();
        using var betaRegion = beta.AllocateRegion(1, 8192);
        using var gammaRegion = gamma.AllocateRegion(1, 8192);
        using var betaRx = betaRegion.AttachReceive();
        using var gammaRx = gammaRegion.AttachReceive();
        ImcControl.InjectErrors(0, 2, "gamma", _cluster.ControlOptions);

        tx.Write(0, Enumerable.Repeat((byte)7, 4096).ToArray());
        tx.Write(4096, 5UL);
        tx.Write(4104, 6UL);

        Assert.That(betaRx.AsSpan(0, 4096).ToArray(), Is.All.EqualTo(7));
        Assert.That(gammaRx.AsSpan(0, 4096).ToArray(), Is.All.Zero);
        Assert.That(gammaRx.Read<ulong>(4096), Is.Zero);
        Assert.That(gammaRx.Read<ulong>(4104), Is.EqualTo(6UL));
        Assert.That(ClusterAdmin.ReadRails(_cluster.Paths).Logical[0].Drops, Is.EqualTo(2));
    }

    [Test]
    public void ShouldReportMcErrorFromTheCheckUntilTheCountIsCaughtUpAndTheWindowIsOver()
    {
        using var context = _cluster.Open("alpha");
        var count = SettledErrorCount(context);

        Assert.That(context.CheckErrorCount(ref count, 0), Is.EqualTo(ImcStatus.Success));
        _cluster.InitHost("gamma"); // a host join is an error on every rail
        var stale = count;

        Assert.That(context.CheckErrorCount(ref count, 0), Is.EqualTo(ImcStatus.McError));
        Assert.That(count, Is.EqualTo(stale + 1));
        Poll.Until(() => context.CheckErrorCount(ref count, 0), s => s == ImcStatus.Success,
            "the check to succeed once the rail's error window is over");
    }

    [Test]
    public void ShouldMoveEveryLogicalRailsCountOnHostJoinAndLeave()
    {
        using var cluster = TemporaryCluster.Create(new ClusterConfiguration { PhysicalRails = 3 }, "alpha");
        using var context = cluster.Open("alpha");
        var before = ClusterAdmin.ReadRails(cluster.Paths).Logical.Select(r => r.ErrorCount).ToArray();

        cluster.InitHost("beta");
        var joined = ClusterAdmin.ReadRails(cluster.Paths).Logical.Select(r => r.ErrorCount).ToArray();
        ClusterAdmin.TakeHostDown(cluster.Paths, "beta");
        var left = ClusterAdmin.ReadRails(cluster.Paths).Logical.Select(r => r.ErrorCount).ToArray();

        Assert.That(joined, Is.EqualTo(before.Select(c => c + 1)));
        Assert.That(left, Is.EqualTo(before.Select(c => c + 2)));
    }

    [TestCase(-1)]
    [TestCase(1)]
    [TestCase(int.MaxValue)]
    public void ShouldRefuseAnUnknownRailWithBadRail(int rail)
    {
        using var context = _cluster.Open("alpha");
        var count = 0;

        Assert.That(StatusOf(() => context.ReadErrorCount(rail)), Is.EqualTo(ImcStatus.BadRail));
        Assert.That(StatusOf(() => context.CheckErrorCount(ref count, rail)), Is.EqualTo(ImcStatus.BadRail));
    }

    [Test]
    public void ShouldReadANegativeCountWhileTheRailProcessesAnError()
    {
        // A window of a minute (imc_init --error-window), so the test reads inside it whatever the machine's speed.
        using var cluster = TemporaryCluster.Create(new ClusterConfiguration { ErrorWindowMs = 60_000 }, "alpha");
        using var context = cluster.Open("alpha");
        var count = 0;

        cluster.InitHost("beta"); // a host join: an error on every rail

        Assert.That(context.ReadErrorCount(0), Is.Negative);
        Assert.That(context.CheckErrorCount(ref count, 0), Is.EqualTo(ImcStatus.McError));
        Assert.That(ClusterAdmin.ReadRails(cluster.Paths).Logical[0].Processing, Is.True);
    }
}
