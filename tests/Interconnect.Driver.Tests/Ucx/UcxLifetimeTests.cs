using System.Globalization;
using System.Runtime.InteropServices;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Testing;

namespace Interconnect.Driver.Tests.Ucx;

/// <summary>
/// The UCX objects' lifetimes: a dispose on one thread never destroys a native handle under a call on another, a child
/// keeps its parent's handle alive (child destroyed first, also by the finalizer), and a second dispose is harmless.
/// What could crash runs in a child peer (the imc-test-peer commands ucx-dispose-worker-race and its kin): a use after free ends the peer, which the
/// test reports, rather than the test host.
/// </summary>
[NonParallelizable]
public sealed class UcxLifetimeTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromMinutes(3);
    private string? _previousTransports;

    [OneTimeSetUp]
    public void ForceTcp()
    {
        UcxLibraries.Require();
        _previousTransports = Environment.GetEnvironmentVariable("UCX_TLS");
        Environment.SetEnvironmentVariable("UCX_TLS", "tcp");
    }

    [OneTimeTearDown]
    public void RestoreTransports() => Environment.SetEnvironmentVariable("UCX_TLS", _previousTransports);

    /// <summary>
    /// imcd's progress thread progresses and arms its worker while other threads signal it (without the worker's lock);
    /// a dispose meanwhile must leave each of them a call that works or an <see cref="ObjectDisposedException"/>, never
    /// a destroyed worker (a signal into freed memory, or into a closed event descriptor, which UCX reports as an error).
    /// </summary>
    [Test]
    public void ShouldDisposeAWorkerUnderProgressAndSignalsWithoutHarm()
    {
        using var peer = UcxTarget.StartPeer();

        var calls = long.Parse(peer.Send("ucx-dispose-worker-race 300", s_deadline), CultureInfo.InvariantCulture);

        Assert.That(calls, Is.GreaterThan(0), "the threads called the worker before it was disposed");
        Assert.That(peer.Send("ucx-dispose-worker-race 1"), Is.Not.Empty, "the peer lives on");
    }

    /// <summary>
    /// Disposing a context disposes what was made from it; a thread still putting through an endpoint of it, or
    /// signalling its worker, gets <see cref="ObjectDisposedException"/> from its next call, not a crash, and the
    /// endpoint's graceful close leaves the target serving.
    /// </summary>
    [Test]
    public void ShouldDisposeAContextUnderAnEndpointInUseWithoutHarm()
    {
        using var target = UcxTarget.Start(1 << 16);
        using var peer = UcxTarget.StartPeer();

        var calls = long.Parse(peer.Send($"ucx-dispose-context-race {target.ConnectArguments} 40", s_deadline),
            CultureInfo.InvariantCulture);

        Assert.That(calls, Is.GreaterThan(0), "the threads called through the endpoint before the context was disposed");
        Assert.That(target.Read64(0), Is.Zero, "the puts of zeroes landed, and the target still answers");
    }

    /// <summary>
    /// A worker holds its context's handle: with the context's handle released first (as the finalizer may do), the
    /// worker still connects, puts and reads back, since <c>ucp_cleanup</c> waits for the worker's destroy. Were the
    /// context cleaned up at once, the puts would run on freed memory.
    /// </summary>
    [Test]
    public void ShouldKeepAContextAliveForAWorkerMadeFromIt()
    {
        const ulong Value = 0x5afe_4a4d_1e00_0001;
        using var target = UcxTarget.Start(1 << 16);
        using var peer = UcxTarget.StartPeer();

        var back = ulong.Parse(peer.Send($"ucx-parent-first {target.ConnectArguments} {Value}", s_deadline),
            CultureInfo.InvariantCulture);

        Assert.That(back, Is.EqualTo(Value), "read back through the worker");
        Assert.That(target.Read64(0), Is.EqualTo(Value), "landed at the target");
    }

    /// <summary>
    /// Contexts, workers, endpoints, keys and registrations dropped undisposed are finalized, in whatever order the
    /// finalizer takes their handles: every handle is finalized (none is kept reachable), and the releases, each on the
    /// finalizer thread and each taking the worker's lock, neither hang nor crash the peer. (That a child is destroyed
    /// before its parent is shown deterministically by <see cref="ShouldKeepAContextAliveForAWorkerMadeFromIt"/>: a
    /// wrong order here is a use after free that need not crash.)
    /// </summary>
    [Test]
    public void ShouldFinalizeAbandonedObjectsWithoutHarm()
    {
        using var target = UcxTarget.Start(1 << 16);
        using var peer = UcxTarget.StartPeer();

        var alive = peer.Send($"ucx-abandon {target.ConnectArguments} 20", s_deadline);

        Assert.That(alive, Is.EqualTo("0"), "handles not finalized");
        Assert.That(target.Hash(0, 64), Is.Not.Empty, "the target lives on");
    }

    /// <summary>Each object disposed twice, children first: the second dispose does nothing, and using it says it is disposed.</summary>
    [Test]
    public unsafe void ShouldIgnoreASecondDisposeOfEachObject()
    {
        using var target = UcxTarget.Start(1 << 16);
        var bytes = (nint)NativeMemory.AlignedAlloc(4096, 4096);
        try
        {
            using var context = UcxContext.Create(UcxOperations.MessagesAndOneSided);
            var worker = context.CreateWorker();
            var endpoint = worker.Connect(target.Address, "the target peer");
            var key = endpoint.UnpackKey(target.Key);
            var memory = context.Map(bytes, 4096);

            key.Dispose();
            key.Dispose();
            Assert.Throws<ObjectDisposedException>(() => endpoint.Put(new byte[8], target.BaseAddress, key));
            memory.Dispose();
            memory.Dispose();
            Assert.Throws<ObjectDisposedException>(() => memory.PackKey());
            endpoint.Dispose();
            endpoint.Dispose();
            Assert.Throws<ObjectDisposedException>(() => endpoint.Flush());
            worker.Dispose();
            worker.Dispose();
            Assert.Throws<ObjectDisposedException>(() => worker.Signal());
            context.Dispose();
            context.Dispose();
            Assert.Throws<ObjectDisposedException>(() => context.Map(bytes, 4096));
        }
        finally
        {
            NativeMemory.AlignedFree((void*)bytes); // unregistered by now
        }
    }
}
