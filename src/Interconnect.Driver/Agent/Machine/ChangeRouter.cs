using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Interconnect.Driver.Directory.Etcd;

namespace Interconnect.Driver.Agent.Machine;

/// <summary>
/// The watches' changes, each routed to only the work it needs: a receiver or a memory is applied alone, from the change
/// itself (no listing); a host, rail, error count, signal, machine or lock change re-reads that part only; anything
/// else, and a watch response without changes (the watch was made again after etcd was away, or etcd compacted past
/// it), asks for a whole pass. Changes the agent has nothing to do for (acknowledgements, a region's record, a host's number, signals to
/// other machines) are not watched at all: every machine writes an acknowledgement of every attach, so watching them
/// woke every agent for every machine's (machines² wake-ups per attach, for nothing).
/// <para>
/// It is where other threads (the watch's, the keep-alive's) hand the agent work, and it guarantees that work asked for
/// is not lost: a change is queued to be applied alone or leaves its <see cref="Work"/> flag set until
/// <see cref="PassLoop"/> takes the flags, and the loop is woken.
/// </para>
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "The semaphore is never disposed: the agent does not wait for its " +
    "loop to end, which may still wait on it or be woken after the agent is disposed.")]
internal sealed class ChangeRouter
{
    private static readonly (string Prefix, Work Work)[] s_routes =
    [
        ("receivers/", Work.Changes),
        ("memory/", Work.Changes),
        ("hosts/", Work.Hosts),
        ("rails/", Work.Rails),
        ("raises/", Work.Raises),
        ("drops/", Work.Drops),
        // A machine joined or left (or this one lost its lease): epochs end, a machine that left leaves its regions
        // (its memory and hosts go as changes). Rare: a whole pass.
        ("machines/", Work.Everything),
        ("owners/", Work.Locks),
        ("lockusers/", Work.Locks),
        ("locksets/", Work.Locks),
        ("arenas/", Work.Locks),
        ("arenamap/", Work.Locks),
        // Not watched (WatchedPrefixes): nothing for the agent to do. Acknowledgements and answers: only the waiters of
        // their writers read them.
        ("acks/", Work.None),
        ("hostacks/", Work.None),
        ("railacks/", Work.None),
        ("raiseacks/", Work.None),
        ("dropacks/", Work.None),
        ("signaled/", Work.None),
        // A host's number changes with its hosts/ key. A region's record changes as processes allocate and withdraw,
        // which never needs this agent at once: it only takes out machines that left (a machines/ change) and this
        // machine where the region went (the deallocating process does so itself; PassLoop.LocalWork sees it if it
        // could not).
        ("slots/", Work.None),
        ("regions/", Work.None),
    ];

    private readonly string _machine;
    private readonly ConcurrentQueue<EtcdChange> _changes = new();
    private readonly SemaphoreSlim _changed = new(0);
    private int _work; // Work flags asked for since the loop last took them

    public ChangeRouter(string machine)
    {
        _machine = machine;
    }

    /// <summary>The watch's callback: queues the changes to apply alone, marks the rest's work, wakes the loop.</summary>
    public void OnChanges(IReadOnlyList<EtcdChange> changes)
    {
        var work = changes.Count == 0 ? Work.Everything : Work.None; // made, or cancelled by etcd: re-read everything
        foreach (var change in changes)
        {
            var route = Route(change.Entry.Key);
            if (route == Work.Changes)
            {
                _changes.Enqueue(change);
            }

            work |= route;
        }

        if (work != Work.None)
        {
            Wake(work);
        }
    }

    /// <summary>What the agent watches: every prefix that asks for work, and the signals to this machine.</summary>
    public string[] WatchedPrefixes() =>
        [.. s_routes.Where(r => r.Work != Work.None).Select(r => r.Prefix), EtcdKeys.SignalsTo(_machine)];

    private Work Route(string key)
    {
        if (key.StartsWith("signals/", StringComparison.Ordinal))
        {
            return key.StartsWith(EtcdKeys.SignalsTo(_machine), StringComparison.Ordinal) ? Work.Signals : Work.None;
        }

        foreach (var (prefix, work) in s_routes)
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal))
            {
                return work;
            }
        }

        return Work.Everything;
    }

    /// <summary>Asks the loop for <paramref name="work"/> (from any thread: the watch's, the keep-alive's, the loop's own).</summary>
    public void Wake(Work work)
    {
        _ = Interlocked.Or(ref _work, (int)work); // the loop takes the flags with an exchange
        _changed.Release();
    }

    /// <summary>
    /// Waits up to <paramref name="wait"/> (none if it is not positive) for a wake-up, then takes every wake-up so far:
    /// one round serves every change so far.
    /// </summary>
    public async Task WaitAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        if (wait > TimeSpan.Zero)
        {
            _ = await _changed.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
        }

        while (_changed.CurrentCount > 0)
        {
            _ = _changed.Wait(0, CancellationToken.None);
        }
    }

    /// <summary>The work asked for since the last call, cleared.</summary>
    public Work TakeWork() => (Work)Interlocked.Exchange(ref _work, 0);

    /// <summary>The next queued receiver or memory change, in the order the watch delivered them.</summary>
    public bool TryTakeChange(out EtcdChange change) => _changes.TryDequeue(out change);
}
