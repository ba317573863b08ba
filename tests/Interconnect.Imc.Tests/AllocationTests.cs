using Interconnect.Driver;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>imc_asalloc and imc_asdealloc: every status they return, and what the space accounting does.</summary>
public sealed class AllocationTests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private static ImcStatus StatusOf(TestDelegate call) => Assert.Throws<ImcException>(call)!.Status;

    [TestCase(0L)]
    [TestCase(-1L)]
    [TestCase(long.MinValue)]
    public void ShouldRefuseANonPositiveSizeWithBadSize(long size)
    {
        using var context = _cluster.Open("alpha");

        Assert.That(StatusOf(() => context.AllocateRegion(1, size)), Is.EqualTo(ImcStatus.BadSize));
        Assert.That(_cluster.ReceiveFiles(), Is.Empty);
    }

    [Test]
    public void ShouldRefuseAnotherSizeForAnExistingKeyWithBadSize()
    {
        using var alpha = _cluster.Open("alpha");
        using var beta = _cluster.Open("beta");
        using var region = alpha.AllocateRegion(1, 8192);

        Assert.That(StatusOf(() => beta.AllocateRegion(1, 4096)), Is.EqualTo(ImcStatus.BadSize));
    }

    [Test]
    public void ShouldRefuseARegionOverMaxallocWithMcFull()
    {
        using var context = _cluster.Open("alpha");
        using var first = context.AllocateRegion(1, 6 << 20);

        Assert.That(StatusOf(() => context.AllocateRegion(2, 5 << 20)), Is.EqualTo(ImcStatus.McFull));
        Assert.That(StatusOf(() => context.AllocateRegion(3, long.MaxValue)), Is.EqualTo(ImcStatus.McFull));
    }

    [Test]
    public void ShouldFreeTheSpaceWhenTheLastAllocatorDeallocates()
    {
        using var alpha = _cluster.Open("alpha");
        using var beta = _cluster.Open("beta");
        var a = alpha.AllocateRegion(1, 6 << 20);
        var b = beta.AllocateRegion(1, 6 << 20);

        a.Deallocate();
        Assert.That(StatusOf(() => alpha.AllocateRegion(2, 6 << 20)), Is.EqualTo(ImcStatus.McFull));

        b.Deallocate();
        using var again = alpha.AllocateRegion(2, 6 << 20);
        Assert.That(again.Size, Is.EqualTo(6L << 20));
    }

    [TestCase(-1)]
    [TestCase(1)]
    [TestCase(4)]
    [TestCase(int.MaxValue)]
    public void ShouldRefuseAnUnknownRailWithBadRail(int rail)
    {
        using var context = _cluster.Open("alpha");

        Assert.That(StatusOf(() => context.AllocateRegion(1, 8192, logicalRail: rail)), Is.EqualTo(ImcStatus.BadRail));
    }

    [Test]
    public void ShouldRefuseAKeyThatExistsOnAnotherRailWithWrongRail()
    {
        using var cluster = TemporaryCluster.Create(new ClusterConfiguration { PhysicalRails = 2 }, "alpha");
        using var context = cluster.Open("alpha");
        using var other = cluster.Open("alpha");
        using var region = context.AllocateRegion(1, 8192, logicalRail: 1);

        Assert.That(StatusOf(() => other.AllocateRegion(1, 8192, logicalRail: 0)), Is.EqualTo(ImcStatus.WrongRail));
    }

    [Test]
    public void ShouldRefuseAKeyThatExistsWithTheOtherCoherencyWithCoherencyError()
    {
        using var alpha = _cluster.Open("alpha");
        using var beta = _cluster.Open("beta");
        using var region = alpha.AllocateRegion(1, 8192, flags: ImcRegionFlags.Coherent);

        Assert.That(StatusOf(() => beta.AllocateRegion(1, 8192)), Is.EqualTo(ImcStatus.CoherencyError));
    }

    [Test]
    public void ShouldRefuseASecondAllocationBySameProcessWithPrior()
    {
        using var context = _cluster.Open("alpha");
        using var region = context.AllocateRegion(1, 8192);

        Assert.That(StatusOf(() => context.AllocateRegion(1, 8192)), Is.EqualTo(ImcStatus.Prior));
    }

    [Test]
    public void ShouldRefuseDeallocationWhileAttachedWithAttached()
    {
        using var context = _cluster.Open("alpha");
        using var region = context.AllocateRegion(1, 8192);
        using var rx = region.AttachReceive();

        Assert.That(StatusOf(region.Deallocate), Is.EqualTo(ImcStatus.Attached));

        region.Detach();
        region.Deallocate();
        Assert.That(_cluster.ReceiveFiles(), Is.Empty);
    }

    [Test]
    public void ShouldRefuseASecondDeallocationWithNotAllocated()
    {
        using var context = _cluster.Open("alpha");
        var region = context.AllocateRegion(1, 8192);
        region.Deallocate();

        Assert.That(StatusOf(region.Deallocate), Is.EqualTo(ImcStatus.NotAllocated));
        Assert.That(StatusOf(() => region.AttachReceive()), Is.EqualTo(ImcStatus.NotAllocated));
    }

    [Test]
    public void ShouldRefuseACoherentRegionOverAnyHostsReceiveSpaceWithRxFull()
    {
        using var cluster = TemporaryCluster.Create(new ClusterConfiguration { MaxAllocBytes = 40 << 20 }, "alpha", "beta");
        using var context = cluster.Open("alpha");
        using var first = context.AllocateRegion(1, 6 << 20, flags: ImcRegionFlags.Coherent);

        Assert.That(StatusOf(() => context.AllocateRegion(2, 5 << 20, flags: ImcRegionFlags.Coherent)),
            Is.EqualTo(ImcStatus.RxFull));
    }

    [Test]
    public void ShouldRefuseANegativeKeyWithBadParameter()
    {
        using var context = _cluster.Open("alpha");

        Assert.That(StatusOf(() => context.AllocateRegion(-5, 8192)), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => context.AllocateRegion(int.MinValue, 8192)), Is.EqualTo(ImcStatus.BadParameter));
    }

    [Test]
    public void ShouldRefuseEmptyOrUnknownPermissionsWithBadParameter()
    {
        using var context = _cluster.Open("alpha");

        Assert.That(StatusOf(() => context.AllocateRegion(1, 8192, (ImcPermissions)0)), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => context.AllocateRegion(1, 8192, (ImcPermissions)0x1ff)), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => context.AllocateRegion(1, 8192, flags: (ImcRegionFlags)6)), Is.EqualTo(ImcStatus.BadParameter));
    }

    [Test]
    public void ShouldReportTheRegionAsAllocated()
    {
        using var context = _cluster.Open("alpha");
        using var region = context.AllocateRegion(77, 5000, ImcPermissions.UserReadWrite | ImcPermissions.GroupRead,
            ImcRegionFlags.Coherent);

        Assert.That(region.Key, Is.EqualTo(77));
        Assert.That(region.Size, Is.EqualTo(5000));
        Assert.That(region.IsCoherent, Is.True);
        Assert.That(region.LogicalRail, Is.Zero);
        Assert.That(region.Permissions, Is.EqualTo(ImcPermissions.UserReadWrite | ImcPermissions.GroupRead));
    }

    [Test]
    public void ShouldStartTheExceptionMessageWithThePerrorText()
    {
        using var context = _cluster.Open("alpha");

        var e = Assert.Throws<ImcException>(() => context.AllocateRegion(1, 0))!;

        Assert.That(e.Message, Does.StartWith(ImcException.PerrorText(ImcStatus.BadSize)));
        Assert.That(e.Message, Does.Contain("key 1"));
    }

    [Test]
    public void ShouldNotTakeALockSetForAnAttachOfTheRegionWithTheSameSlotAndId()
    {
        using var context = _cluster.Open("alpha");
        var region = context.AllocateRegion(1, 8192); // region slot 0, id 1
        using var locks = context.AllocateLockSet(1, 1); // lock set slot 0, id 1

        region.Deallocate();

        Assert.That(Driver.ClusterAdmin.ReadStatus(_cluster.Paths).Regions, Is.Empty);
    }
}
