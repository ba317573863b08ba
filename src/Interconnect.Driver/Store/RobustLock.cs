using System.Diagnostics;

namespace Interconnect.Driver.Store;

/// <summary>
/// A cross-process lock on a 64-bit word in shared memory that survives the death of its holder at any instruction:
/// the word holds the holder's <see cref="ProcessIdentity.LockValue"/>, and a waiter that finds the holder dead
/// takes the lock over with a compare-and-swap and is told so, to repair what the holder left half-done.
/// </summary>
internal static class RobustLock
{
    private const int SpinsBeforeYield = 64;
    private static readonly TimeSpan s_livenessInterval = TimeSpan.FromMilliseconds(5);

    /// <summary>Takes the lock; returns true when it was taken over from a dead holder.</summary>
    public static bool Enter(ref long word, long me, TimeSpan timeout, string what)
    {
        // Interlocked: the compare-and-swap is the acquire; it orders every later read of the guarded state after it.
        if (Interlocked.CompareExchange(ref word, me, 0) == 0)
        {
            return false;
        }

        var started = Stopwatch.GetTimestamp();
        var lastLivenessCheck = started;
        var spins = 0;
        while (true)
        {
            var owner = Volatile.Read(ref word); // acquire: see the holder's release before trying again
            if (owner == 0)
            {
                if (Interlocked.CompareExchange(ref word, me, 0) == 0)
                {
                    return false;
                }
            }
            else if (Stopwatch.GetElapsedTime(lastLivenessCheck) >= s_livenessInterval)
            {
                lastLivenessCheck = Stopwatch.GetTimestamp();
                if (owner != me && !ProcessIdentity.IsLockValueAlive(owner) &&
                    Interlocked.CompareExchange(ref word, me, owner) == owner)
                {
                    return true;
                }

                if (Stopwatch.GetElapsedTime(started) > timeout)
                {
                    throw new DriverException(DriverStatus.Timeout,
                        $"{what} has been held by process {owner >>> 32} for over {timeout.TotalSeconds:0} s: " +
                        "it may be stopped in a debugger; let it run or end it");
                }
            }

            if (++spins < SpinsBeforeYield)
            {
                Thread.SpinWait(20);
            }
            else if (spins < SpinsBeforeYield * 2)
            {
                Thread.Yield();
            }
            else
            {
                Thread.Sleep(1);
            }
        }
    }

    public static void Exit(ref long word, long me)
    {
        // Interlocked: release the lock only if we still hold it; the full fence publishes every guarded write first.
        var previous = Interlocked.CompareExchange(ref word, 0, me);
        Debug.Assert(previous == me, "released a lock this process does not hold");
    }
}
