using System.Diagnostics;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Driver.Store;

namespace Interconnect.Driver;

/// <summary>
/// The locks of a lock set across machines: 8-byte words in the lock arena of the set's home machine, each changed
/// only by a UCX compare-and-swap, also from processes on the home machine, so every process shares one atomicity
/// domain. A waiter retries with a growing pause (there is no futex across machines) and, every
/// <see cref="s_livenessEvery"/>, asks whether the holder is still registered: a holder that died is taken over with a
/// compare-and-swap from its value, as <see cref="LockSetPort"/> does on one machine.
/// <para>
/// A release first flushes every put this process issued (<see cref="UcxFabric.FlushAll"/>), so what was written under
/// the lock has landed in every receiver's memory before the next holder can take the lock and read it.
/// </para>
/// <para>
/// Fencing: every operation first asks whether this process still stands in the cluster (<see cref="MachineStanding"/>).
/// Once its machine fenced itself, the cluster may take the machine for dead at any moment and hand the locks its
/// processes hold to waiters (its owners' keys go with its lease), so from the fence on, this process's lock
/// operations fail with McError, a release included, and its writes are sent nowhere; the word it may still hold is
/// taken over by a waiter once its owner key is gone. A holder whose operation was under way when the fence came
/// cannot make anything land after it: its writes are refused everywhere for their epoch.
/// </para>
/// </summary>
internal sealed class RemoteLockWords : IDisposable
{
    private static readonly TimeSpan s_livenessEvery = TimeSpan.FromMilliseconds(100);
    private readonly Func<ILockWords> _open;
    private readonly Func<long, bool> _isOwnerAlive;
    private readonly int _first;
    private readonly long _me;
    private readonly MachineStanding _standing;
    private readonly Lazy<UcxFabric> _fabric;
    private readonly Lock _lock = new();
    private ILockWords? _words;
    private long _waits;

    /// <param name="open">Opens the home arena's words (again, once the endpoint broke).</param>
    /// <param name="isOwnerAlive">Whether the process named by an owner value is still registered somewhere.</param>
    /// <param name="first">The set's first word in the arena.</param>
    /// <param name="me">This process's owner value, unique in the cluster and never 0.</param>
    /// <param name="standing">Whether this process still stands in the cluster (its machine not fenced since).</param>
    /// <param name="fabric">The process's UCX, whose writes a release flushes.</param>
    public RemoteLockWords(Func<ILockWords> open, Func<long, bool> isOwnerAlive, int first, long me, MachineStanding standing,
        Lazy<UcxFabric> fabric)
    {
        _open = open;
        _isOwnerAlive = isOwnerAlive;
        _first = first;
        _me = me;
        _standing = standing;
        _fabric = fabric;
    }

    /// <summary>Acquisitions that found the lock held and waited.</summary>
    public long Waits => Volatile.Read(ref _waits);

    /// <summary>This process's owner value.</summary>
    public long Owner => _me;

    /// <summary>True while this process stands in the cluster: its machine not fenced, nor joined again since it opened it.</summary>
    public bool Stands => _standing.IsCurrent;

    public DriverStatus Acquire(int index)
    {
        _standing.ThrowIfLost($"lock {index} was not acquired");
        var old = Swap(index, 0, _me);
        if (old == 0)
        {
            return DriverStatus.Success;
        }

        if (old == _me)
        {
            return DriverStatus.LockPrior;
        }

        Interlocked.Increment(ref _waits);
        var lastLivenessCheck = Stopwatch.GetTimestamp();
        for (var attempt = 0; ; attempt++)
        {
            Pause(attempt);
            _standing.ThrowIfLost($"lock {index} was not acquired");
            old = Swap(index, 0, _me);
            if (old == 0)
            {
                return DriverStatus.Success;
            }

            if (Stopwatch.GetElapsedTime(lastLivenessCheck) >= s_livenessEvery)
            {
                lastLivenessCheck = Stopwatch.GetTimestamp();
                if (!_isOwnerAlive(old) && Swap(index, old, _me) == old)
                {
                    return DriverStatus.Success; // the holder died: the lock passes to us
                }
            }
        }
    }

    public DriverStatus TryAcquire(int index)
    {
        _standing.ThrowIfLost($"lock {index} was not acquired");
        var old = Swap(index, 0, _me);
        if (old == 0)
        {
            return DriverStatus.Success;
        }

        if (old == _me)
        {
            return DriverStatus.LockPrior;
        }

        return !_isOwnerAlive(old) && Swap(index, old, _me) == old ? DriverStatus.Success : DriverStatus.NoLockGot;
    }

    public DriverStatus Release(int index)
    {
        _standing.ThrowIfLost($"lock {index} is lost");
        if (_fabric.IsValueCreated)
        {
            _fabric.Value.FlushAll(); // what was written under the lock lands before the lock reads free
        }

        return Swap(index, _me, 0) == _me ? DriverStatus.Success : DriverStatus.LockNotHeld;
    }

    /// <summary>Whether this process holds lock <paramref name="index"/> (one read of the word).</summary>
    public bool Holds(int index) => Holder(index) == _me;

    /// <summary>The owner value in lock <paramref name="index"/>'s word now (0: free).</summary>
    public long Holder(int index)
    {
        Span<long> word = stackalloc long[1];
        Words().Read(_first + index, word);
        return word[0];
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _words?.Dispose();
            _words = null;
        }
    }

    private long Swap(int index, long expected, long desired)
    {
        try
        {
            return Words().CompareAndSwap(_first + index, expected, desired);
        }
        catch (DriverException) when (desired == _me || expected == _me)
        {
            // The home machine may have applied the swap though its answer never came (the connection broke, or the
            // deadline passed, after it was applied): settle it by reading the word back, on a connection made anew,
            // rather than leave this process holding a lock it believes it failed to take, or the reverse.
            var now = TryReadBack(index);
            if (desired == _me && now == _me)
            {
                return expected; // it was applied: the lock is this process's
            }

            if (expected == _me && now is { } holder && holder != _me)
            {
                return _me; // it was applied: the word no longer names this process
            }

            throw;
        }
    }

    private long? TryReadBack(int index)
    {
        try
        {
            return Holder(index);
        }
        catch (DriverException)
        {
            return null; // still out of reach: the swap's failure stands
        }
    }

    private ILockWords Words()
    {
        var words = Volatile.Read(ref _words);
        if (words is not null && !words.IsBroken)
        {
            return words;
        }

        lock (_lock)
        {
            if (_words is null || _words.IsBroken)
            {
                _words?.Dispose();
                _words = _open();
            }

            return _words;
        }
    }

    /// <summary>
    /// A waiter's pause between attempts: a few yields, then sleeps growing to 2 ms. Every attempt is a round trip
    /// that the home machine's agent serves, so waiters must not flood it while the holder tries to release.
    /// </summary>
    private static void Pause(int attempt)
    {
        if (attempt < 4)
        {
            Thread.Yield();
        }
        else
        {
            Thread.Sleep(attempt < 8 ? 0 : attempt < 16 ? 1 : 2);
        }
    }
}
