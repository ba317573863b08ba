using System.Globalization;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests.AcrossMachines;

/// <summary>
/// Clusterwide lock sets across machines: words in the home machine's lock arena, changed only by UCX atomics. Each
/// test is real processes (imc-test-peer) on simulated machines, and each waits with a deadline.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(600_000)]
public sealed class LockTests
{
    private ImcMachines _imc = null!;

    [OneTimeSetUp]
    public void StartMachines() => _imc = ImcMachines.Start(3, progress: "wait"); // agents off the cores: the tests start many processes

    [OneTimeTearDown]
    public void StopMachines() => _imc?.Dispose();

    /// <summary>TryCreateLockSet raced from 3 machines: exactly one creator, which holds lock 0 from the start.</summary>
    [Test]
    public void ShouldHaveExactlyOneCreatorWhenThreeMachinesRaceToCreateALockSet()
    {
        for (var round = 0; round < 3; round++)
        {
            var key = 90 + round;
            var peers = Enumerable.Range(0, 3).Select(i => _imc.Peer(_imc[i], $"r{round}m{i}")).ToArray();
            foreach (var peer in peers)
            {
                peer.Post($"lkcreate {key} 2");
            }

            var answers = peers.Select(p => p.Receive($"lkcreate {key} 2").Text).ToArray();
            Assert.That(answers.Count(a => a == "created"), Is.EqualTo(1), string.Join(", ", answers));
            Assert.That(answers.Count(a => a == "exists"), Is.EqualTo(2), string.Join(", ", answers));

            var creator = peers[Array.IndexOf(answers, "created")];
            var other = peers.First(p => p != creator);
            other.Send($"lkalloc {key} 2");
            Assert.That(other.Send($"tryacquire {key} 0"), Is.EqualTo("busy"), "the creator holds lock 0 from creation");
            Assert.That(other.Send($"tryacquire {key} 1"), Is.EqualTo("got"));
            creator.Send($"release {key} 0");
            Assert.That(other.Send($"tryacquire {key} 0"), Is.EqualTo("got"));
            foreach (var peer in peers)
            {
                peer.Dispose();
            }
        }
    }

    /// <summary>A holder SIGKILLed on machine 1 is released for a waiter on machine 2 within a deadline.</summary>
    [Test]
    public void ShouldPassTheLockOfAHolderKilledOnOneMachineToAWaiterOnAnother()
    {
        var holder = _imc.Peer(_imc[0], "kh");
        var waiter = _imc.Peer(_imc[1], "kw");
        holder.Send("lkalloc 84 2");
        holder.Send("acquire 84 1");
        waiter.Send("lkalloc 84 2");
        Assert.That(waiter.Send("tryacquire 84 1"), Is.EqualTo("busy"));
        waiter.Post("acquire 84 1");
        Assert.That(waiter.TryReceive(out _, TimeSpan.FromMilliseconds(1000)), Is.False, "the lock is held");

        holder.Kill();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var reply = waiter.Receive("acquire 84 1", TimeSpan.FromSeconds(20));
        Assert.That(reply.Ok, Is.True, reply.Text);
        TestContext.Out.WriteLine($"the waiter got the dead holder's lock {clock.ElapsedMilliseconds} ms after the kill");
        waiter.Send("release 84 1");
        var third = _imc.Peer(_imc[2], "kt");
        third.Send("lkalloc 84 2");
        Assert.That(third.Send("tryacquire 84 1"), Is.EqualTo("got"));
    }

    /// <summary>
    /// Bad input as on one machine: LockNotHeld, LockPrior, BadLock, Prior, LockActive; an existing key allocated with
    /// another count is that set with its own count; a set freed by its last user is made anew.
    /// </summary>
    [Test]
    public void ShouldAnswerBadInputAsOnOneMachine()
    {
        var a = _imc.Peer(_imc[0], "ba");
        var b = _imc.Peer(_imc[1], "bb");
        a.Send("lkalloc 86 4");
        b.Send("lkalloc 86 8");
        Assert.That(b.Send("lkcount 86"), Is.EqualTo("4"), "an existing set keeps its own count");

        Assert.That(b.Ask("release 86 0").Status, Is.EqualTo("LockNotHeld"));
        a.Send("acquire 86 0");
        Assert.That(b.Ask("release 86 0").Status, Is.EqualTo("LockNotHeld"), "held by another process");
        Assert.That(a.Ask("acquire 86 0").Status, Is.EqualTo("LockPrior"));
        Assert.That(a.Ask("tryacquire 86 0").Status, Is.EqualTo("LockPrior"));
        Assert.That(b.Ask("acquire 86 4").Status, Is.EqualTo("BadLock"));
        Assert.That(b.Ask("lkalloc 86 4").Status, Is.EqualTo("Prior"));
        Assert.That(a.Ask("lkdealloc 86").Status, Is.EqualTo("LockActive"));
        a.Send("release 86 0");
        Assert.That(a.Ask("release 86 0").Status, Is.EqualTo("LockNotHeld"), "released twice");

        a.Send("lkdealloc 86");
        b.Send("lkdealloc 86");
        b.Send("lkalloc 86 8");
        Assert.That(b.Send("lkcount 86"), Is.EqualTo("8"), "the last user freed the set: a new one is made");
        b.Send("lkdealloc 86");
    }

    /// <summary>Not a timed test: what one acquire and release cost across machines, for the record.</summary>
    [Test]
    public void ShouldReportTheRoundTripOfAnAcquireAndReleaseAcrossMachines()
    {
        var home = _imc.Peer(_imc[0], "th");
        var away = _imc.Peer(_imc[1], "ta");
        home.Send("lkalloc 88 1");
        away.Send("lkalloc 88 1");
        var local = home.Send("lock-rtt 88 500", TimeSpan.FromMinutes(3));
        var remote = away.Send("lock-rtt 88 500", TimeSpan.FromMinutes(3));
        TestContext.Out.WriteLine($"acquire+release p50 p99 mean (µs): on the home machine {local}; from another machine {remote}");
        Assert.That(remote.Split(' '), Has.Length.EqualTo(3));
        home.Dispose();
        away.Dispose();
    }
}

/// <summary>Mutual exclusion across machines under load: its own two machines, so it shares the cores with nothing else of ours.</summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(900_000)]
public sealed class LockCounterTests
{
    /// <summary>
    /// 4 processes on 2 machines each make 10,000 increments of one counter under one lock: the counter ends exact.
    /// The counter is a word of a non-coherent region that every process receives (with loopback) and writes by
    /// broadcast: under the lock a process reads it from its own receive memory and writes it plus one. That is
    /// exact only if the lock excludes and if every holder's write has landed everywhere before its release is seen
    /// (a release flushes this process's puts before its compare-and-swap); a lost increment shows as a smaller total.
    /// </summary>
    [Test]
    public void ShouldKeepFourProcessesOnTwoMachinesExactOverTenThousandIncrementsEach()
    {
        const int Increments = 10_000;
        // Two machines of their own, their agents sleeping between events: four busy processes and two spinning
        // agents on a small machine would leave each round trip waiting for a core.
        using var imc = ImcMachines.Start(2, progress: "wait");
        var peers = new[]
        {
            imc.Peer(imc[0], "ca0"), imc.Peer(imc[0], "ca1"), imc.Peer(imc[1], "cb0"), imc.Peer(imc[1], "cb1"),
        };
        foreach (var peer in peers)
        {
            peer.Send("alloc 81 4096");
            peer.Send("rx 81");
        }

        foreach (var peer in peers)
        {
            peer.Send("tx 81 1"); // broadcast with loopback: every receiver, the writer's own host too
            peer.Send("lkalloc 82 1");
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (var peer in peers)
        {
            peer.Post($"count-under-lock 82 81 {Increments}");
        }

        foreach (var peer in peers)
        {
            var reply = peer.Receive($"count-under-lock 82 81 {Increments}", TimeSpan.FromMinutes(5));
            Assert.That(reply.Ok, Is.True, reply.Text);
        }

        TestContext.Out.WriteLine($"{4 * Increments} increments under the lock in {clock.Elapsed.TotalSeconds:0.0} s");

        foreach (var peer in peers)
        {
            Assert.That(peer.Send("read64 81 0"), Is.EqualTo((4 * Increments).ToString(CultureInfo.InvariantCulture)),
                $"{peer.Host}: every increment counted, none lost");
        }
    }
}
