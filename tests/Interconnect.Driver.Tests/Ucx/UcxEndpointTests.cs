using System.Globalization;
using System.Security.Cryptography;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Testing;

namespace Interconnect.Driver.Tests.Ucx;

/// <summary>
/// The UCX binding against a target in another process, over UCX's tcp transport on loopback (as between machines
/// without RDMA): puts land where they are aimed, the payload-then-flag order holds, atomics are atomic across
/// processes, a dead target fails calls within the deadline, and bad input fails cleanly.
/// </summary>
[NonParallelizable]
public sealed class UcxEndpointTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(60);
    private string? _previousTransports;

    [OneTimeSetUp]
    public void ForceTcp()
    {
        // Without UCX every test here would fail in its target peer, which cannot load it: skip at once saying so.
        UcxLibraries.Require();
        // UCX reads UCX_TLS when a context is created: the client contexts made in this process use tcp too.
        _previousTransports = Environment.GetEnvironmentVariable("UCX_TLS");
        Environment.SetEnvironmentVariable("UCX_TLS", "tcp");
    }

    [OneTimeTearDown]
    public void RestoreTransports() => Environment.SetEnvironmentVariable("UCX_TLS", _previousTransports);

    /// <summary>
    /// UCX installs handlers for SIGSEGV and its kin when it loads; the .NET runtime turns a null dereference (a SIGSEGV)
    /// into a NullReferenceException, and with UCX's handler in its place the process froze instead ("Caught signal 11").
    /// A process that started UCX keeps the runtime's handlers.
    /// </summary>
    [Test]
    public void ShouldLeaveTheRuntimesSignalHandlersToAProcessThatStartedUcx()
    {
        using var target = UcxTarget.Start(4096); // a UCX context, worker and registered memory in that process
        Assert.That(target.Peer.Send("ucx-null-reference", TimeSpan.FromSeconds(30)), Is.EqualTo("caught"));
        Assert.That(target.Hash(0, 64), Is.Not.Empty, "the process lives on");
    }

    /// <summary>
    /// With memory events on (UCX's default), a UCX context patches the C library's mmap, munmap and madvise in place
    /// while the runtime's threads call them, and processes crashed now and then (SIGSEGV in the garbage collector). The
    /// driver turns the hooks off unless the environment sets them: the functions stay as they were. The same process
    /// with UCX's defaults set in its environment shows that this check sees a patch.
    /// </summary>
    [Test]
    public void ShouldLeaveTheCLibrarysMemoryFunctionsUnpatched()
    {
        string[] functions = ["mmap", "munmap", "madvise"];
        using (var peer = UcxTarget.StartPeer())
        {
            var before = functions.Select(f => peer.Send($"ucx-prologue {f}")).ToList();
            _ = peer.Send("ucx-serve 4096"); // a context, a worker and registered memory
            Assert.That(functions.Select(f => peer.Send($"ucx-prologue {f}")), Is.EqualTo(before));
        }

        using var hooked = PeerProcess.Start(new Dictionary<string, string?>
        {
            ["UCX_TLS"] = "tcp",
            ["UCX_MEM_EVENTS"] = "y",
            ["UCX_MEM_MMAP_HOOK_MODE"] = "bistro",
        });
        var unpatched = functions.Select(f => hooked.Send($"ucx-prologue {f}")).ToList();
        _ = hooked.Send("ucx-serve 4096");
        Assert.That(functions.Select(f => hooked.Send($"ucx-prologue {f}")), Is.Not.EqualTo(unpatched),
            "with UCX's own defaults its hooks patch at least one of them (else this test could not tell)");
    }

    [Test]
    public void ShouldLandPutsOfEverySizeAtTheirOffsets()
    {
        using var target = UcxTarget.Start(4 << 20);
        using var client = Client.Connect(target);
        var cases = new[]
        {
            (Offset: 64L, Length: 8), (Offset: 8192L, Length: 4096), (Offset: 1L << 20, Length: 1 << 20),
            (Offset: 3L << 20, Length: 1 << 16), // one tcp segment with the driver's defaults
        };
        foreach (var (offset, length) in cases)
        {
            var data = RandomNumberGenerator.GetBytes(length);
            client.Endpoint.Put(data, target.BaseAddress + (ulong)offset, client.Key);
            client.Endpoint.Flush();

            var back = new byte[length];
            client.Endpoint.Get(back, target.BaseAddress + (ulong)offset, client.Key);

            Assert.That(target.Hash(offset, length), Is.EqualTo(Convert.ToHexString(SHA256.HashData(data))), $"{length} B at {offset}");
            Assert.That(back, Is.EqualTo(data), $"get of {length} B at {offset}");
        }

        Assert.That(target.Hash(0, 64), Is.EqualTo(Convert.ToHexString(SHA256.HashData(new byte[64]))), "bytes before the first put");
    }

    [Test]
    public void ShouldNeverShowAFlagBeforeItsPayloadWithoutAFence()
    {
        const int Messages = 100_000;
        const int Words = 4;
        const long PayloadOffset = 0;
        const long FlagOffset = 4096;
        using var target = UcxTarget.Start(1 << 16);
        using var client = Client.Connect(target);
        target.Peer.Post($"ucx-watch {PayloadOffset} {Words} {FlagOffset} {Messages} 120000");

        Span<byte> payload = stackalloc byte[Words * 8];
        Span<byte> flag = stackalloc byte[8];
        for (ulong sequence = 1; sequence <= Messages; sequence++)
        {
            for (var i = 0; i < Words; i++)
            {
                BitConverter.TryWriteBytes(payload[(i * 8)..], sequence | (sequence << 32));
            }

            client.Endpoint.Put(payload, target.BaseAddress + PayloadOffset, client.Key);
            BitConverter.TryWriteBytes(flag, sequence);
            client.Endpoint.Put(flag, target.BaseAddress + FlagOffset, client.Key);
        }

        client.Endpoint.Flush();
        var reply = target.Peer.Receive("ucx-watch", TimeSpan.FromMinutes(3));
        var counts = reply.Text.Split(' ').Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        TestContext.Out.WriteLine($"target observed {counts[0]} of {Messages} flag values; stale {counts[1]}, torn {counts[2]}");

        Assert.That(reply.Ok, Is.True, reply.Text);
        Assert.That(counts[3], Is.EqualTo(Messages), "last flag seen");
        Assert.That(counts[1], Is.Zero, "flags seen before their payload");
        Assert.That(counts[2], Is.Zero, "torn payload words");
    }

    [Test]
    public void ShouldCountExactlyUnderACompareAndSwapLockFromTwoProcesses()
    {
        const int Times = 10_000;
        using var target = UcxTarget.Start(1 << 16);
        using var first = UcxTarget.StartPeer();
        using var second = UcxTarget.StartPeer();
        first.Send($"ucx-connect {target.ConnectArguments}");
        second.Send($"ucx-connect {target.ConnectArguments}");

        first.Post($"ucx-lock-increments 0 64 {Times} 1");
        second.Post($"ucx-lock-increments 0 64 {Times} 2");
        var replies = new[] { first.Receive("ucx-lock-increments", TimeSpan.FromMinutes(5)), second.Receive("ucx-lock-increments", TimeSpan.FromMinutes(5)) };
        TestContext.Out.WriteLine($"failed acquisitions: {replies[0].Text} and {replies[1].Text}");

        Assert.That(replies.Select(r => r.Ok), Is.All.True, string.Join(" | ", replies.Select(r => r.Text)));
        Assert.That(target.Read64(0), Is.EqualTo(2 * Times));
        Assert.That(target.Read64(64), Is.Zero, "lock word after both released it");
    }

    [Test]
    public void ShouldReturnTheOldValueFromEveryAtomic()
    {
        using var target = UcxTarget.Start(1 << 16);
        using var client = Client.Connect(target);
        var word32 = target.BaseAddress + 128;
        var word64 = target.BaseAddress + 256;

        var olds32 = new[] { client.Endpoint.FetchAdd32(word32, client.Key, 5), client.Endpoint.FetchAdd32(word32, client.Key, uint.MaxValue) };
        var olds64 = new[] { client.Endpoint.FetchAdd64(word64, client.Key, 1UL << 40), client.Endpoint.FetchAdd64(word64, client.Key, 7) };
        var failedSwap = client.Endpoint.CompareAndSwap64(word64, client.Key, 3, 99);
        var swap = client.Endpoint.CompareAndSwap64(word64, client.Key, (1UL << 40) + 7, 42);

        Assert.That(olds32, Is.EqualTo(new uint[] { 0, 5 }));
        Assert.That(olds64, Is.EqualTo(new ulong[] { 0, 1UL << 40 }));
        Assert.That(failedSwap, Is.EqualTo((1UL << 40) + 7), "old value of a compare that did not match");
        Assert.That(swap, Is.EqualTo((1UL << 40) + 7), "old value of a compare that matched");
        Assert.That(target.Read64(128) & 0xffff_ffff, Is.EqualTo(4), "32-bit word: 5 + (2^32 - 1) wraps to 4");
        Assert.That(target.Read64(256), Is.EqualTo(42), "64-bit word after the matching swap");
    }

    [Test]
    public void ShouldFailWithinTheDeadlineWhenTheTargetIsKilled()
    {
        using var target = UcxTarget.Start(1 << 16);
        using var client = Client.Connect(target);
        client.Worker.Timeout = TimeSpan.FromSeconds(2);
        client.Endpoint.Put(new byte[8], target.BaseAddress, client.Key);
        client.Endpoint.Flush();

        target.Peer.Kill();
        var failures = new Dictionary<string, UcxException>();
        var run = Task.Run(() =>
        {
            // A put outstanding for the flush to complete: it may fail at once or only in the flush, so it is not counted.
            try
            {
                client.Endpoint.Put(new byte[8], target.BaseAddress, client.Key);
            }
            catch (UcxException)
            {
            }

            // Then each operation on its own, so each failure is that operation's, not that of a put made before it.
            Try("flush", () => client.Endpoint.Flush(TimeSpan.FromSeconds(2)));
            Try("get", () => client.Endpoint.Get(new byte[8], target.BaseAddress, client.Key));
            Try("compare-and-swap", () => client.Endpoint.CompareAndSwap64(target.BaseAddress, client.Key, 0, 1));
            Try("put", () => client.Endpoint.Put(new byte[8], target.BaseAddress, client.Key));
        });

        void Try(string name, Action operation)
        {
            try
            {
                operation();
            }
            catch (UcxException e)
            {
                failures[name] = e;
            }
        }

        Assert.That(run.Wait(s_deadline), Is.True, "the operations after the kill returned");
        TestContext.Out.WriteLine(string.Join("\n", failures.Select(f => $"{f.Key}: {f.Value.Status}: {f.Value.Message}")));
        Assert.That(failures.Keys, Is.EquivalentTo(new[] { "flush", "get", "compare-and-swap", "put" }), "every operation after the kill failed");
        Assert.That(failures.Values.Select(f => f.Status), Is.All.AnyOf(DriverStatus.McError, DriverStatus.Timeout));
        Assert.That(client.Endpoint.IsBroken, Is.True);
    }

    [Test]
    public void ShouldRefuseGarbageKeysAndAddressesWithoutHarm()
    {
        using var target = UcxTarget.Start(1 << 16);
        using var client = Client.Connect(target);
        var garbage = new[]
        {
            Array.Empty<byte>(),
            new byte[] { 1, 2, 3 },
            RandomNumberGenerator.GetBytes(64),
            target.Key[..^1],
            target.Address[..(target.Address.Length / 2)],
            Corrupt(target.Key),
            Corrupt(target.Address),
        };

        foreach (var bytes in garbage)
        {
            var key = Assert.Throws<UcxException>(() => client.Endpoint.UnpackKey(bytes));
            var connect = Assert.Throws<UcxException>(() => client.Worker.Connect(bytes, "garbage"));
            Assert.That(key!.Status, Is.EqualTo(DriverStatus.BadParameter));
            Assert.That(key.Message, Does.Contain("not an intact packed key"));
            Assert.That(connect!.Status, Is.EqualTo(DriverStatus.BadParameter));
            Assert.That(connect.Message, Does.Contain("connecting to garbage failed"));
        }

        client.Endpoint.Put(new byte[] { 9, 9, 9, 9, 9, 9, 9, 9 }, target.BaseAddress, client.Key);
        client.Endpoint.Flush();
        Assert.That(target.Read64(0), Is.EqualTo(0x0909090909090909UL), "the endpoint still works");
    }

    [Test]
    public void ShouldAllocateNothingPerPut()
    {
        using var target = UcxTarget.Start(1 << 16);
        using var client = Client.Connect(target);
        var word = new byte[8];
        for (var i = 0; i < 1000; i++)
        {
            client.Endpoint.Put(word, target.BaseAddress, client.Key);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            client.Endpoint.Put(word, target.BaseAddress, client.Key);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        client.Endpoint.Flush();

        Assert.That(allocated, Is.Zero);
    }

    [Test]
    public void ShouldDisposeInAnyOrderAndTwice()
    {
        using var target = UcxTarget.Start(1 << 16);
        var client = Client.Connect(target);
        client.Endpoint.Put(new byte[8], target.BaseAddress, client.Key);

        client.Context.Dispose(); // endpoint, key and worker still open: the context closes them first
        client.Key.Dispose();
        client.Endpoint.Dispose();
        client.Worker.Dispose();
        client.Context.Dispose();

        Assert.That(client.Endpoint.IsBroken, Is.False);
        Assert.Throws<ObjectDisposedException>(() => client.Endpoint.Put(new byte[8], target.BaseAddress, client.Key));
        Assert.Throws<ObjectDisposedException>(() => client.Worker.Progress());
        Assert.Throws<ObjectDisposedException>(() => client.Context.CreateWorker());
    }

    private static byte[] Corrupt(byte[] bytes)
    {
        var copy = bytes.ToArray();
        copy[^1] ^= 0x40;
        return copy;
    }

    /// <summary>This process's side: a context, a worker, an endpoint to the target and its unpacked key.</summary>
    private sealed record Client(UcxContext Context, UcxWorker Worker, UcxEndpoint Endpoint, UcxRemoteKey Key) : IDisposable
    {
        public static Client Connect(UcxTarget target)
        {
            var context = UcxContext.Create(UcxOperations.MessagesAndOneSided);
            var worker = context.CreateWorker();
            var endpoint = worker.Connect(target.Address, "the target peer");
            return new Client(context, worker, endpoint, endpoint.UnpackKey(target.Key));
        }

        public void Dispose() => Context.Dispose();
    }
}
