using System.Diagnostics;

namespace Interconnect.Imc.Streams;

/// <summary>
/// Watches the other end's heartbeat word: the peer is gone once the word has stood still for the timeout. Starts
/// counting at construction, so a peer that never comes is gone too.
/// </summary>
internal sealed class PeerWatch
{
    private readonly TimeSpan _timeout;
    private long _lastValue;
    private long _lastChange = Stopwatch.GetTimestamp();

    public PeerWatch(TimeSpan timeout)
    {
        _timeout = timeout;
    }

    /// <summary>Whether a sign of life was ever seen.</summary>
    public bool EverSeen { get; private set; }

    public void Observe(long value)
    {
        if (value != _lastValue)
        {
            _lastValue = value;
            EverSeen = true;
            Volatile.Write(ref _lastChange, Stopwatch.GetTimestamp()); // read by the thread that waits
        }
    }

    /// <summary>Counts now as a sign of life (a restart of the peer, seen through another word).</summary>
    public void Touch() => Volatile.Write(ref _lastChange, Stopwatch.GetTimestamp());

    public TimeSpan Silence => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastChange));

    public bool IsGone => Silence > _timeout;
}
