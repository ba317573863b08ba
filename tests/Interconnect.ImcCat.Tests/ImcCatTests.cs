using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Interconnect.Imc;
using Interconnect.Testing;

namespace Interconnect.ImcCat.Tests;

/// <summary>
/// imccat between two emulated hosts, as real processes: a large random stream across drops and a rail failover, a
/// listener killed and started again, a sender killed, a slow reader, and ends that never come.
/// </summary>
public sealed partial class ImcCatTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(240);
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp()
    {
        // A failover pair (two physical rails, one logical rail), made the way an operator would: imc_init.
        _cluster = TemporaryCluster.CreateEmpty();
        foreach (var host in new[] { "alpha", "beta" })
        {
            var init = Command.Run("imc_init", _cluster.Root, TemporaryCluster.ClusterName,
                "--host", host, "--rails", "2", "--rail-style", "1");
            Assert.That(init.ExitCode, Is.EqualTo(0), init.Error);
        }
    }

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private ImcOptions Control => new() { Root = _cluster.Root, Cluster = TemporaryCluster.ClusterName };

    /// <summary>
    /// 1 GiB of random bytes through imccat, with one delivery on the rail dropped every 64 MiB fed (about every 2,000
    /// transmissions: 64 KiB frames and their flags), and physical rail 0 failed halfway: the listener's output has
    /// the sender's SHA-256, and the sender saw the errors and sent frames again. Seven drops fall on each physical
    /// rail: more than ten within a minute would fail the rail over by the manual's rule, and the second one down
    /// takes the logical rail down.
    /// </summary>
    [Test]
    public void ShouldCarryAGibibyteExactlyAcrossDropsAndARailFailover()
    {
        const long Total = 1L << 30;
        const long DropEvery = 64L << 20;
        using var listener = CatProcess.Start(_cluster.Root, "beta", "listen", "4100", "--progress");
        var received = Task.Factory.StartNew(() => RandomBytes.Drain(listener.Output), TaskCreationOptions.LongRunning);
        using var sender = CatProcess.Start(_cluster.Root, "alpha", "send", "4100", "beta", "--progress");
        using var data = new RandomBytes(seed: 14, chunkSize: 1 << 20);
        var drops = 0;
        var failedOver = false;
        var watch = Stopwatch.StartNew();
        var feeding = Task.Factory.StartNew(() =>
        {
            try
            {
                Feed();
            }
            catch (IOException)
            {
                // the sender is gone: its exit code and transcript say why
            }
        }, TaskCreationOptions.LongRunning);
        void Feed()
        {
            data.Feed(sender.Input, Total, fed =>
            {
                if (fed % DropEvery == 0 && fed < Total - DropEvery)
                {
                    ImcControl.InjectErrors(0, 1, options: Control);
                    drops++;
                }

                if (fed == Total / 2)
                {
                    failedOver = ImcControl.FailRail(0, Control);
                }
            });
            sender.Input.Close();
        }

        Assert.That(feeding.Wait(s_deadline), Is.True, $"feeding did not finish\n{sender.Transcript}\n{listener.Transcript}");
        Assert.That(sender.WaitForExit(s_deadline), Is.EqualTo(0), sender.Transcript);
        Assert.That(listener.WaitForExit(s_deadline), Is.EqualTo(0), listener.Transcript);
        Assert.That(received.Wait(s_deadline), Is.True);
        var elapsed = watch.Elapsed;

        Assert.That(received.Result.Length, Is.EqualTo(Total));
        Assert.That(received.Result.Sha256, Is.EqualTo(data.Sha256()));
        Assert.That(failedOver, Is.True, "physical rail 0 failed over to rail 1");
        Assert.That(drops, Is.EqualTo(14));
        var summary = sender.ErrorLines[^1];
        Assert.That(Retransmitted(summary), Is.GreaterThan(0), summary);
        TestContext.Out.WriteLine($"{Total} bytes in {elapsed.TotalSeconds:0.0} s ({Total / elapsed.TotalSeconds / (1 << 20):0} MiB/s) " +
            $"with {drops} drops and a failover\n{summary}\n{listener.ErrorLines[^1]}");
    }

    /// <summary>
    /// The listener, appending to a file, is killed (SIGKILL) midway and started again: the file holds every byte
    /// exactly once and the sender, which waited meanwhile, ends with success and counts one restart.
    /// </summary>
    [Test]
    public void ShouldResumeTheStreamWhenTheListenerIsKilledAndStartedAgain()
    {
        const long Total = 256L << 20;
        var file = Path.Combine(_cluster.Root, "received.bin");
        File.WriteAllBytes(file, []);
        var first = CatProcess.StartAppending(_cluster.Root, "beta", file, "listen", "4200");
        using var sender = CatProcess.Start(_cluster.Root, "alpha", "send", "4200", "beta", "--progress");
        using var data = new RandomBytes(seed: 15, chunkSize: 1 << 20);
        var feeding = Task.Factory.StartNew(() =>
        {
            data.Feed(sender.Input, Total);
            sender.Input.Close();
        }, TaskCreationOptions.LongRunning);

        // Kill it once it has written a good part, whatever it is doing at that instant.
        var watch = Stopwatch.StartNew();
        while (new FileInfo(file).Length < Total / 3 && watch.Elapsed < s_deadline && !first.ErrorLines.Any())
        {
            Thread.Sleep(1);
        }

        first.Kill();
        var atKill = new FileInfo(file).Length;
        first.Dispose();
        Assert.That(atKill, Is.InRange(1, Total - 1), "the listener was killed midway");
        Thread.Sleep(500);

        using var second = CatProcess.StartAppending(_cluster.Root, "beta", file, "listen", "4200");
        Assert.That(feeding.Wait(s_deadline), Is.True, sender.Transcript);
        Assert.That(sender.WaitForExit(s_deadline), Is.EqualTo(0), sender.Transcript);
        Assert.That(second.WaitForExit(s_deadline), Is.EqualTo(0), second.Transcript);

        Assert.That(new FileInfo(file).Length, Is.EqualTo(Total), $"killed at {atKill}\n{second.Transcript}");
        using (var stream = File.OpenRead(file))
        {
            Assert.That(Convert.ToHexString(SHA256.HashData(stream)), Is.EqualTo(data.Sha256()));
        }

        Assert.That(sender.ErrorLines[^1], Does.Contain("1 listener restart(s)"));
        Assert.That(second.ErrorLines, Has.Some.Match(@"^imccat: resuming the stream at byte \d+; .*received\.bin holds \d+ bytes, skipping \d+$"));
        TestContext.Out.WriteLine($"killed with {atKill} bytes in the file\n{string.Join('\n', second.ErrorLines)}");
    }

    /// <summary>The sender is killed midway: the listener says so in one line and exits non-zero; what it wrote is intact.</summary>
    [Test]
    public void ShouldEndTheListenerWithOneClearLineWhenTheSenderIsKilled()
    {
        const long Total = 64L << 20;
        using var listener = CatProcess.Start(_cluster.Root, "beta", "listen", "4300", "--timeout", "3");
        var received = new MemoryStream();
        var reading = Task.Factory.StartNew(() => listener.Output.CopyTo(received), TaskCreationOptions.LongRunning);
        using var sender = CatProcess.Start(_cluster.Root, "alpha", "send", "4300", "beta");
        using var data = new RandomBytes(seed: 16, chunkSize: 1 << 20);
        var all = new MemoryStream();
        var feeding = Task.Factory.StartNew(() =>
        {
            try
            {
                data.Feed(new TeeStream(sender.Input, all), Total, fed =>
                {
                    if (fed == Total / 2)
                    {
                        sender.Kill();
                    }
                });
            }
            catch (IOException)
            {
                // the pipe to the killed sender broke
            }
        }, TaskCreationOptions.LongRunning);

        var watch = Stopwatch.StartNew();
        var code = listener.WaitForExit(TimeSpan.FromSeconds(60));
        Assert.That(reading.Wait(s_deadline), Is.True);
        Assert.That(feeding.Wait(s_deadline), Is.True);
        Assert.That(code, Is.EqualTo(3), listener.Transcript);
        Assert.That(listener.ErrorLines, Has.Count.EqualTo(1), listener.Transcript);
        Assert.That(listener.ErrorLines[0], Does.Match(@"^imccat: the sender of stream key 4300 gave no sign of life for 3 s \(received \d+ bytes\)$"));
        Assert.That(received.Length, Is.InRange(1, Total / 2));
        Assert.That(received.ToArray(), Is.EqualTo(all.ToArray().AsSpan(0, (int)received.Length).ToArray()), "a prefix of what was sent");
        TestContext.Out.WriteLine($"listener ended after {watch.Elapsed.TotalSeconds:0.0} s: {listener.ErrorLines[0]}");
    }

    /// <summary>A reader much slower than the sender, over a ring of 4 × 16 KiB: nothing is lost or reordered.</summary>
    [Test]
    public void ShouldLoseNothingWhenTheListenersReaderIsSlow()
    {
        const long Total = 8L << 20;
        using var listener = CatProcess.Start(_cluster.Root, "beta", "listen", "4400", "--slots", "4", "--slot-kib", "16");
        var received = Task.Factory.StartNew(() => RandomBytes.Drain(listener.Output, readSize: 16 * 1024, pause: TimeSpan.FromMilliseconds(2)),
            TaskCreationOptions.LongRunning);
        using var sender = CatProcess.Start(_cluster.Root, "alpha", "send", "4400", "beta", "--slots", "4", "--slot-kib", "16");
        using var data = new RandomBytes(seed: 17, chunkSize: 256 * 1024);
        data.Feed(sender.Input, Total);
        sender.Input.Close();

        Assert.That(sender.WaitForExit(s_deadline), Is.EqualTo(0), sender.Transcript);
        Assert.That(listener.WaitForExit(s_deadline), Is.EqualTo(0), listener.Transcript);
        Assert.That(received.Wait(s_deadline), Is.True);
        Assert.That(received.Result, Is.EqualTo((data.Sha256(), Total)));
    }

    [Test]
    public void ShouldEndTheSenderWithOneClearLineWhenNoListenerComes()
    {
        using var sender = CatProcess.Start(_cluster.Root, "alpha", "send", "4500", "beta", "--timeout", "2");
        sender.Input.Write(new byte[1000]);
        sender.Input.Close();
        Assert.That(sender.WaitForExit(TimeSpan.FromSeconds(60)), Is.EqualTo(3), sender.Transcript);
        Assert.That(sender.ErrorLines, Is.EqualTo(new[]
        {
            "imccat: the reader on host 'beta' (stream key 4500) gave no sign of life for 2 s while waiting for a reader to attach, or the rail to carry the frames without error",
        }));
    }

    [Test]
    public void ShouldEndTheListenerWithOneClearLineWhenNoSenderComes()
    {
        using var listener = CatProcess.Start(_cluster.Root, "beta", "listen", "4600", "--timeout", "2");
        Assert.That(listener.WaitForExit(TimeSpan.FromSeconds(60)), Is.EqualTo(3), listener.Transcript);
        Assert.That(listener.ErrorLines, Is.EqualTo(new[] { "imccat: no sender of stream key 4600 came for 2 s (received 0 bytes)" }));
    }

    [Test]
    public void ShouldRefuseASendWithoutAHost()
    {
        using var sender = CatProcess.Start(_cluster.Root, "alpha", "send", "4700");
        sender.Input.Close();
        Assert.That(sender.WaitForExit(TimeSpan.FromSeconds(60)), Is.EqualTo(1), sender.Transcript); // 1: bad arguments
        Assert.That(sender.ErrorLines, Has.Some.Contains("Required argument missing for command: 'send'"), sender.Transcript);
    }

    private static long Retransmitted(string summary)
    {
        var match = RetransmittedPattern().Match(summary);
        return match.Success ? long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : -1;
    }

    [GeneratedRegex(@"(\d+) frame\(s\) retransmitted")]
    private static partial Regex RetransmittedPattern();
}
