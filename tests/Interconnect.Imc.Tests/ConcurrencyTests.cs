using Interconnect.Driver;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>
/// API.md: every type is safe to use from several threads of one process. One context, one region's windows and one
/// lock set used by many threads at once give exact results.
/// </summary>
public sealed class ConcurrencyTests
{
    private const int Threads = 8;
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(60);
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    /// <summary>Runs <paramref name="body"/> on <see cref="Threads"/> threads started together; fails on any exception or a hang.</summary>
    private static void OnThreads(Action<int> body)
    {
        using var start = new Barrier(Threads);
        var tasks = Enumerable.Range(0, Threads).Select(t => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait(s_deadline);
            body(t);
        }, TaskCreationOptions.LongRunning)).ToArray();
        Assert.That(Task.WaitAll(tasks, s_deadline), Is.True, "the threads did not finish in time");
    }

    [Test]
    public void ShouldGiveEveryThreadItsOwnRegionsWhenManyThreadsAllocateAttachAndDetachOnOneContext()
    {
        const int Rounds = 40;
        using var context = _cluster.Open("alpha");
        using var reader = _cluster.Open("beta");
        var readers = Enumerable.Range(0, Threads).Select(t => reader.AllocateRegion(100 + t, 8192)).ToArray();
        var windows = readers.Select(r => r.AttachReceive()).ToArray();
        var wrong = new int[Threads];

        OnThreads(t =>
        {
            for (var round = 1; round <= Rounds; round++)
            {
                using var region = context.AllocateRegion(100 + t, 8192);
                using (var tx = region.AttachTransmit())
                {
                    tx.Write(8L * round, (ulong)((t * 1000) + round));
                }

                // A key of its own that lives only for this round: allocate, attach both ways, detach, deallocate.
                var own = context.AllocateRegion(200 + t, 4096 * (t + 1));
                _ = own.AttachReceive();
                _ = own.AttachTransmit();
                if (own.Size != 4096 * (t + 1))
                {
                    wrong[t]++;
                }

                own.Detach();
                own.Deallocate();
            }
        });

        Assert.That(wrong, Is.All.Zero);
        for (var t = 0; t < Threads; t++)
        {
            var expected = Enumerable.Range(1, Rounds).Select(r => (ulong)((t * 1000) + r));
            Assert.That(Enumerable.Range(1, Rounds).Select(r => windows[t].Read<ulong>(8L * r)), Is.EqualTo(expected), $"thread {t}");
        }

        var status = ClusterAdmin.ReadStatus(_cluster.Paths);
        Assert.That(status.Regions.Select(r => r.Key), Is.EquivalentTo(Enumerable.Range(100, Threads)), "only the readers' regions remain");
        Assert.That(ClusterAdmin.Check(_cluster.Paths).Violations, Is.Empty);
        foreach (var r in readers)
        {
            r.Dispose();
        }
    }

    [Test]
    public void ShouldCountExactlyWhenManyThreadsTakeAndReleaseTheirOwnLocksOfOneSet()
    {
        const int Rounds = 2000;
        using var context = _cluster.Open("alpha");
        using var locks = context.AllocateLockSet(30, Threads);
        var counts = new int[Threads];
        var busy = new int[Threads];

        OnThreads(t =>
        {
            for (var i = 0; i < Rounds; i++)
            {
                if (i % 2 == 0)
                {
                    locks.Acquire(t);
                }
                else if (!locks.TryAcquire(t))
                {
                    busy[t]++;
                    continue;
                }

                counts[t]++;
                locks.Release(t);
            }
        });

        Assert.That(counts, Is.All.EqualTo(Rounds));
        Assert.That(busy, Is.All.Zero, "a free lock was reported busy");
        Assert.That(ClusterAdmin.ReadStatus(_cluster.Paths).LockSets.Single().Held, Is.Empty, "every lock was released");
    }

    /// <summary>
    /// One lock shared by every thread, each through its own context (a lock is held by a context, so threads of one
    /// context cannot exclude each other): a plain counter, read and written back under lock 0, ends exact, and no
    /// two threads were ever inside at once. Without exclusion increments are lost.
    /// </summary>
    [Test]
    public void ShouldCountExactlyWhenManyThreadsShareOneLockThroughTheirOwnContexts()
    {
        const int Rounds = 500;
        var contexts = Enumerable.Range(0, Threads).Select(t => _cluster.Open(t % 2 == 0 ? "alpha" : "beta")).ToArray();
        try
        {
            var sets = contexts.Select(c => c.AllocateLockSet(31, 1)).ToArray();
            long counter = 0;
            var inside = 0;
            var overlaps = 0;

            OnThreads(t =>
            {
                for (var i = 0; i < Rounds; i++)
                {
                    if (i % 2 == 0)
                    {
                        sets[t].Acquire(0);
                    }
                    else
                    {
                        while (!sets[t].TryAcquire(0))
                        {
                            Thread.Yield();
                        }
                    }

                    if (Interlocked.Increment(ref inside) != 1)
                    {
                        Interlocked.Increment(ref overlaps);
                    }

                    var seen = Volatile.Read(ref counter); // a read and a write back, not an atomic add: the lock makes it exact
                    Thread.SpinWait(20);
                    Volatile.Write(ref counter, seen + 1);
                    Interlocked.Decrement(ref inside);
                    sets[t].Release(0);
                }
            });

            Assert.That(overlaps, Is.Zero, "two threads held the shared lock at once");
            Assert.That(counter, Is.EqualTo((long)Threads * Rounds), "increments were lost");
            Assert.That(ClusterAdmin.ReadStatus(_cluster.Paths).LockSets.Single().Held, Is.Empty, "the lock was released");
        }
        finally
        {
            foreach (var context in contexts)
            {
                context.Dispose();
            }
        }
    }

    [Test]
    public void ShouldDeliverEveryThreadsWritesThroughOneSharedWindow()
    {
        const int Words = 512;
        using var writer = _cluster.Open("alpha");
        using var reader = _cluster.Open("beta");
        using var region = writer.AllocateRegion(40, 8L * Words * Threads);
        using var rxRegion = reader.AllocateRegion(40, 8L * Words * Threads);
        using var rx = rxRegion.AttachReceive();
        using var tx = region.AttachTransmit();

        OnThreads(t =>
        {
            for (var pass = 1; pass <= 20; pass++)
            {
                for (var w = 0; w < Words; w++)
                {
                    tx.Write(8L * ((t * Words) + w), (ulong)((t << 24) | (pass << 16) | w));
                }
            }
        });

        for (var t = 0; t < Threads; t++)
        {
            var expected = Enumerable.Range(0, Words).Select(w => (ulong)((t << 24) | (20 << 16) | w));
            Assert.That(Enumerable.Range(0, Words).Select(w => rx.Read<ulong>(8L * ((t * Words) + w))), Is.EqualTo(expected), $"thread {t}");
        }
    }
}
