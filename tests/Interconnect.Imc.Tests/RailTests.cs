using Interconnect.Driver;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>Multirail (manual 10.1): failover pairs and single rails failing and coming back.</summary>
public sealed class RailTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(30);

    private static CommandResult ImcCtl(TemporaryCluster cluster, params string[] args) =>
        Command.Run("imcctl", cluster.Root, TemporaryCluster.ClusterName, args);

    [Test]
    public void ShouldCarryAStreamAcrossTheFailureOfTheActiveRailOfAPair()
    {
        using var cluster = TemporaryCluster.Create(new ClusterConfiguration { PhysicalRails = 2, RailStyle = 1 }, "alpha", "beta");
        using var writer = cluster.Open("alpha");
        using var reader = cluster.Open("beta");
        using var tx = writer.AllocateRegion(1, 8192).AttachTransmit();
        using var rxRegion = reader.AllocateRegion(1, 8192);
        using var rx = rxRegion.AttachReceive();
        var info = reader.GetClusterInfo();
        var change = reader.WaitForClusterEventAsync(ImcClusterEvents.Rail, info);
        var count = Poll.Until(() => reader.ReadErrorCount(0), c => c >= 0, "rail 0's error processing window to end");

        for (ulong i = 1; i <= 1000; i++)
        {
            tx.Write(0, i);
        }

        Assert.That(ImcCtl(cluster, "fail-rail", "0").ExitCode, Is.Zero);
        var lost = 0;
        for (ulong i = 1001; i <= 2000; i++)
        {
            tx.Write(0, i);
            lost += rx.Read<ulong>(0) == i ? 0 : 1;
        }

        Assert.That(lost, Is.Zero, "writes after the failover were lost");
        Assert.That(reader.CheckErrorCount(ref count, 0), Is.EqualTo(ImcStatus.McError), "the count tells something happened");
        Assert.That(change.Wait(s_deadline), Is.True);
        Assert.That(change.Result.Kind, Is.EqualTo(ImcClusterEventKind.RailChange));
        Assert.That(change.Result.Info.ActiveRailMask, Is.EqualTo(1u));
        var rails = ClusterAdmin.ReadRails(cluster.Paths);
        Assert.That(rails.Logical[0].ActivePhysical, Is.EqualTo(1));
        Assert.That(rails.Physical[0].Failed, Is.True);
    }

    [Test]
    public void ShouldTakeAPairDownOnlyWhenItsSecondRailFailsBeforeTheFirstIsRepaired()
    {
        using var cluster = TemporaryCluster.Create(new ClusterConfiguration { PhysicalRails = 2, RailStyle = 1 }, "alpha");
        using var context = cluster.Open("alpha");

        Assert.That(ImcControl.FailRail(0, options: cluster.ControlOptions), Is.True);
        Assert.That(context.GetClusterInfo().ActiveRailMask, Is.EqualTo(1u));
        Assert.That(ImcControl.FailRail(1, options: cluster.ControlOptions), Is.True);
        Assert.That(context.GetClusterInfo().ActiveRailMask, Is.Zero);

        Assert.That(ImcControl.RepairRail(0, options: cluster.ControlOptions), Is.True);
        Assert.That(context.GetClusterInfo().ActiveRailMask, Is.EqualTo(1u));
        Assert.That(ClusterAdmin.ReadRails(cluster.Paths).Logical[0].ActivePhysical, Is.Zero);
        Assert.That(ImcControl.FailRail(0, options: cluster.ControlOptions), Is.True, "a repaired rail can fail again");
        Assert.That(context.GetClusterInfo().ActiveRailMask, Is.Zero, "its partner is still failed");
    }

    [Test]
    public void ShouldFailAPairOverAfterMoreThanTenErrorsWithinAMinute()
    {
        using var cluster = TemporaryCluster.Create(new ClusterConfiguration { PhysicalRails = 2, RailStyle = 1 }, "alpha", "beta");
        using var writer = cluster.Open("alpha");
        using var reader = cluster.Open("beta");
        using var tx = writer.AllocateRegion(1, 8192).AttachTransmit();
        using var rxRegion = reader.AllocateRegion(1, 8192);
        using var rx = rxRegion.AttachReceive();
        ImcControl.InjectErrors(0, 10, options: cluster.ControlOptions);
        for (var i = 0; i < 10; i++)
        {
            tx.Write(0, 1UL);
        }

        Assert.That(ClusterAdmin.ReadRails(cluster.Paths).Logical[0].ActivePhysical, Is.Zero, "ten errors do not fail over");
        ImcControl.InjectErrors(0, 1, options: cluster.ControlOptions);
        tx.Write(0, 1UL);

        var rails = ClusterAdmin.ReadRails(cluster.Paths);
        Assert.That(rails.Logical[0].ActivePhysical, Is.EqualTo(1));
        Assert.That(rails.Physical[0].Failed, Is.True);
        tx.Write(0, 2UL);
        Assert.That(rx.Read<ulong>(0), Is.EqualTo(2UL));
    }

    [Test]
    public void ShouldLoseWritesOnAFailedSingleRailUntilItIsRepaired()
    {
        using var cluster = TemporaryCluster.Create(new ClusterConfiguration { PhysicalRails = 2 }, "alpha", "beta");
        using var writer = cluster.Open("alpha");
        using var reader = cluster.Open("beta");
        using var tx = writer.AllocateRegion(1, 8192, logicalRail: 1).AttachTransmit();
        using var rxRegion = reader.AllocateRegion(1, 8192, logicalRail: 1);
        using var rx = rxRegion.AttachReceive();
        var change = reader.WaitForClusterEventAsync(ImcClusterEvents.Rail, reader.GetClusterInfo());

        Assert.That(ImcCtl(cluster, "fail-rail", "1").ExitCode, Is.Zero);
        tx.Write(0, 1UL);

        Assert.That(rx.Read<ulong>(0), Is.Zero);
        Assert.That(change.Wait(s_deadline), Is.True);
        Assert.That(change.Result.Kind, Is.EqualTo(ImcClusterEventKind.RailChange));
        Assert.That(change.Result.Info.ActiveRailMask, Is.EqualTo(0b01u));
        Assert.That(ClusterAdmin.ReadRails(cluster.Paths).Logical[1].Drops, Is.EqualTo(1));
        // The failure's error window over and the count caught up, only the rail being down is left to report.
        var count = Poll.Until(() => reader.ReadErrorCount(1), c => c >= 0, "rail 1's error processing window to end");
        Assert.That(reader.CheckErrorCount(ref count, 1), Is.EqualTo(ImcStatus.McError), "a down rail is an outstanding error");

        var back = reader.WaitForClusterEventAsync(ImcClusterEvents.Rail, change.Result.Info);
        Assert.That(ImcCtl(cluster, "repair-rail", "1").ExitCode, Is.Zero);
        tx.Write(0, 2UL);

        Assert.That(rx.Read<ulong>(0), Is.EqualTo(2UL));
        Assert.That(back.Wait(s_deadline), Is.True);
        Assert.That(back.Result.Info.ActiveRailMask, Is.EqualTo(0b11u));
    }
}
