using Interconnect.Driver;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>Cluster information and events (manual 10.9.1).</summary>
public sealed class ClusterEventTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(30);
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create(new ClusterConfiguration { PhysicalRails = 3 }, "alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    [Test]
    public void ShouldReportTheUpHostsAndRails()
    {
        using var context = _cluster.Open("alpha");

        var info = context.GetClusterInfo();

        Assert.That(info.Hosts, Is.EquivalentTo(new[] { "alpha", "beta" }));
        Assert.That(info.LogicalRailCount, Is.EqualTo(3));
        Assert.That(info.ActiveRailMask, Is.EqualTo(0b111u));
    }

    [Test]
    public void ShouldWakeOnAHostJoinedByImcInit()
    {
        using var context = _cluster.Open("alpha");
        var info = context.GetClusterInfo();
        var wait = context.WaitForClusterEventAsync(ImcClusterEvents.Host, info);
        Assert.That(wait.IsCompleted, Is.False); // no sleep: the hosts in its result show it woke for the join, not before

        var result = Command.Run("imc_init", _cluster.Root, TemporaryCluster.ClusterName, "--host", "gamma");
        Assert.That(result.ExitCode, Is.Zero, result.Error);

        Assert.That(wait.Wait(s_deadline), Is.True);
        Assert.That(wait.Result.Kind, Is.EqualTo(ImcClusterEventKind.HostChange));
        Assert.That(wait.Result.Info.Hosts, Is.EquivalentTo(new[] { "alpha", "beta", "gamma" }));
    }

    [Test]
    public void ShouldWakeOnAHostLeave()
    {
        using var context = _cluster.Open("alpha");
        var wait = context.WaitForClusterEventAsync(ImcClusterEvents.Host | ImcClusterEvents.Rail, context.GetClusterInfo());

        var result = Command.Run("imc_init", _cluster.Root, TemporaryCluster.ClusterName, "--host", "beta", "--down");
        Assert.That(result.ExitCode, Is.Zero, result.Error);

        Assert.That(wait.Wait(s_deadline), Is.True);
        Assert.That(wait.Result.Kind, Is.EqualTo(ImcClusterEventKind.HostChange));
        Assert.That(wait.Result.Info.Hosts, Is.EqualTo(new[] { "alpha" }));
    }

    [Test]
    public void ShouldWakeAWaiterInAnotherProcess()
    {
        var waiter = _cluster.StartPeer("beta");
        waiter.Post("wait-host-event 30000");
        Assert.That(waiter.Receive("wait-host-event").Text, Is.EqualTo("waiting"));

        _cluster.InitHost("delta");

        var reply = waiter.Receive("wait-host-event", s_deadline);
        Assert.That(reply.Ok, Is.True, reply.Text);
        Assert.That(reply.Text, Does.StartWith("HostChange").And.Contain("delta"));
    }

    [Test]
    public void ShouldReturnAtOnceWhenTheClusterAlreadyDiffers()
    {
        using var context = _cluster.Open("alpha");
        var stale = new ImcClusterInfo(["alpha"], 3, 0b111);

        var wait = context.WaitForClusterEventAsync(ImcClusterEvents.Host, stale);

        Assert.That(wait.Wait(s_deadline), Is.True);
        Assert.That(wait.Result.Kind, Is.EqualTo(ImcClusterEventKind.HostChange));
    }

    [Test]
    public void ShouldReportMultipleChangeWhenHostsAndRailsDiffer()
    {
        using var context = _cluster.Open("alpha");
        var stale = new ImcClusterInfo(["alpha"], 2, 0b11);

        var wait = context.WaitForClusterEventAsync(ImcClusterEvents.Host | ImcClusterEvents.Rail, stale);

        Assert.That(wait.Wait(s_deadline), Is.True);
        Assert.That(wait.Result.Kind, Is.EqualTo(ImcClusterEventKind.MultipleChange));
    }

    [Test]
    public void ShouldIgnoreChangesItDoesNotWatch()
    {
        using var context = _cluster.Open("alpha");
        var info = context.GetClusterInfo();
        var wait = context.WaitForClusterEventAsync(ImcClusterEvents.Rail, info);
        var hostWait = context.WaitForClusterEventAsync(ImcClusterEvents.Host, info);

        _cluster.InitHost("gamma");

        // The host waiter woke: the join has been seen by this context's waiters; the rail waiter has not.
        Assert.That(hostWait.Wait(s_deadline), Is.True, "the host join reached the waiters");
        Assert.That(wait.IsCompleted, Is.False, "a rail waiter woke on a host join");

        // Whenever it wakes, its result must be a rail change: one woken by the join would still show three rails up.
        Assert.That(ImcControl.FailRail(1, _cluster.ControlOptions), Is.True);
        Assert.That(wait.Wait(s_deadline), Is.True);
        Assert.That(wait.Result.Kind, Is.EqualTo(ImcClusterEventKind.RailChange));
        Assert.That(wait.Result.Info.ActiveRailMask, Is.EqualTo(0b101u));
    }

    [Test]
    public void ShouldBeCancelledCleanly()
    {
        using var context = _cluster.Open("alpha");
        using var cancel = new CancellationTokenSource();
        var waits = Enumerable.Range(0, 50)
            .Select(_ => context.WaitForClusterEventAsync(ImcClusterEvents.Host, context.GetClusterInfo(), cancel.Token))
            .ToArray();

        cancel.Cancel();

        Assert.That(() => Task.WhenAll(waits).Wait(s_deadline), Throws.InstanceOf<AggregateException>()
            .With.InnerException.InstanceOf<TaskCanceledException>());
        Assert.That(waits.All(w => w.IsCanceled), Is.True);
        var after = context.WaitForClusterEventAsync(ImcClusterEvents.Host, context.GetClusterInfo());
        _cluster.InitHost("gamma");
        Assert.That(after.Wait(s_deadline), Is.True);
    }

    [TestCase(0)]
    [TestCase(4)]
    public void ShouldRefuseNoOrUnknownEventsWithBadParameter(int events)
    {
        using var context = _cluster.Open("alpha");

        var e = Assert.Throws<ImcException>(() =>
            context.WaitForClusterEventAsync((ImcClusterEvents)events, context.GetClusterInfo()));

        Assert.That(e!.Status, Is.EqualTo(ImcStatus.BadParameter));
    }
}
