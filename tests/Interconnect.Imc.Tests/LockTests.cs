using System.Diagnostics;
using System.Globalization;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>Clusterwide locks (manual 10.7): exclusion, atomic creation, dead holders, sleeping waiters, every status.</summary>
public sealed class LockTests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private static ImcStatus StatusOf(TestDelegate call) => Assert.Throws<ImcException>(call)!.Status;

    [Test]
    public void ShouldKeepACounterExactUnderLockAcrossFourProcessesOnTwoHosts()
    {
        const int Increments = 20_000;
        var peers = new[]
        {
            _cluster.StartPeer("alpha"), _cluster.StartPeer("alpha"), _cluster.StartPeer("beta"), _cluster.StartPeer("beta"),
        };
        foreach (var peer in peers)
        {
            peer.Send("alloc 40 8192 600 1");
            peer.Send("tx 40");
            peer.Send("rx 40");
            peer.Send("lkalloc 41 1");
        }

        foreach (var peer in peers)
        {
            peer.Post($"count-under-lock 41 40 {Increments}");
        }

        foreach (var peer in peers)
        {
            var reply = peer.Receive("count-under-lock", TimeSpan.FromMinutes(3));
            Assert.That(reply.Ok, Is.True, reply.Text);
        }

        Assert.That(peers[0].Send("read64 40 0"), Is.EqualTo($"{4 * Increments}"));
        Assert.That(peers[3].Send("read64 40 0"), Is.EqualTo($"{4 * Increments}"));
    }

    [Test]
    public void ShouldLetExactlyOneOfEightRacingProcessesCreateTheSetAndHoldLockZero()
    {
        var peers = Enumerable.Range(0, 8).Select(i => _cluster.StartPeer(i % 2 == 0 ? "alpha" : "beta")).ToArray();

        foreach (var peer in peers)
        {
            peer.Post("lkcreate 50 3");
        }

        var answers = peers.Select(p => p.Receive("lkcreate")).ToArray();
        Assert.That(answers.Select(a => a.Text), Has.Exactly(1).EqualTo("created"));
        Assert.That(answers.Select(a => a.Text), Has.Exactly(7).EqualTo("exists"));
        var creator = peers[Array.FindIndex(answers, a => a.Text == "created")];
        var other = peers[Array.FindIndex(answers, a => a.Text == "exists")];
        other.Send("lkalloc 50 3");
        Assert.That(other.Send("tryacquire 50 0"), Is.EqualTo("busy"));
        Assert.That(other.Send("tryacquire 50 1"), Is.EqualTo("got"));
        creator.Send("release 50 0");
        Assert.That(other.Send("tryacquire 50 0"), Is.EqualTo("got"));
    }

    [Test]
    public void ShouldPassTheLockOfAKilledHolderToAWaiter()
    {
        var holder = _cluster.StartPeer("alpha");
        var waiter = _cluster.StartPeer("beta");
        holder.Send("lkalloc 60 2");
        waiter.Send("lkalloc 60 2");
        holder.Send("acquire 60 1");

        waiter.Post("acquire 60 1");
        Thread.Sleep(300);
        holder.Kill();
        var reply = waiter.Receive("acquire", TimeSpan.FromSeconds(30));

        Assert.That(reply.Ok, Is.True, reply.Text);
        Assert.That(waiter.Send("tryacquire 60 0"), Is.EqualTo("got"));
        waiter.Send("release 60 1");
    }

    [Test]
    public void ShouldLetWaitersSleepWhileTheLockIsHeld()
    {
        using var holderContext = _cluster.Open("alpha");
        using var locks = holderContext.AllocateLockSet(70, 1);
        locks.Acquire(0);
        var waiters = new[] { _cluster.StartPeer("alpha"), _cluster.StartPeer("beta"), _cluster.StartPeer("beta") };
        var cpuBefore = new long[waiters.Length];
        for (var i = 0; i < waiters.Length; i++)
        {
            waiters[i].Send("lkalloc 70 1");
            waiters[i].Send("cpu-ms"); // warm the command up
            cpuBefore[i] = long.Parse(waiters[i].Send("cpu-ms"), CultureInfo.InvariantCulture);
        }

        var wall = Stopwatch.StartNew();
        foreach (var waiter in waiters)
        {
            waiter.Post("acquire 70 0");
        }

        Thread.Sleep(2000);
        locks.Release(0);
        var pending = waiters.ToList();
        var deadline = Stopwatch.StartNew();
        while (pending.Count > 0)
        {
            // Each waiter gets the lock in turn, and releases it for the next.
            Assert.That(deadline.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)), "a waiter never got the lock");
            var got = pending.Find(w => w.TryReceive(out _, TimeSpan.FromMilliseconds(20)));
            if (got is not null)
            {
                got.Send("release 70 0");
                pending.Remove(got);
            }
        }

        var elapsedMs = wall.ElapsedMilliseconds;
        for (var i = 0; i < waiters.Length; i++)
        {
            var cpu = long.Parse(waiters[i].Send("cpu-ms"), CultureInfo.InvariantCulture) - cpuBefore[i];
            Assert.That(cpu, Is.LessThan(elapsedMs * 0.3), $"waiter {i} used {cpu} ms of CPU in {elapsedMs} ms");
        }
    }

    [Test]
    public void ShouldReleaseTheLocksOfAKilledProcessForTheNextAcquirer()
    {
        var holder = _cluster.StartPeer("alpha");
        holder.Send("lkalloc 80 1");
        holder.Send("acquire 80 0");
        holder.Kill();

        using var context = _cluster.Open("beta");
        using var locks = context.AllocateLockSet(80, 1);

        Assert.That(locks.TryAcquire(0), Is.True);
    }

    [Test]
    public void ShouldFreeALockSetWhenItsLastUserDeallocates()
    {
        using var a = _cluster.Open("alpha");
        using var b = _cluster.Open("beta");
        var first = a.AllocateLockSet(90, 2);
        var second = b.AllocateLockSet(90, 5);
        Assert.That(second.Count, Is.EqualTo(2), "an existing set keeps its own count");

        first.Deallocate();
        second.Deallocate();
        using var again = a.AllocateLockSet(90, 5);

        Assert.That(again.Count, Is.EqualTo(5));
    }

    [Test]
    public void ShouldReportExistsAsFalseFromTryCreate()
    {
        using var a = _cluster.Open("alpha");
        using var b = _cluster.Open("beta");
        Assert.That(a.TryCreateLockSet(91, 1, ImcLockPermissions.User, out var created), Is.True);

        Assert.That(b.TryCreateLockSet(91, 1, ImcLockPermissions.User, out var none), Is.False);
        Assert.That(none, Is.Null);
        created!.Dispose();
    }

    [TestCase(-1)]
    [TestCase(4)]
    [TestCase(int.MaxValue)]
    [TestCase(int.MinValue)]
    public void ShouldRefuseAnIndexOutsideTheSetWithBadLock(int index)
    {
        using var context = _cluster.Open("alpha");
        using var locks = context.AllocateLockSet(92, 4);

        Assert.That(StatusOf(() => locks.Acquire(index)), Is.EqualTo(ImcStatus.BadLock));
        Assert.That(StatusOf(() => locks.TryAcquire(index)), Is.EqualTo(ImcStatus.BadLock));
        Assert.That(StatusOf(() => locks.Release(index)), Is.EqualTo(ImcStatus.BadLock));
    }

    [Test]
    public void ShouldRefuseToAcquireALockThisProcessHoldsWithLockPrior()
    {
        using var context = _cluster.Open("alpha");
        using var locks = context.AllocateLockSet(93, 1);
        locks.Acquire(0);

        Assert.That(StatusOf(() => locks.Acquire(0)), Is.EqualTo(ImcStatus.LockPrior));
        Assert.That(StatusOf(() => locks.TryAcquire(0)), Is.EqualTo(ImcStatus.LockPrior));
    }

    [Test]
    public void ShouldRefuseToReleaseALockThisProcessDoesNotHoldWithLockNotHeld()
    {
        using var a = _cluster.Open("alpha");
        using var b = _cluster.Open("alpha");
        using var mine = a.AllocateLockSet(94, 1);
        using var theirs = b.AllocateLockSet(94, 1);

        Assert.That(StatusOf(() => mine.Release(0)), Is.EqualTo(ImcStatus.LockNotHeld));
        theirs.Acquire(0);
        Assert.That(StatusOf(() => mine.Release(0)), Is.EqualTo(ImcStatus.LockNotHeld));
    }

    [Test]
    public void ShouldRefuseToDeallocateWhileHoldingALockWithLockActive()
    {
        using var context = _cluster.Open("alpha");
        using var locks = context.AllocateLockSet(95, 2);
        locks.Acquire(1);

        Assert.That(StatusOf(locks.Deallocate), Is.EqualTo(ImcStatus.LockActive));
        locks.Release(1);
        locks.Deallocate();
    }

    [Test]
    public void ShouldRefuseASecondAllocationByTheSameProcessWithPrior()
    {
        using var context = _cluster.Open("alpha");
        using var locks = context.AllocateLockSet(96, 1);

        Assert.That(StatusOf(() => context.AllocateLockSet(96, 1)), Is.EqualTo(ImcStatus.Prior));
    }

    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldRefuseAnotherUserWithPermit()
    {
        using var owner = _cluster.Open("alpha");
        using var userOnly = owner.AllocateLockSet(97, 1, ImcLockPermissions.User);
        using var open = owner.AllocateLockSet(98, 1, ImcLockPermissions.User | ImcLockPermissions.Other);
        var stranger = _cluster.StartPeer("beta", user: "nobody");

        Assert.That(stranger.Ask("lkalloc 97 1").Status, Is.EqualTo("Permit"));
        stranger.Send("lkalloc 98 1 7");
        Assert.That(stranger.Send("tryacquire 98 0"), Is.EqualTo("got"));
    }

    [TestCase(0)]
    [TestCase(-3)]
    [TestCase(1025)]
    public void ShouldRefuseABadCountWithBadParameter(int count)
    {
        using var context = _cluster.Open("alpha");

        Assert.That(StatusOf(() => context.AllocateLockSet(99, count)), Is.EqualTo(ImcStatus.BadParameter));
    }

    [Test]
    public void ShouldRefuseLockSetsBeyondTheClustersLockSpaceWithNoResources()
    {
        using var context = _cluster.Open("alpha");
        var sets = Enumerable.Range(0, 4).Select(i => context.AllocateLockSet(200 + i, 1024)).ToList();

        Assert.That(StatusOf(() => context.AllocateLockSet(300, 1)), Is.EqualTo(ImcStatus.NoResources));
        sets[0].Dispose();
        using var fits = context.AllocateLockSet(300, 1);
        sets.ForEach(s => s.Dispose());
    }

    [Test]
    public void ShouldAllocateNothingPerAcquireAndRelease()
    {
        using var context = _cluster.Open("alpha");
        using var locks = context.AllocateLockSet(301, 1);
        for (var i = 0; i < 1000; i++)
        {
            locks.Acquire(0);
            locks.Release(0);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            locks.Acquire(0);
            locks.Release(0);
            _ = locks.TryAcquire(0);
            locks.Release(0);
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }
}
