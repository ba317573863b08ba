using System.Collections.Concurrent;

namespace Interconnect.Driver;

/// <summary>
/// This process's traffic and events, summed over its sessions: what the API publishes as metrics. The data path
/// only bumps counters it owns (a window's own counters in the control file, a lock set's own fields); the sums are
/// taken here, when a metrics reader asks.
/// </summary>
internal static class DriverMetrics
{
    private static readonly ConcurrentDictionary<DriverSession, byte> s_sessions = new();
    private static long s_retiredWrites;
    private static long s_retiredBytes;
    private static long s_retiredDrops;
    private static long s_retiredAcquisitions;
    private static long s_retiredWaits;
    private static long s_signals;
    private static long s_errors;

    /// <summary>Writes issued through this process's transmit windows.</summary>
    public static long Writes => s_retiredWrites + Sum<Transmitter>(t => t.Writes);

    /// <summary>Bytes written through this process's transmit windows.</summary>
    public static long Bytes => s_retiredBytes + Sum<Transmitter>(t => t.Bytes);

    /// <summary>Deliveries of this process's writes that were lost (injected drops, a rail that was down).</summary>
    public static long Drops => s_retiredDrops + Sum<Transmitter>(t => t.Drops);

    /// <summary>Locks this process acquired.</summary>
    public static long LockAcquisitions => s_retiredAcquisitions + Sum<LockSetPort>(p => p.Acquisitions);

    /// <summary>Acquisitions that had to wait for another holder.</summary>
    public static long LockWaits => s_retiredWaits + Sum<LockSetPort>(p => p.Waits);

    /// <summary>Cluster signals this process sent.</summary>
    public static long Signals => Volatile.Read(ref s_signals);

    /// <summary>Errors this process detected through the error count (CheckErrorCount returning McError).</summary>
    public static long Errors => Volatile.Read(ref s_errors);

    internal static void Register(DriverSession session) => s_sessions.TryAdd(session, 0);

    internal static void Unregister(DriverSession session) => s_sessions.TryRemove(session, out _);

    internal static void SignalSent() => Interlocked.Increment(ref s_signals);

    internal static void ErrorDetected() => Interlocked.Increment(ref s_errors);

    internal static void Retire(Transmitter transmitter)
    {
        Interlocked.Add(ref s_retiredWrites, transmitter.Writes);
        Interlocked.Add(ref s_retiredBytes, transmitter.Bytes);
        Interlocked.Add(ref s_retiredDrops, transmitter.Drops);
    }

    internal static void Retire(LockSetPort port)
    {
        Interlocked.Add(ref s_retiredAcquisitions, port.Acquisitions);
        Interlocked.Add(ref s_retiredWaits, port.Waits);
    }

    private static long Sum<T>(Func<T, long> read)
        where T : class
    {
        long sum = 0;
        foreach (var session in s_sessions.Keys)
        {
            foreach (var port in session.Ports())
            {
                if (port is T typed)
                {
                    sum += read(typed);
                }
            }
        }

        return sum;
    }
}
