using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>API.md: use after dispose throws ObjectDisposedException; a lock set's Dispose releases its locks for others.</summary>
public sealed class DisposalTests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    [Test]
    public void ShouldThrowObjectDisposedExceptionFromADisposedContext()
    {
        var context = ImcContext.Open(_cluster.Options("alpha"));
        context.Dispose();

        Assert.Throws<ObjectDisposedException>(() => context.AllocateRegion(1, 8192));
        Assert.Throws<ObjectDisposedException>(() => context.AllocateLockSet(1, 1));
        Assert.Throws<ObjectDisposedException>(() => context.GetClusterInfo());
        Assert.Throws<ObjectDisposedException>(() => context.ReadErrorCount(0));
        Assert.Throws<ObjectDisposedException>(() => context.Kill("alpha", Environment.ProcessId, 10));
    }

    [Test]
    public void ShouldThrowObjectDisposedExceptionFromADisposedRegion()
    {
        using var context = _cluster.Open("alpha");
        var region = context.AllocateRegion(1, 8192);
        region.Dispose();

        // API.md: "Use after dispose throws ObjectDisposedException" (NotAllocated is for use after Deallocate).
        Assert.Throws<ObjectDisposedException>(() => region.AttachReceive());
        Assert.Throws<ObjectDisposedException>(() => region.AttachTransmit());
        Assert.Throws<ObjectDisposedException>(() => region.AttachTransmitTo("beta"));
        Assert.Throws<ObjectDisposedException>(region.Detach);
        Assert.Throws<ObjectDisposedException>(region.Deallocate);
    }

    [Test]
    public void ShouldThrowObjectDisposedExceptionFromDisposedWindows()
    {
        using var context = _cluster.Open("alpha");
        using var region = context.AllocateRegion(1, 8192);
        var rx = region.AttachReceive();
        var tx = region.AttachTransmit();
        rx.Dispose();
        tx.Dispose();

        Assert.Throws<ObjectDisposedException>(() => rx.Read<ulong>(0));
        Assert.Throws<ObjectDisposedException>(() => rx.Read(0, new byte[8]));
        Assert.Throws<ObjectDisposedException>(() => rx.AsSpan(0, 8));
        Assert.Throws<ObjectDisposedException>(() => tx.Write(0, 1UL));
        Assert.Throws<ObjectDisposedException>(() => tx.Write(0, new byte[8]));
    }

    [Test]
    public void ShouldThrowObjectDisposedExceptionFromADisposedLockSet()
    {
        using var context = _cluster.Open("alpha");
        var locks = context.AllocateLockSet(1, 2);
        locks.Dispose();

        Assert.Throws<ObjectDisposedException>(() => locks.Acquire(0));
        Assert.Throws<ObjectDisposedException>(() => locks.TryAcquire(0));
        Assert.Throws<ObjectDisposedException>(() => locks.Release(0));
    }

    [Test]
    public void ShouldThrowObjectDisposedExceptionFromDeallocateOfADisposedLockSet()
    {
        using var context = _cluster.Open("alpha");
        var locks = context.AllocateLockSet(1, 2);
        locks.Dispose();

        // API.md: "Use after dispose throws ObjectDisposedException" (NotAllocated is for a second Deallocate).
        Assert.Throws<ObjectDisposedException>(locks.Deallocate);
    }

    [Test]
    public void ShouldReleaseHeldLocksOnDisposeSoAnotherProcessCanTakeThem()
    {
        using var context = _cluster.Open("alpha");
        var locks = context.AllocateLockSet(60, 2);
        locks.Acquire(0);
        locks.Acquire(1);
        var other = _cluster.StartPeer("beta");
        other.Send("lkalloc 60 2");
        Assert.That(other.Send("tryacquire 60 0"), Is.EqualTo("busy"));
        Assert.That(other.Send("tryacquire 60 1"), Is.EqualTo("busy"));

        locks.Dispose();

        Assert.That(other.Send("tryacquire 60 0"), Is.EqualTo("got"));
        Assert.That(other.Send("tryacquire 60 1"), Is.EqualTo("got"));
    }

    [Test]
    public void ShouldReleaseHeldLocksWhenTheContextIsDisposedSoAnotherProcessCanWaitForThem()
    {
        var context = ImcContext.Open(_cluster.Options("alpha"));
        var locks = context.AllocateLockSet(61, 1);
        locks.Acquire(0);
        var other = _cluster.StartPeer("beta");
        other.Send("lkalloc 61 1");
        other.Post("acquire 61 0");
        Assert.That(other.TryReceive(out _, TimeSpan.FromMilliseconds(300)), Is.False, "the lock is held");

        context.Dispose();

        var reply = other.Receive("acquire 61 0", TimeSpan.FromSeconds(30));
        Assert.That(reply.Ok, Is.True, reply.Text);
    }
}
