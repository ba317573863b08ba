using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>imc_asattach and imc_asattach_ptp: every status they return.</summary>
public sealed class AttachTests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private static ImcStatus StatusOf(TestDelegate call) => Assert.Throws<ImcException>(call)!.Status;

    [Test]
    public void ShouldRefuseASecondReceiveAttachWithReceiveMapped()
    {
        using var context = _cluster.Open("alpha");
        using var region = context.AllocateRegion(1, 8192);
        using var rx = region.AttachReceive();

        Assert.That(StatusOf(() => region.AttachReceive()), Is.EqualTo(ImcStatus.ReceiveMapped));
    }

    [Test]
    public void ShouldRefuseASecondTransmitAttachWithTransmitMapped()
    {
        using var context = _cluster.Open("alpha");
        using var region = context.AllocateRegion(1, 8192);
        using var tx = region.AttachTransmit();

        Assert.That(StatusOf(() => region.AttachTransmit()), Is.EqualTo(ImcStatus.TransmitMapped));
        Assert.That(StatusOf(() => region.AttachTransmitTo("beta")), Is.EqualTo(ImcStatus.TransmitMapped));
    }

    [Test]
    public void ShouldRefuseReceiveBeyondMaxrecvWithRxFull()
    {
        using var cluster = TemporaryCluster.Create(new Driver.ClusterConfiguration { MaxAllocBytes = 40 << 20 }, "alpha");
        using var context = cluster.Open("alpha");
        using var first = context.AllocateRegion(1, 6 << 20);
        using var second = context.AllocateRegion(2, 3 << 20);
        using var rx = first.AttachReceive();
        using var other = cluster.Open("alpha");
        using var big = other.AllocateRegion(3, 2 << 20);
        using var fits = second.AttachReceive();

        Assert.That(StatusOf(() => big.AttachReceive()), Is.EqualTo(ImcStatus.RxFull));
    }

    [Test]
    public void ShouldRefuseNonSharedWhereTheHostHasASharedAttachWithShareError()
    {
        using var a = _cluster.Open("alpha");
        using var b = _cluster.Open("alpha");
        using var ra = a.AllocateRegion(1, 8192);
        using var rb = b.AllocateRegion(1, 8192);
        using var rx = ra.AttachReceive(ImcShareMode.Shared);

        Assert.That(StatusOf(() => rb.AttachReceive(ImcShareMode.NonShared)), Is.EqualTo(ImcStatus.ShareError));
    }

    [TestCase(ImcShareMode.Shared)]
    [TestCase(ImcShareMode.NonShared)]
    public void ShouldRefuseAnyAttachWhereTheHostHasANonSharedAttachWithNonShareError(ImcShareMode mode)
    {
        using var a = _cluster.Open("alpha");
        using var b = _cluster.Open("alpha");
        using var ra = a.AllocateRegion(1, 8192);
        using var rb = b.AllocateRegion(1, 8192);
        using var tx = ra.AttachTransmit(ImcShareMode.NonShared);

        Assert.That(StatusOf(() => rb.AttachTransmit(mode)), Is.EqualTo(ImcStatus.NonShareError));
    }

    [Test]
    public void ShouldDeliverANonSharedPointToPointAttachToTheNamedHostOnly()
    {
        using var cluster = TemporaryCluster.Create("alpha", "beta", "gamma");
        using var a = cluster.Open("alpha");
        using var b = cluster.Open("beta");
        using var c = cluster.Open("gamma");
        using var ra = a.AllocateRegion(1, 8192);
        using var rb = b.AllocateRegion(1, 8192);
        using var rc = c.AllocateRegion(1, 8192);
        using var rxb = rb.AttachReceive();
        using var rxc = rc.AttachReceive();

        using var tx = ra.AttachTransmitTo("beta", ImcShareMode.NonShared);
        tx.Write(8, 31UL);

        Assert.That(rxb.Read<ulong>(8), Is.EqualTo(31UL));
        Assert.That(rxc.Read<ulong>(8), Is.Zero);
        Assert.That(Driver.ClusterAdmin.ReadStatus(cluster.Paths).Regions.Single().Transmit.Single().NonShared, Is.True);
    }

    [TestCase(ImcShareMode.Shared)]
    [TestCase(ImcShareMode.NonShared)]
    public void ShouldRefuseAnyTransmitWhereTheHostHasANonSharedPointToPointAttachWithNonShareError(ImcShareMode mode)
    {
        using var a = _cluster.Open("alpha");
        using var b = _cluster.Open("alpha");
        using var ra = a.AllocateRegion(1, 8192);
        using var rb = b.AllocateRegion(1, 8192);
        using var tx = ra.AttachTransmitTo("beta", ImcShareMode.NonShared);

        Assert.That(StatusOf(() => rb.AttachTransmitTo("beta", mode)), Is.EqualTo(ImcStatus.NonShareError));
        Assert.That(StatusOf(() => rb.AttachTransmit(mode)), Is.EqualTo(ImcStatus.NonShareError));
    }

    [Test]
    public void ShouldRefuseANonSharedPointToPointAttachWhereTheHostHasASharedTransmitWithShareError()
    {
        using var a = _cluster.Open("alpha");
        using var b = _cluster.Open("alpha");
        using var ra = a.AllocateRegion(1, 8192);
        using var rb = b.AllocateRegion(1, 8192);
        using var tx = ra.AttachTransmit(ImcShareMode.Shared);

        Assert.That(StatusOf(() => rb.AttachTransmitTo("beta", ImcShareMode.NonShared)), Is.EqualTo(ImcStatus.ShareError));
        using var shared = rb.AttachTransmitTo("beta", ImcShareMode.Shared);
        Assert.That(shared.Length, Is.EqualTo(8192), "a shared point-to-point attach beside it is allowed");
    }

    [Test]
    public void ShouldAllowANonSharedAttachOnAnotherHost()
    {
        using var a = _cluster.Open("alpha");
        using var b = _cluster.Open("beta");
        using var ra = a.AllocateRegion(1, 8192);
        using var rb = b.AllocateRegion(1, 8192);
        using var rxa = ra.AttachReceive(ImcShareMode.NonShared);

        using var rxb = rb.AttachReceive(ImcShareMode.NonShared);

        Assert.That(rxb.Length, Is.EqualTo(8192));
    }

    [Test]
    public void ShouldRefuseALoopbackSettingOtherThanTheHostsFirstWithLoopbackError()
    {
        using var a = _cluster.Open("alpha");
        using var b = _cluster.Open("alpha");
        using var ra = a.AllocateRegion(1, 8192);
        using var rb = b.AllocateRegion(1, 8192);
        using var tx = ra.AttachTransmit(flags: ImcAttachFlags.Loopback);

        Assert.That(StatusOf(() => rb.AttachTransmit()), Is.EqualTo(ImcStatus.LoopbackError));
        using var same = rb.AttachTransmit(flags: ImcAttachFlags.Loopback);
    }

    [Test]
    public void ShouldLetANewFirstTransmitAttachChooseLoopbackAgain()
    {
        using var a = _cluster.Open("alpha");
        using var ra = a.AllocateRegion(1, 8192);
        ra.AttachTransmit(flags: ImcAttachFlags.Loopback).Dispose();

        using var tx = ra.AttachTransmit();

        Assert.That(tx.Length, Is.EqualTo(8192));
    }

    [Test]
    public void ShouldRefuseAPointToPointAttachOfACoherentRegionWithCoherencyError()
    {
        using var a = _cluster.Open("alpha");
        using var region = a.AllocateRegion(1, 8192, flags: ImcRegionFlags.Coherent);

        Assert.That(StatusOf(() => region.AttachTransmitTo("beta")), Is.EqualTo(ImcStatus.CoherencyError));
    }

    [Test]
    public void ShouldDetachBothDirectionsAndAllowAttachingAgain()
    {
        using var a = _cluster.Open("alpha");
        using var region = a.AllocateRegion(1, 8192);
        var tx = region.AttachTransmit();
        var rx = region.AttachReceive();

        region.Detach();

        Assert.Throws<ObjectDisposedException>(() => tx.Write(0, 1UL));
        Assert.Throws<ObjectDisposedException>(() => rx.Read<ulong>(0));
        using var tx2 = region.AttachTransmit();
        using var rx2 = region.AttachReceive();
    }

    [Test]
    public void ShouldRefuseUnknownShareModesAndFlags()
    {
        using var a = _cluster.Open("alpha");
        using var region = a.AllocateRegion(1, 8192);

        Assert.That(StatusOf(() => region.AttachReceive((ImcShareMode)7)), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => region.AttachTransmit(flags: (ImcAttachFlags)2)), Is.EqualTo(ImcStatus.BadParameter));
    }
}
