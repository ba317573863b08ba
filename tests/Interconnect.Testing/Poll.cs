using System.Diagnostics;
using NUnit.Framework;

namespace Interconnect.Testing;

/// <summary>
/// Waiting for a condition in a test: every wait has a deadline, and a wait that runs out fails the test with what
/// was awaited and the last value seen, never hangs it.
/// </summary>
public static class Poll
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Reads <paramref name="read"/> until <paramref name="done"/> holds for its value and returns that value; fails
    /// the test with <paramref name="what"/> and the last value when it does not within <paramref name="timeout"/>.
    /// </summary>
    public static T Until<T>(Func<T> read, Func<T, bool> done, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var value = read();
            if (done(value))
            {
                return value;
            }

            if (watch.Elapsed > limit)
            {
                Assert.Fail($"waited {limit.TotalSeconds} s for {what}; last value: {value}");
            }

            Thread.Sleep(1);
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds; fails the test when it does not within the deadline.</summary>
    public static void Until(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        Until(condition, static v => v, what, timeout);
}
