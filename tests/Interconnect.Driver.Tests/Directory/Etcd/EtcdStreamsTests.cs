using System.Collections.Concurrent;
using Etcdserverpb;
using Interconnect.Driver.Directory.Etcd;
using Interconnect.Testing;

namespace Interconnect.Driver.Tests.Directory.Etcd;

/// <summary>
/// The watch and the keep-alive against an etcd of the test's own, through a proxy that breaks their connections: a
/// watch made again resumes each prefix from the revision after the last change it delivered (so what changed while it
/// was away comes, once, in order), and asks for one whole pass; one that etcd compacted past asks for a whole pass and
/// goes on; a lease's keep-alive comes back and refreshes the lease.
/// </summary>
[NonParallelizable]
public sealed class EtcdStreamsTests
{
    /// <summary>What the watch's callback records for a call with no changes: "re-read what you need".</summary>
    private const string WholePass = "whole pass";
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(30);

    [Test]
    public void ShouldResumeEachPrefixFromItsRevisionAfterABrokenConnection()
    {
        using var etcd = LocalEtcd.Start();
        using var proxy = new TcpProxy(etcd.ClientPort);
        using var store = new EtcdStore(proxy.Url, "test");
        using var direct = new EtcdStore(etcd.ClientUrl, "test");
        using var streams = new EtcdStreams(store);
        using var stop = new CancellationTokenSource();
        var delivered = new ConcurrentQueue<string>();
        var (_, revision) = direct.List("");
        var watching = streams.WatchAsync(["a/", "b/"], revision + 1, changes => Record(delivered, changes), stop.Token);

        _ = direct.Set("a/1", "one");
        _ = direct.Set("b/1", "one");
        WaitFor(delivered, "a/1=one", "b/1=one");
        proxy.Refusing = true;
        proxy.CutAll();
        _ = direct.Set("a/2", "two");
        _ = direct.Set("b/2", "two");
        _ = direct.Set("a/3", "three");
        proxy.Refusing = false;
        WaitFor(delivered, "a/3=three", "b/2=two");
        // A change made after, on each prefix: anything delivered twice would have come before it.
        _ = direct.Set("a/4", "four");
        _ = direct.Set("b/3", "three");
        WaitFor(delivered, "a/4=four", "b/3=three");
        stop.Cancel();

        Assert.That(watching.Wait(s_deadline), Is.True, "the watch ends when cancelled");
        var log = delivered.ToList();
        Assert.Multiple(() =>
        {
            Assert.That(log.Where(d => d.StartsWith("a/", StringComparison.Ordinal)),
                Is.EqualTo(new[] { "a/1=one", "a/2=two", "a/3=three", "a/4=four" }), $"prefix a/, each change once, in order; all: {string.Join(", ", log)}");
            Assert.That(log.Where(d => d.StartsWith("b/", StringComparison.Ordinal)),
                Is.EqualTo(new[] { "b/1=one", "b/2=two", "b/3=three" }), $"prefix b/, each change once, in order; all: {string.Join(", ", log)}");
            // Made again, the watch asks for one whole pass once it watches every prefix again: after what came before
            // the cut, and before the changes of the prefix it watches last (b/); a/'s may come before it.
            Assert.That(log.Count(d => d == WholePass), Is.EqualTo(1), $"whole passes asked for; all: {string.Join(", ", log)}");
            Assert.That(log.IndexOf(WholePass), Is.GreaterThan(Math.Max(log.IndexOf("a/1=one"), log.IndexOf("b/1=one")))
                .And.LessThan(log.IndexOf("b/2=two")), $"all: {string.Join(", ", log)}");
        });
    }

    [Test]
    public void ShouldAskForAWholePassWhenEtcdCompactedPastTheWatch()
    {
        using var etcd = LocalEtcd.Start();
        using var proxy = new TcpProxy(etcd.ClientPort);
        using var store = new EtcdStore(proxy.Url, "test");
        using var direct = new EtcdStore(etcd.ClientUrl, "test");
        using var streams = new EtcdStreams(store);
        using var stop = new CancellationTokenSource();
        var delivered = new ConcurrentQueue<string>();
        var (_, revision) = direct.List("");
        var watching = streams.WatchAsync(["a/"], revision + 1, changes => Record(delivered, changes), stop.Token);

        _ = direct.Set("a/1", "one");
        WaitFor(delivered, "a/1=one");
        var beforeCut = delivered.Count;
        proxy.Refusing = true;
        proxy.CutAll();
        _ = direct.Set("a/2", "two");
        var last = direct.Set("a/3", "three");
        using (var client = new dotnet_etcd.EtcdClient(etcd.ClientUrl))
        {
            // Physical: returns once the old revisions are gone, so the watch cannot resume from a/2's.
            _ = client.Compact(new CompactionRequest { Revision = last, Physical = true }, deadline: DateTime.UtcNow + s_deadline);
        }

        proxy.Refusing = false;
        Poll.Until(() => string.Join(", ", delivered), _ => delivered.Skip(beforeCut).Contains(WholePass), "a whole pass asked for after the compaction", s_deadline);
        _ = direct.Set("a/4", "four");
        WaitFor(delivered, "a/4=four");
        stop.Cancel();

        Assert.That(watching.Wait(s_deadline), Is.True, "the watch ends when cancelled");
        var log = delivered.ToList();
        Assert.Multiple(() =>
        {
            Assert.That(log, Does.Not.Contain("a/2=two"), "compacted away: the whole pass covers it");
            Assert.That(log.IndexOf(WholePass), Is.LessThan(log.IndexOf("a/4=four")), $"all: {string.Join(", ", log)}");
        });
    }

    [Test]
    public void ShouldKeepTheLeaseAliveAcrossABrokenConnection()
    {
        const int Ttl = 30;
        using var etcd = LocalEtcd.Start();
        using var proxy = new TcpProxy(etcd.ClientPort);
        using var store = new EtcdStore(proxy.Url, "test");
        using var direct = new EtcdStore(etcd.ClientUrl, "test");
        using var streams = new EtcdStreams(store);
        using var stop = new CancellationTokenSource();
        var lease = direct.GrantLease(Ttl);
        var lost = 0;
        var keeping = streams.KeepAliveAsync(lease, TimeSpan.FromMilliseconds(200), () => Interlocked.Increment(ref lost), stop.Token);
        Poll.Until(() => proxy.Accepted > 0, "the keep-alive's connection", s_deadline);

        proxy.Refusing = true;
        proxy.CutAll();
        // Some seconds without a keep-alive reaching etcd: the lease runs down.
        var low = Poll.Until(() => direct.LeaseTimeToLive(lease), ttl => ttl <= Ttl - 3, "the lease to run down while cut off", s_deadline);
        proxy.Refusing = false;
        // Only a keep-alive raises the time to live, and every connection of before was cut: a rise above the lowest
        // reading is the keep-alive come back on a new connection. (Not "back near the full TTL": etcd rounds the
        // seconds left down, so that would also ask for a keep-alive within a second before the reading.)
        Poll.Until(() => direct.LeaseTimeToLive(lease), ttl => ttl > low, "the lease refreshed again", s_deadline);
        stop.Cancel();

        Assert.That(keeping.Wait(s_deadline), Is.True, "the keep-alive ends when cancelled");
        Assert.That(Volatile.Read(ref lost), Is.Zero, "the lease was never reported lost");
    }

    private static void Record(ConcurrentQueue<string> delivered, IReadOnlyList<EtcdChange> changes)
    {
        if (changes.Count == 0)
        {
            delivered.Enqueue(WholePass);
        }

        foreach (var change in changes)
        {
            delivered.Enqueue(change.Deleted ? $"{change.Entry.Key} deleted" : $"{change.Entry.Key}={change.Entry.Value}");
        }
    }

    /// <summary>Waits until every one of <paramref name="changes"/> was delivered; fails with what was, when not in time.</summary>
    private static void WaitFor(ConcurrentQueue<string> delivered, params string[] changes) =>
        Poll.Until(() => string.Join(", ", delivered), _ => changes.All(delivered.Contains), $"{string.Join(" and ", changes)} delivered", s_deadline);
}
