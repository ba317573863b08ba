using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>Cluster signals (manual 10.8): imc_kill to a process registered on a host.</summary>
public sealed class SignalTests
{
    private const int SigUsr1 = 10;
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private static ImcStatus StatusOf(TestDelegate call) => Assert.Throws<ImcException>(call)!.Status;

    [Test]
    public void ShouldDeliverASignalToAProcessOnAnotherHost()
    {
        var target = _cluster.StartPeer("beta");
        target.Send("on-signal 10");
        var pid = target.Pid;
        using var sender = _cluster.Open("alpha");

        sender.Kill("beta", pid, SigUsr1);
        Assert.That(target.Send("wait-signals 1 10000"), Is.EqualTo("1"));
        sender.Kill("beta", pid, SigUsr1); // a second one once the first was handled: pending signals coalesce

        Assert.That(target.Send("wait-signals 2 10000"), Is.EqualTo("2"));
    }

    [Test]
    public void ShouldDeliverASignalSentByAnotherProcess()
    {
        var target = _cluster.StartPeer("beta");
        target.Send("on-signal 10");
        var sender = _cluster.StartPeer("alpha");

        sender.Send($"kill beta {target.Pid} 10");

        Assert.That(target.Send("wait-signals 1 10000"), Is.EqualTo("1"));
    }

    [Test]
    public void ShouldRefuseAProcessRegisteredOnAnotherHostWithNoSuchProcess()
    {
        var target = _cluster.StartPeer("beta");
        target.Send("on-signal 10");
        using var sender = _cluster.Open("alpha");

        Assert.That(StatusOf(() => sender.Kill("alpha", target.Pid, SigUsr1)), Is.EqualTo(ImcStatus.NoSuchProcess));
        Assert.That(target.Send("signals"), Is.EqualTo("0"));
    }

    [Test]
    public void ShouldRefuseALiveProcessThatNeverOpenedTheApiWithNoSuchProcess()
    {
        using var sender = _cluster.Open("alpha");
        var unregistered = _cluster.StartPeer("beta", open: false);

        Assert.That(StatusOf(() => sender.Kill("beta", unregistered.Pid, SigUsr1)), Is.EqualTo(ImcStatus.NoSuchProcess));
        Assert.That(StatusOf(() => sender.Kill("alpha", 1, SigUsr1)), Is.EqualTo(ImcStatus.NoSuchProcess));
        Assert.That(unregistered.HasExited, Is.False);
    }

    [Test]
    public void ShouldRefuseAProcessThatDiedWithNoSuchProcess()
    {
        var target = _cluster.StartPeer("beta");
        var pid = target.Pid;
        target.Kill();
        using var sender = _cluster.Open("alpha");

        Assert.That(StatusOf(() => sender.Kill("beta", pid, SigUsr1)), Is.EqualTo(ImcStatus.NoSuchProcess));
    }

    [TestCase("gamma")]
    [TestCase("../beta")]
    [TestCase("")]
    public void ShouldRefuseAnUnknownHostWithBadHost(string host)
    {
        using var sender = _cluster.Open("alpha");

        Assert.That(StatusOf(() => sender.Kill(host, sender.ProcessId, SigUsr1)), Is.EqualTo(ImcStatus.BadHost));
    }

    [TestCase(1)]
    [TestCase(64)]
    public void ShouldDeliverTheFirstAndLastValidSignal(int signal)
    {
        var target = _cluster.StartPeer("beta");
        target.Send($"on-signal {signal}");
        using var sender = _cluster.Open("alpha");

        sender.Kill("beta", target.Pid, signal);

        Assert.That(target.Send("wait-signals 1 10000"), Is.EqualTo("1"));
        Assert.That(target.HasExited, Is.False);
    }

    [TestCase(0)]
    [TestCase(-1)]
    [TestCase(65)]
    [TestCase(int.MaxValue)]
    public void ShouldRefuseASignalOutsideOneToSixtyFourWithInvalidSignal(int signal)
    {
        using var sender = _cluster.Open("alpha");

        Assert.That(StatusOf(() => sender.Kill("alpha", sender.ProcessId, signal)), Is.EqualTo(ImcStatus.InvalidSignal));
    }

    [TestCase(0)]
    [TestCase(-1)]
    [TestCase(int.MinValue)]
    public void ShouldRefuseANonPositivePidWithBadParameter(int pid)
    {
        using var sender = _cluster.Open("alpha");

        Assert.That(StatusOf(() => sender.Kill("alpha", pid, SigUsr1)), Is.EqualTo(ImcStatus.BadParameter));
    }
}
