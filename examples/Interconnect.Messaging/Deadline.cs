using System.Diagnostics;

namespace Interconnect.Messaging;

/// <summary>A point in time after which a call gives up, with a <see cref="TimeoutException"/> saying what it waited for.</summary>
internal readonly struct Deadline
{
    private readonly long _start;
    private readonly TimeSpan _timeout;

    private Deadline(TimeSpan timeout)
    {
        _start = Stopwatch.GetTimestamp();
        _timeout = timeout;
    }

    public static Deadline After(TimeSpan timeout)
    {
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "give a timeout of zero or more, or Timeout.InfiniteTimeSpan");
        }

        return new Deadline(timeout);
    }

    public bool HasPassed => _timeout != Timeout.InfiniteTimeSpan && Stopwatch.GetElapsedTime(_start) > _timeout;

    public void ThrowIfPassed(string waitingFor)
    {
        if (HasPassed)
        {
            throw new TimeoutException($"gave up after {_timeout.TotalMilliseconds} ms waiting for {waitingFor}");
        }
    }
}
