using System.Diagnostics;

namespace Interconnect.Imc.Streams;

/// <summary>
/// How a wait on the other end proceeds: it spins (and yields) for the options' spin time, where the answer usually
/// comes in microseconds, and then sleeps a millisecond per look, so a stalled stream does not hold a core.
/// </summary>
internal struct Backoff
{
    private readonly TimeSpan _spin;
    private long _start;
    private SpinWait _spinner;

    public Backoff(TimeSpan spin)
    {
        _spin = spin;
        _start = 0;
        _spinner = default;
    }

    /// <summary>True when the next look should come after a sleep rather than a spin.</summary>
    public bool ShouldSleep
    {
        get
        {
            if (_start == 0)
            {
                _start = Stopwatch.GetTimestamp();
            }

            return Stopwatch.GetElapsedTime(_start) > _spin;
        }
    }

    public void Spin() => _spinner.SpinOnce(sleep1Threshold: -1);
}
