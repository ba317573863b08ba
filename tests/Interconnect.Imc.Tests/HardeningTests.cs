using Interconnect.Driver;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>
/// Races and leaks found in review: a detach under a reader, receive files kept mapped after they were removed, and
/// window counters shared by several threads.
/// </summary>
public sealed class HardeningTests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    [Test]
    public void ShouldNeverCrashAReaderWhenAnotherThreadDetachesTheWindow()
    {
        // In a child process, whose death (SIGSEGV) would show as a peer that stopped answering.
        var peer = _cluster.StartPeer("alpha");
        var reply = peer.Send("detach-race 900 150", TimeSpan.FromSeconds(120)).Split(' ');

        Assert.That(reply[0], Is.EqualTo("150"), "every round finished");
        Assert.That(long.Parse(reply[1], System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThan(0),
            "readers met the dispose: later reads saw ObjectDisposedException");
        Assert.That(peer.HasExited, Is.False);
    }

    [Test]
    public void ShouldLetGoOfARemovedReceiveFileAtOnceWithoutAGarbageCollection()
    {
        using var alpha = _cluster.Open("alpha");
        using var region = alpha.AllocateRegion(31, 1 << 20);
        using var tx = region.AttachTransmit();
        var beta = _cluster.StartPeer("beta");
        beta.Send("alloc 31 1048576");
        beta.Send("rx 31");
        tx.Write(0, 1UL); // maps beta's receive file into this process
        var file = _cluster.ReceiveFiles().Single();
        Assert.That(MappedHere(file), Is.True, "the writer maps the receiver's file");

        // No garbage collection may run meanwhile: a finalizer must not be what lets go of the file.
        Assert.That(GC.TryStartNoGCRegion(64L << 20), Is.True);
        bool stillMapped;
        try
        {
            beta.Send("detach 31"); // beta's last receive attach: its file is removed
            tx.Write(0, 2UL);       // the writer's next write sees the new route
            stillMapped = MappedHere(file);
        }
        finally
        {
            GC.EndNoGCRegion();
        }

        Assert.That(_cluster.ReceiveFiles(), Is.Empty);
        Assert.That(stillMapped, Is.False, "the removed file's pages are no longer mapped by the writer");
    }

    [Test]
    public void ShouldCountEveryWriteWhenSeveralThreadsShareOneWindow()
    {
        const int Threads = 4;
        const int PerThread = 200_000;
        using var alpha = _cluster.Open("alpha");
        using var beta = _cluster.Open("beta");
        using var region = alpha.AllocateRegion(32, 4096);
        using var betaRegion = beta.AllocateRegion(32, 4096);
        using var rx = betaRegion.AttachReceive();
        using var tx = region.AttachTransmit();
        using var go = new ManualResetEventSlim();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var writers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            try
            {
                go.Wait();
                for (var i = 0; i < PerThread; i++)
                {
                    tx.Write(8 + (t * 8L), (ulong)i);
                }
            }
            catch (Exception e)
            {
                failures.Enqueue(e); // reported below: an exception must fail the test, not end the test process
            }
        })).ToArray();
        foreach (var writer in writers)
        {
            writer.Start();
        }

        go.Set();
        foreach (var writer in writers)
        {
            Assert.That(writer.Join(TimeSpan.FromSeconds(120)), Is.True, "writer finished");
        }

        Assert.That(failures, Is.Empty);

        var rails = ClusterAdmin.ReadRails(_cluster.Paths);
        // The first thread to write counts with plain adds, the others atomically, all at the same time.
        Assert.That(rails.Logical[0].Writes, Is.EqualTo((long)Threads * PerThread));
        Assert.That(rails.Logical[0].Bytes, Is.EqualTo(8L * Threads * PerThread));
    }

    private static bool MappedHere(string path) =>
        File.ReadLines("/proc/self/maps").Any(line => line.Contains(path, StringComparison.Ordinal));
}
