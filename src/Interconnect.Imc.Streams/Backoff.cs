using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Interconnect.Imc.Streams;

/// <summary>
/// How a wait on the other end proceeds: it spins for the options' spin time, where the answer usually comes in
/// microseconds, then naps between looks, 50 µs at first and twice as long each time, and from a millisecond on sleeps a
/// millisecond per look, so a stalled stream does not hold a core.
/// <para>
/// The naps matter to a stream whose other end is only briefly late (preempted, or napping itself): sleeping a whole
/// millisecond at once, a reader that waited past its spin let the writer fill the ring and run out of credit, the writer
/// then slept a millisecond too, and the two took turns sleeping. 64 KiB streams ran at 2-7 GB/s from one run to the next.
/// </para>
/// <para>
/// The spin is a busy spin that gives the CPU away only once every <see cref="LooksPerYield"/> looks (tens of
/// microseconds), as the C limit in native/stream_floor.c does. Yielding on every look (what
/// <see cref="SpinWait.SpinOnce(int)"/> does after ten) gave the CPU to any other runnable thread for a whole time slice
/// each time the other end was a frame behind, so on a busy machine the writer and the reader took turns instead of
/// running side by side, and a stream moved a ring at a time.
/// </para>
/// </summary>
internal partial struct Backoff
{
    /// <summary>Empty looks between two yields of the CPU.</summary>
    private const int LooksPerYield = 256;

    /// <summary>Pause iterations between two looks: a look reads words the other end writes, so not every cycle.</summary>
    private const int PausePerLook = 8;

    /// <summary>The first nap after the spin, in microseconds; each next one is twice as long.</summary>
    private const int FirstNapMicroseconds = 50;

    /// <summary>From this long on a wait sleeps a millisecond per look, asynchronously.</summary>
    private const int NapLimitMicroseconds = 1000;

    private readonly TimeSpan _spin;
    private long _start;
    private int _looks;
    private int _nap;

    public Backoff(TimeSpan spin)
    {
        _spin = spin;
        _start = 0;
        _looks = 0;
        _nap = FirstNapMicroseconds;
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

    /// <summary>
    /// Past the spin: sleeps the calling thread for the next nap (50 µs, then twice as long each time) and returns true,
    /// or returns false once a nap would last a millisecond: the caller then sleeps a millisecond per look, asynchronously.
    /// </summary>
    public bool Nap()
    {
        if (_nap >= NapLimitMicroseconds)
        {
            return false;
        }

        var request = new TimeSpec { Seconds = 0, Nanoseconds = _nap * 1000L };
        _ = NanoSleep(in request, 0); // woken early by a signal: the caller looks again, as after any nap
        _nap *= 2;
        return true;
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

    // Thread.Sleep and Task.Delay sleep whole milliseconds at least.
    [LibraryImport("libc", EntryPoint = "nanosleep")]
    private static partial int NanoSleep(in TimeSpec request, nint remaining);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
