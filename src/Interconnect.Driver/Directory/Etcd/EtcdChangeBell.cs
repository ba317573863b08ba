namespace Interconnect.Driver.Directory.Etcd;

/// <summary>
/// Rings whenever anything under the cluster's prefix changes in etcd: what a directory operation that waits for
/// other machines (their acknowledgements, a signal's answer) waits on between its looks, instead of asking etcd again
/// every few milliseconds. One watch of the whole prefix per store (<see cref="EtcdStore.Changes"/>), made at its first
/// use; a watch that broke is made again and rings once made, so a change while it was away is seen then. A waiter
/// also looks again after <see cref="Fallback"/> without a ring, so a watch that is slow to come back delays it, never
/// strands it.
/// </summary>
internal sealed class EtcdChangeBell : IDisposable
{
    /// <summary>The longest a waiter waits for a ring before it looks again anyway.</summary>
    public static readonly TimeSpan Fallback = TimeSpan.FromMilliseconds(250);

    private readonly object _gate = new();
    private readonly EtcdStreams _streams;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _watching;
    private long _rings;

    public EtcdChangeBell(EtcdStore store)
    {
        _streams = new EtcdStreams(store);
        _watching = _streams.WatchAsync([""], startRevision: 0, Ring, _stop.Token);
    }

    /// <summary>How many times it has rung: read before a look, then <see cref="WaitPast"/> that count.</summary>
    public long Rings => Volatile.Read(ref _rings);

    /// <summary>
    /// Returns once it has rung more than <paramref name="rings"/> times, or after <paramref name="timeout"/> (at most
    /// <see cref="Fallback"/>).
    /// </summary>
    public void WaitPast(long rings, TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)(timeout < Fallback ? timeout : Fallback).TotalMilliseconds;
        lock (_gate)
        {
            while (_rings == rings)
            {
                var left = deadline - Environment.TickCount64;
                if (left <= 0 || !Monitor.Wait(_gate, (int)left))
                {
                    return;
                }
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _watching.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // Stopped: how the stream ended no longer matters.
        }

        _streams.Dispose();
        _stop.Dispose();
    }

    private void Ring(IReadOnlyList<EtcdChange> changes)
    {
        lock (_gate)
        {
            _rings++;
            Monitor.PulseAll(_gate);
        }
    }
}
