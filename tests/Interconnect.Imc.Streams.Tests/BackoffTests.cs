namespace Interconnect.Imc.Streams.Tests;

/// <summary>How a wait on the other end of a stream gives up the CPU once its spin is over.</summary>
public sealed class BackoffTests
{
    [Test]
    public void ShouldNapFiveTimesUnderAMillisecondBeforeItSleepsMillisecondsAsynchronously()
    {
        var backoff = new Backoff(TimeSpan.Zero);
        Assert.That(backoff.ShouldSleep, Is.True, "with no spin, the first look past the start sleeps");

        // 50, 100, 200, 400 and 800 µs: a writer or reader only briefly late is looked at again within microseconds.
        var naps = 0;
        while (backoff.Nap())
        {
            naps++;
            Assert.That(naps, Is.LessThanOrEqualTo(5), "the naps must end: a stalled stream sleeps a millisecond per look");
        }

        Assert.That(naps, Is.EqualTo(5));
        Assert.That(backoff.Nap(), Is.False, "once at a millisecond, a wait stays there");
    }

    [Test]
    public void ShouldSpinBeforeItSleepsForAsLongAsItWasGiven()
    {
        var backoff = new Backoff(TimeSpan.FromHours(1));
        for (var look = 0; look < 1000; look++)
        {
            Assert.That(backoff.ShouldSleep, Is.False);
            backoff.Spin();
        }
    }
}
