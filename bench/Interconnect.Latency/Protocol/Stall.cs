using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Interconnect.Latency.Protocol;

/// <summary>
/// The deadline of a spin: a spinning loop calls <see cref="Check"/> once every <see cref="CheckEvery"/> spins (so
/// the measured path pays a counter, not a clock), and gives up when its peer has not answered for <see cref="Limit"/>.
/// </summary>
internal static class Stall
{
    public const int CheckEvery = 1 << 20;
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Check(ref long since, string waitingFor)
    {
        var now = Stopwatch.GetTimestamp();
        if (since == 0)
        {
            since = now;
        }
        else if (Stopwatch.GetElapsedTime(since, now) > Limit)
        {
            throw new TimeoutException($"no answer for {Limit.TotalSeconds} s while waiting for {waitingFor}: did the peer die?");
        }
    }
}
