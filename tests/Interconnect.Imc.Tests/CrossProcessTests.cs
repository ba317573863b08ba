using System.Globalization;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>Data moving between real processes on different emulated hosts, each command with a deadline.</summary>
public sealed class CrossProcessTests
{
    private const int AckWindow = 16;
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta", "gamma", "delta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    [Test]
    public void ShouldBroadcastBetweenProcessesToEveryReceivingHostButNotTheWriters()
    {
        var writer = _cluster.StartPeer("alpha");
        var beta = _cluster.StartPeer("beta");
        var gamma = _cluster.StartPeer("gamma");
        var neighbour = _cluster.StartPeer("alpha");
        foreach (var peer in new[] { writer, beta, gamma, neighbour })
        {
            peer.Send("alloc 5 8192");
        }

        beta.Send("rx 5");
        gamma.Send("rx 5");
        neighbour.Send("rx 5");
        writer.Send("tx 5");

        writer.Send("write64 5 24 4242");

        Assert.That(beta.Send("wait64 5 24 4242 10000"), Is.EqualTo("4242"));
        Assert.That(gamma.Send("wait64 5 24 4242 10000"), Is.EqualTo("4242"));
        Assert.That(neighbour.Send("read64 5 24"), Is.EqualTo("0"));
    }

    [Test]
    public void ShouldDeliverPointToPointBetweenProcessesToTheNamedHostOnly()
    {
        var writer = _cluster.StartPeer("alpha");
        var beta = _cluster.StartPeer("beta");
        var gamma = _cluster.StartPeer("gamma");
        foreach (var peer in new[] { writer, beta, gamma })
        {
            peer.Send("alloc 5 8192");
        }

        beta.Send("rx 5");
        gamma.Send("rx 5");
        writer.Send("ptp 5 beta");
        writer.Send("write64 5 0 9");
        writer.Send("write64 5 8 10");

        Assert.That(beta.Send("wait64 5 8 10 10000"), Is.EqualTo("10"));
        Assert.That(beta.Send("read64 5 0"), Is.EqualTo("9"));
        Assert.That(gamma.Send("read64 5 0"), Is.EqualTo("0"));
    }

    /// <summary>
    /// One writer sends messages whose payload goes as one span write (the imc_bcopy pattern), then a flag: a reader
    /// that sees a flag never finds an older payload word, and it saw many of the messages, not only the last.
    /// </summary>
    [Test]
    public void ShouldNeverShowAFlagBeforeItsPayload() =>
        RunWordStream(width: 8, span: true, 20_000, ["alpha"], ["beta"]);

    /// <summary>
    /// Two writers on two hosts, each in its own area of one region, stream messages of whole 4- or 8-byte words to
    /// two receiving hosts; every word carries its message number with a check of it, so a torn word shows whatever
    /// its bytes, and a flag seen before its payload shows as an older payload word.
    /// </summary>
    [TestCase(4)]
    [TestCase(8)]
    public void ShouldDeliverWholeWordsInOrderFromTwoWritersToTwoReceivers(int width) =>
        RunWordStream(width, span: false, 6_000, ["alpha", "beta"], ["gamma", "delta"]);

    /// <summary>
    /// Runs the word stream (TestPeer/WordStream.cs): writer w sends <paramref name="messages"/> messages in area w
    /// of region 9; every reader follows every area and acks in region 10, and no writer runs more than
    /// <see cref="AckWindow"/> messages ahead of its slowest reader.
    /// </summary>
    private void RunWordStream(int width, bool span, int messages, string[] writerHosts, string[] readerHosts)
    {
        var writers = writerHosts.Select(h => _cluster.StartPeer(h)).ToArray();
        var readers = readerHosts.Select(h => _cluster.StartPeer(h)).ToArray();
        foreach (var peer in writers.Concat(readers))
        {
            peer.Send("alloc 9 8192");
            peer.Send("alloc 10 8192");
        }

        foreach (var writer in writers)
        {
            writer.Send("rx 10");
        }

        var areas = string.Join(',', Enumerable.Range(0, writers.Length));
        for (var r = 0; r < readers.Length; r++)
        {
            readers[r].Send("rx 9");
            readers[r].Send("tx 10");
            readers[r].Post($"words-read 9 {messages} {width} {(span ? 1 : 0)} {areas} 10 {r} 120000");
        }

        for (var w = 0; w < writers.Length; w++)
        {
            writers[w].Send("tx 9");
            writers[w].Post($"words-write 9 {messages} {width} {(span ? 1 : 0)} {w} 10 {readers.Length} {AckWindow} 120000");
        }

        foreach (var writer in writers)
        {
            var written = writer.Receive("words-write", TimeSpan.FromMinutes(3));
            Assert.That(written.Ok, Is.True, $"{writer.Host}: {written.Text}");
        }

        foreach (var reader in readers)
        {
            var reply = reader.Receive("words-read", TimeSpan.FromMinutes(3));
            TestContext.Out.WriteLine($"{reader.Host}: {reply.Text}");
            Assert.That(reply.Ok, Is.True, reply.Text);
            var fields = Fields(reply.Text);
            Assert.That(fields["torn"], Is.EqualTo("0"), $"{reader.Host}: {reply.Text}");
            Assert.That(fields["violations"], Is.EqualTo("0"), $"{reader.Host}: {reply.Text}");
            // The reader followed each stream, not only its end: with the writers at most AckWindow messages ahead,
            // every flag it saw was at most AckWindow + 1 past the one before.
            Assert.That(fields["observed"].Split(',').Select(o => long.Parse(o, CultureInfo.InvariantCulture)),
                Has.Exactly(writers.Length).Items.And.All.GreaterThanOrEqualTo(messages / (AckWindow + 1)),
                $"{reader.Host}: {reply.Text}");
        }
    }

    [Test]
    public void ShouldKeepACoherentRegionExactWhileReceiversJoinAndLeaveUnderAHammeringWriter()
    {
        const int Writes = 300_000;
        var writer = _cluster.StartPeer("alpha");
        var joiner = _cluster.StartPeer("beta");
        var joiner2 = _cluster.StartPeer("gamma");
        writer.Send("alloc 3 8192 600 1");
        joiner.Send("alloc 3 8192 600 1");
        joiner2.Send("alloc 3 8192 600 1");
        writer.Send("tx 3");

        writer.Post($"hammer 3 {Writes}");
        joiner.Post($"join-cycles 3 {Writes} 60000");
        joiner2.Post($"join-cycles 3 {Writes} 60000");
        var hammered = writer.Receive("hammer", TimeSpan.FromMinutes(2));
        var joined = joiner.Receive("join-cycles", TimeSpan.FromMinutes(2));
        var joined2 = joiner2.Receive("join-cycles", TimeSpan.FromMinutes(2));

        TestContext.Out.WriteLine($"joiners: {joined.Text} / {joined2.Text}");
        Assert.That(hammered.Ok, Is.True, hammered.Text);
        Assert.That(Fields(joined.Text)["violations"], Is.EqualTo("0"), joined.Text);
        Assert.That(Fields(joined2.Text)["violations"], Is.EqualTo("0"), joined2.Text);
        // The joins raced the writer: some copies were taken while it was half-way.
        Assert.That(int.Parse(Fields(joined.Text)["midway"], CultureInfo.InvariantCulture) +
            int.Parse(Fields(joined2.Text)["midway"], CultureInfo.InvariantCulture), Is.GreaterThan(0));
        joiner.Send("rx 3");
        var final = Fields(joiner.Send($"verify-hammer 3 {Writes}"));
        Assert.That(final["counter"], Is.EqualTo($"{Writes}"));
        Assert.That(final["mismatches"], Is.EqualTo("0"));
    }

    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldRefuseAnotherUserWithPermitAndKeepTheFilesClosedToThem()
    {
        using var owner = _cluster.Open("alpha");
        using var region = owner.AllocateRegion(11, 8192);
        using var rx = region.AttachReceive();
        using var readable = owner.AllocateRegion(12, 8192, ImcPermissions.UserReadWrite | ImcPermissions.OtherRead);
        var stranger = _cluster.StartPeer("beta", user: "nobody");

        var alloc = stranger.Ask("alloc 11 8192");
        stranger.Send("alloc 12 8192");
        var transmit = stranger.Ask("tx 12");
        stranger.Send("rx 12");
        var files = _cluster.ReceiveFiles();

        Assert.That(alloc.Status, Is.EqualTo("Permit"));
        Assert.That(transmit.Status, Is.EqualTo("Permit"));
        var privateFile = files.Single(f => Path.GetFileName(f).StartsWith("r1.", StringComparison.Ordinal));
        Assert.That(stranger.Send($"try-open {privateFile}"), Is.EqualTo("denied"));
    }

    private static Dictionary<string, string> Fields(string text) =>
        text.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(f => f.Split('=', 2))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1]);
}
