using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Interconnect.Imc;

namespace Interconnect.TestPeer;

/// <summary>What the fault tests across machines write and check (tests/Interconnect.Cluster.Tests, FaultTests).</summary>
internal static class Faults
{
    /// <summary>The two whole-word patterns of <see cref="PatternWrite"/>: a word that is neither (nor 0) is torn.</summary>
    private const ulong PatternA = 0x0101010101010101;
    private const ulong PatternB = 0x0202020202020202;

    private static Thread? s_background;
    private static volatile bool s_backgroundStop;
    private static long s_backgroundWrites;

    /// <summary>
    /// Starts a thread of this process that writes 64 KiB into <paramref name="window"/> over and over, until
    /// <see cref="StopBackgroundWrites"/>: traffic toward one machine while the test writes toward another. The first
    /// word of each write is its number (1, 2, ...): a receiver shows which write reached it last.
    /// </summary>
    public static string StartBackgroundWrites(ImcTransmitWindow window)
    {
        var data = new byte[Math.Min(64 * 1024, (int)window.Length)];
        s_backgroundStop = false;
        s_background = new Thread(() =>
        {
            while (!s_backgroundStop)
            {
                BitConverter.TryWriteBytes(data, Interlocked.Read(ref s_backgroundWrites) + 1);
                window.Write(0, data);
                Interlocked.Increment(ref s_backgroundWrites);
            }
        }) { IsBackground = true, Name = "background writes" };
        s_background.Start();
        return "";
    }

    /// <summary>The background thread's writes that returned so far.</summary>
    public static string BackgroundWrites() => Interlocked.Read(ref s_backgroundWrites).ToString(CultureInfo.InvariantCulture);

    /// <summary>Stops the background thread (it finishes the write it is in) and answers its writes.</summary>
    public static string StopBackgroundWrites()
    {
        s_backgroundStop = true;
        if (s_background is not null && !s_background.Join(TimeSpan.FromSeconds(30)))
        {
            throw new InvalidOperationException("the background writer did not finish its write within 30 s");
        }

        return BackgroundWrites();
    }

    /// <summary>
    /// Writes base + i into word i for i = 1..count, one write each, then base + count into word 0 (the marker): a
    /// receiver that has the marker has every word, or its error count rose. Answers the count, so a write that threw shows.
    /// </summary>
    public static string SequenceWrite(ImcTransmitWindow window, int count, long first)
    {
        for (var i = 1; i <= count; i++)
        {
            window.Write(8L * i, (ulong)(first + i));
        }

        window.Write(0, (ulong)(first + count));
        return count.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Answers "marker=M missing=N": the marker word, and how many of words 1..count do not hold base + i.</summary>
    public static string SequenceCheck(ImcReceiveWindow window, int count, long first)
    {
        var marker = window.Read<ulong>(0);
        var missing = 0;
        for (var i = 1; i <= count; i++)
        {
            if (window.Read<ulong>(8L * i) != (ulong)(first + i))
            {
                missing++;
            }
        }

        return string.Create(CultureInfo.InvariantCulture, $"marker={marker} missing={missing}");
    }

    /// <summary>Writes <paramref name="bytes"/> of pattern A, then of pattern B, <paramref name="rounds"/> times, each as one write.</summary>
    public static string PatternWrite(ImcTransmitWindow window, int bytes, int rounds)
    {
        var a = new ulong[bytes / 8];
        var b = new ulong[bytes / 8];
        a.AsSpan().Fill(PatternA);
        b.AsSpan().Fill(PatternB);
        for (var i = 0; i < rounds; i++)
        {
            window.Write(0, MemoryMarshal.AsBytes(a.AsSpan()));
            window.Write(0, MemoryMarshal.AsBytes(b.AsSpan()));
        }

        return rounds.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Reads the first <paramref name="bytes"/> word by word, over and over for <paramref name="milliseconds"/>, while a
    /// writer writes them; answers "torn=T passes=P changes=C": words that were neither pattern nor 0 (with the first
    /// offset seen), whole passes made, and how often a word changed between passes (so a test sees that the writes
    /// were really read while they landed).
    /// </summary>
    public static string PatternCheck(ImcReceiveWindow window, int bytes, int milliseconds)
    {
        var words = bytes / 8;
        var previous = new ulong[words];
        long torn = 0;
        long passes = 0;
        long changes = 0;
        var firstTorn = -1L;
        var watch = Stopwatch.StartNew();
        while (watch.ElapsedMilliseconds < milliseconds)
        {
            for (var i = 0; i < words; i++)
            {
                var word = window.Read<ulong>(8L * i);
                if (word is not (0 or PatternA or PatternB))
                {
                    torn++;
                    if (firstTorn < 0)
                    {
                        firstTorn = 8L * i;
                    }
                }

                if (word != previous[i])
                {
                    changes++;
                    previous[i] = word;
                }
            }

            passes++;
        }

        return string.Create(CultureInfo.InvariantCulture, $"torn={torn} first={firstTorn} passes={passes} changes={changes}");
    }

    /// <summary>
    /// Increments word 0 of a region under lock 0 for <paramref name="milliseconds"/>: acquire, read the word from this
    /// process's receive memory, write it plus one by broadcast (with loopback), release. A lock call that fails is
    /// counted, not thrown, and the loop goes on after a moment. Answers "ok=N acquire-failed=A release-failed=R
    /// last=STATUS": N counts the increments whose acquire, write and release all succeeded; an increment whose release
    /// failed is in doubt (its write may have landed before the failure).
    /// </summary>
    public static string CountFor(ImcLockSet locks, ImcTransmitWindow tx, ImcReceiveWindow rx, int milliseconds)
    {
        var watch = Stopwatch.StartNew();
        long ok = 0, acquireFailed = 0, releaseFailed = 0;
        var last = "-";
        while (watch.ElapsedMilliseconds < milliseconds)
        {
            try
            {
                locks.Acquire(0);
            }
            catch (ImcException e)
            {
                acquireFailed++;
                last = e.Status.ToString();
                Thread.Sleep(20);
                continue;
            }

            tx.Write(0, rx.Read<ulong>(0) + 1);
            try
            {
                locks.Release(0);
                ok++;
            }
            catch (ImcException e)
            {
                releaseFailed++;
                last = e.Status.ToString();
                Thread.Sleep(20);
            }
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"ok={ok} acquire-failed={acquireFailed} release-failed={releaseFailed} last={last}");
    }
}
