using System.Diagnostics;

namespace Interconnect.Imc.Streams;

/// <summary>
/// How a wait on the other end proceeds: it spins for the options' spin time, where the answer usually comes in
/// microseconds, and then sleeps a millisecond per look, so a stalled stream does not hold a core.
/// <para>
/// The spin is a busy spin that gives the CPU away only once every <see cref="LooksPerYield"/> looks (tens of
/// microseconds), as the C limit in native/stream_floor.c does. Yielding on every look (what
/// <see cref="SpinWait.SpinOnce(int)"/> does after ten) gave the CPU to any other runnable thread for a whole time slice
/// each time the other end was a frame behind, so on a busy machine the writer and the reader took turns instead of
/// running side by side, and a stream moved a ring at a time.
/// </para>
/// </summary>
internal struct Backoff
{
    /// <summary>Empty looks between two yields of the CPU.</summary>
    private const int LooksPerYield = 256;

    /// <summary>Pause iterations between two looks: a look reads words the other end writes, so not every cycle.</summary>
    private const int PausePerLook = 8;

    private readonly TimeSpan _spin;
    private long _start;
    private int _looks;

    public Backoff(TimeSpan spin)
    {
        _spin = spin;
        _start = 0;
        _looks = 0;
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

    public void Spin()
    {
        if (++_looks % LooksPerYield == 0)
        {
            _ = Thread.Yield(); // now and then: on a machine with more threads than cores, the other end may need this one
        }
        else
        {
            Thread.SpinWait(PausePerLook);
        }
    }
}
