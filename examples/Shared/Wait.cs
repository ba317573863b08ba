using System.Diagnostics;

namespace Interconnect.Examples;

/// <summary>
/// Polling with a deadline, shared by the examples (each links this file). The C programs spin until the memory
/// changes, forever if it never does; the examples poll the same way but give up after a limit, and back off from a
/// busy spin to yields and short sleeps so that a waiting example does not hold a core.
/// </summary>
internal static class Wait
{
    /// <summary>No limit: wait as long as the C program would.</summary>
    public static readonly TimeSpan Forever = Timeout.InfiniteTimeSpan;

    /// <summary>Polls <paramref name="condition"/> until it holds (true) or <paramref name="limit"/> has passed (false).</summary>
    public static bool Until(Func<bool> condition, TimeSpan limit)
    {
        var watch = Stopwatch.StartNew();
        var spinner = new SpinWait();
        while (!condition())
        {
            if (limit != Forever && watch.Elapsed > limit)
            {
                return false;
            }

            spinner.SpinOnce();
        }

        return true;
    }

    /// <summary>The limit given in seconds on a command line: 0 means no limit.</summary>
    public static TimeSpan Seconds(int seconds) => seconds <= 0 ? Forever : TimeSpan.FromSeconds(seconds);
}
