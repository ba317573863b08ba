using System.Globalization;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>Data moving between real processes on different emulated hosts, each command with a deadline.</summary>
public sealed class CrossProcessTests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta", "gamma");

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

    [Test]
    public void ShouldNeverShowAFlagBeforeItsPayload()
    {
        const int Messages = 100_000;
        var writer = _cluster.StartPeer("alpha");
        var reader = _cluster.StartPeer("beta");
        writer.Send("alloc 9 8192");
        reader.Send("alloc 9 8192");
        reader.Send("rx 9");
        writer.Send("tx 9");

        reader.Post($"stream-read 9 {Messages} 120000");
        Assert.That(writer.Send($"stream-write 9 {Messages}", TimeSpan.FromMinutes(2)), Is.EqualTo($"{Messages}"));
        var reply = reader.Receive("stream-read", TimeSpan.FromMinutes(2));

        TestContext.Out.WriteLine($"reader: {reply.Text}");
        Assert.That(reply.Ok, Is.True, reply.Text);
        var fields = Fields(reply.Text);
        Assert.That(fields["violations"], Is.EqualTo("0"), reply.Text);
        Assert.That(long.Parse(fields["observed"], CultureInfo.InvariantCulture), Is.GreaterThan(0));
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
