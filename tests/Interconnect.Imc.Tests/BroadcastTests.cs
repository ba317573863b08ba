using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>Where a write lands: broadcast, loopback and point-to-point (manual 10.6.1), between contexts of two hosts.</summary>
public sealed class BroadcastTests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta", "gamma");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    [Test]
    public void ShouldDeliverBroadcastWritesToEveryOtherHostWithReceiveAttach()
    {
        using var writer = _cluster.Open("alpha");
        using var beta = _cluster.Open("beta");
        using var gamma = _cluster.Open("gamma");
        using var txRegion = writer.AllocateRegion(7, 8192);
        using var betaRegion = beta.AllocateRegion(7, 8192);
        using var gammaRegion = gamma.AllocateRegion(7, 8192);
        using var betaRx = betaRegion.AttachReceive();
        using var gammaRx = gammaRegion.AttachReceive();
        using var tx = txRegion.AttachTransmit();

        tx.Write(128, 0x1122334455667788UL);
        tx.Write(4096, (ReadOnlySpan<byte>)[1, 2, 3, 4, 5]);

        Assert.That(betaRx.Read<ulong>(128), Is.EqualTo(0x1122334455667788UL));
        Assert.That(gammaRx.Read<ulong>(128), Is.EqualTo(0x1122334455667788UL));
        Assert.That(gammaRx.AsSpan(4096, 5).ToArray(), Is.EqualTo(new byte[] { 1, 2, 3, 4, 5 }));
    }

    [Test]
    public void ShouldNotDeliverToTheWritersOwnHostWithoutLoopback()
    {
        using var writer = _cluster.Open("alpha");
        using var neighbour = _cluster.Open("alpha");
        using var txRegion = writer.AllocateRegion(7, 8192);
        using var rxRegion = neighbour.AllocateRegion(7, 8192);
        using var rx = rxRegion.AttachReceive();
        using var ownRx = txRegion.AttachReceive();
        using var tx = txRegion.AttachTransmit();

        tx.Write(0, 42UL);

        Assert.That(rx.Read<ulong>(0), Is.Zero);
        Assert.That(ownRx.Read<ulong>(0), Is.Zero);
    }

    [Test]
    public void ShouldDeliverToTheWritersOwnHostWithLoopback()
    {
        using var writer = _cluster.Open("alpha");
        using var beta = _cluster.Open("beta");
        using var txRegion = writer.AllocateRegion(7, 8192);
        using var betaRegion = beta.AllocateRegion(7, 8192);
        using var ownRx = txRegion.AttachReceive();
        using var betaRx = betaRegion.AttachReceive();
        using var tx = txRegion.AttachTransmit(flags: ImcAttachFlags.Loopback);

        tx.Write(8, 99u);

        Assert.That(ownRx.Read<uint>(8), Is.EqualTo(99u));
        Assert.That(betaRx.Read<uint>(8), Is.EqualTo(99u));
    }

    [Test]
    public void ShouldDeliverPointToPointWritesToTheNamedHostOnly()
    {
        using var writer = _cluster.Open("alpha");
        using var beta = _cluster.Open("beta");
        using var gamma = _cluster.Open("gamma");
        using var txRegion = writer.AllocateRegion(7, 8192);
        using var betaRegion = beta.AllocateRegion(7, 8192);
        using var gammaRegion = gamma.AllocateRegion(7, 8192);
        using var betaRx = betaRegion.AttachReceive();
        using var gammaRx = gammaRegion.AttachReceive();
        using var tx = txRegion.AttachTransmitTo("gamma");

        tx.Write(16, 5UL);

        Assert.That(gammaRx.Read<ulong>(16), Is.EqualTo(5UL));
        Assert.That(betaRx.Read<ulong>(16), Is.Zero);
    }

    [Test]
    public void ShouldRefusePointToPointToTheCallersOwnHost()
    {
        using var writer = _cluster.Open("alpha");
        using var region = writer.AllocateRegion(7, 8192);

        var e = Assert.Throws<ImcException>(() => region.AttachTransmitTo("alpha"));

        Assert.That(e!.Status, Is.EqualTo(ImcStatus.PointToPointError));
    }

    [TestCase("delta")]
    [TestCase("../alpha")]
    [TestCase("")]
    public void ShouldRefusePointToPointToAnUnknownHost(string host)
    {
        using var writer = _cluster.Open("alpha");
        using var region = writer.AllocateRegion(7, 8192);

        var e = Assert.Throws<ImcException>(() => region.AttachTransmitTo(host));

        Assert.That(e!.Status, Is.EqualTo(ImcStatus.BadHost));
    }

    [Test]
    public void ShouldStartANonCoherentReceiverFromZeroAndShowOnlyLaterWrites()
    {
        using var writer = _cluster.Open("alpha");
        using var beta = _cluster.Open("beta");
        using var txRegion = writer.AllocateRegion(7, 8192);
        using var betaRegion = beta.AllocateRegion(7, 8192);
        using var tx = txRegion.AttachTransmit();
        tx.Write(0, 1UL);
        tx.Write(8, 2UL);

        using var rx = betaRegion.AttachReceive();
        tx.Write(8, 3UL);

        Assert.That(rx.Read<ulong>(0), Is.Zero);
        Assert.That(rx.Read<ulong>(8), Is.EqualTo(3UL));
    }

    [Test]
    public void ShouldGiveALateCoherentReceiverTheCurrentContents()
    {
        using var writer = _cluster.Open("alpha");
        using var beta = _cluster.Open("beta");
        using var txRegion = writer.AllocateRegion(7, 8192, flags: ImcRegionFlags.Coherent);
        using var betaRegion = beta.AllocateRegion(7, 8192, flags: ImcRegionFlags.Coherent);
        using var tx = txRegion.AttachTransmit();
        tx.Write(0, 1UL);
        tx.Write(8, 2UL);

        using var rx = betaRegion.AttachReceive();
        tx.Write(16, 3UL);

        Assert.That(rx.Read<ulong>(0), Is.EqualTo(1UL));
        Assert.That(rx.Read<ulong>(8), Is.EqualTo(2UL));
        Assert.That(rx.Read<ulong>(16), Is.EqualTo(3UL));
    }

    [Test]
    public void ShouldLoopCoherentWritesBackWithoutTheLoopbackFlag()
    {
        using var writer = _cluster.Open("alpha");
        using var region = writer.AllocateRegion(7, 8192, flags: ImcRegionFlags.Coherent);
        using var tx = region.AttachTransmit();
        using var rx = region.AttachReceive();

        tx.Write(0, 77UL);

        Assert.That(rx.Read<ulong>(0), Is.EqualTo(77UL));
    }
}
