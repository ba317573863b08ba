using Interconnect.Driver;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>The public fault-injection API (<see cref="ImcControl"/>): what imcctl does, for programs' own tests.</summary>
public sealed class ImcControlTests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create(new ClusterConfiguration { PhysicalRails = 2, RailStyle = 1 },
        "alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private ImcOptions Cluster => new() { Root = _cluster.Root, Cluster = TemporaryCluster.ClusterName };

    [Test]
    public void ShouldDropTheNextWritesTowardTheNamedHostWholeAndRaiseTheErrorCount()
    {
        using var alpha = _cluster.Open("alpha");
        using var beta = _cluster.Open("beta");
        using var tx = alpha.AllocateRegion(5, 4096).AttachTransmit();
        using var rxRegion = beta.AllocateRegion(5, 4096);
        using var rx = rxRegion.AttachReceive();
        tx.Write(0, 1UL);
        var before = WaitForCount(beta);

        ImcControl.InjectErrors(0, 2, "beta", Cluster);
        tx.Write(0, 2UL);
        tx.Write(0, 3UL);
        tx.Write(0, 4UL);

        Assert.That(rx.Read<ulong>(0), Is.EqualTo(4UL), "the write after the two drops arrived");
        Assert.That(WaitForCount(beta), Is.EqualTo(before + 2), "each drop raised the count once");
        Assert.That(ClusterAdmin.ReadRails(_cluster.Paths).Logical[0].Drops, Is.EqualTo(2));
    }

    [Test]
    public void ShouldFailAndRepairAPhysicalRailAndSayWhetherItChangedAnything()
    {
        using var alpha = _cluster.Open("alpha");

        Assert.That(ImcControl.FailRail(0, Cluster), Is.True);
        Assert.That(ImcControl.FailRail(0, Cluster), Is.False, "it had failed already");
        Assert.That(ClusterAdmin.ReadRails(_cluster.Paths).Logical[0].ActivePhysical, Is.EqualTo(1), "the pair failed over");
        Assert.That(alpha.GetClusterInfo().ActiveRailMask, Is.EqualTo(1u));
        Assert.That(ImcControl.RepairRail(0, Cluster), Is.True);
        Assert.That(ImcControl.RepairRail(0, Cluster), Is.False, "it was up");
    }

    [TestCase(-1)]
    [TestCase(1)]
    public void ShouldRefuseALogicalRailTheClusterDoesNotHave(int rail)
    {
        var e = Assert.Throws<ImcException>(() => ImcControl.InjectErrors(rail, 1, options: Cluster))!;
        Assert.That(e.Status, Is.EqualTo(ImcStatus.BadRail));
        Assert.That(e.Message, Does.Contain($"logical rail {rail}"));
    }

    [Test]
    public void ShouldRefuseAPhysicalRailTheClusterDoesNotHave()
    {
        Assert.That(() => ImcControl.FailRail(2, Cluster), Throws.TypeOf<ImcException>().With.Property(nameof(ImcException.Status))
            .EqualTo(ImcStatus.BadRail));
    }

    [Test]
    public void ShouldRefuseDropsTowardAHostThatIsNotUp()
    {
        var e = Assert.Throws<ImcException>(() => ImcControl.InjectErrors(0, 1, "gamma", Cluster))!;
        Assert.That(e.Status, Is.EqualTo(ImcStatus.BadHost));
        Assert.That(e.Message, Does.Contain("gamma"));
    }

    [Test]
    public void ShouldRefuseANegativeCount()
    {
        Assert.That(() => ImcControl.InjectErrors(0, -1, options: Cluster), Throws.TypeOf<ImcException>()
            .With.Property(nameof(ImcException.Status)).EqualTo(ImcStatus.BadParameter));
    }

    [Test]
    public void ShouldSayNotInitializedWhereThereIsNoCluster()
    {
        var none = new ImcOptions { Root = _cluster.Root, Cluster = "none" };

        Assert.That(() => ImcControl.FailRail(0, none), Throws.TypeOf<ImcException>()
            .With.Property(nameof(ImcException.Status)).EqualTo(ImcStatus.NotInitialized));
        Assert.That(ImcControl.DestroyCluster(none), Is.False);
    }

    [Test]
    public void ShouldRemoveTheClusterAndItsFiles()
    {
        using (var alpha = _cluster.Open("alpha"))
        {
            using var region = alpha.AllocateRegion(6, 4096);
            using var rx = region.AttachReceive();
            Assert.That(_cluster.ReceiveFiles(), Has.Length.EqualTo(1));
        }

        Assert.That(ImcControl.DestroyCluster(Cluster), Is.True);

        Assert.That(Directory.Exists(_cluster.Paths.ClusterDirectory), Is.False);
        Assert.That(() => ImcContext.Open(_cluster.Options("alpha", autoInitialize: false)), Throws.TypeOf<ImcException>()
            .With.Property(nameof(ImcException.Status)).EqualTo(ImcStatus.NotInitialized));
    }

    /// <summary>The rail's error count once it has finished processing (a negative read means: still processing).</summary>
    private static int WaitForCount(ImcContext context)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        int count;
        while ((count = context.ReadErrorCount(0)) < 0)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the rail kept processing an error");
            Thread.Sleep(1);
        }

        return count;
    }
}
