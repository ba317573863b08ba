using System.Text.RegularExpressions;
using Interconnect.Driver;
using Interconnect.Imc;
using Interconnect.Messaging;
using Interconnect.Testing;

namespace Interconnect.Examples.Tests;

/// <summary>The message ring of examples/Interconnect.Messaging (manual 10.10), in one process and between two.</summary>
public sealed partial class MessagingTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private static byte[] Message(int i, int maxLength)
    {
        var message = new byte[1 + (i * 7919 % maxLength)];
        BitConverter.TryWriteBytes(message, i);
        for (var j = 4; j < message.Length; j++)
        {
            message[j] = (byte)(i ^ j);
        }

        return message;
    }

    [TestCase(1, 64)]
    [TestCase(2, 4)]
    public void ShouldDeliverEveryMessageInOrderWhenDeliveriesAreLost(int seed, int slots)
    {
        const int Messages = 5000;
        var options = new MessageRingOptions { SlotCount = slots, MaxMessageLength = 200 };
        using var alpha = _cluster.Open("alpha");
        using var beta = _cluster.Open("beta");
        using var receiver = new MessageReceiver(beta, options);
        using var sender = new MessageSender(alpha, options);
        var received = new List<byte[]>();
        var receiving = Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < Messages; i++)
            {
                received.Add(receiver.Receive(s_timeout));
            }
        }, TaskCreationOptions.LongRunning);

        // Lose 1 to 3 deliveries on the rail (to any host: a message's writes or the receiver's answers) before
        // every 50th message or so, the last well before the end so that every armed drop is used.
        var random = new Random(seed);
        var injected = 0;
        for (var i = 0; i < Messages; i++)
        {
            if (i % 50 == 25 && i < Messages - 500)
            {
                var count = random.Next(1, 4);
                ImcControl.InjectErrors(0, count, options: _cluster.ControlOptions);
                injected += count;
            }

            sender.Send(Message(i, options.MaxMessageLength), s_timeout);
        }

        sender.Flush(s_timeout);
        Assert.That(receiving.Wait(s_timeout), Is.True, "the receiver did not take every message");

        Assert.That(received, Has.Count.EqualTo(Messages));
        for (var i = 0; i < Messages; i++)
        {
            Assert.That(received[i], Is.EqualTo(Message(i, options.MaxMessageLength)), $"message {i}");
        }

        Assert.That(ClusterAdmin.ReadRails(_cluster.Paths).Logical[0].Drops, Is.EqualTo(injected), "every armed drop happened");
        Assert.That(sender.ErrorsDetected + receiver.Rejected, Is.GreaterThan(0));
        Assert.That(sender.Retransmissions, Is.GreaterThan(0));
        TestContext.Out.WriteLine($"{injected} deliveries lost; the sender's check failed {sender.ErrorsDetected} time(s), " +
            $"{sender.Retransmissions} message(s) written again; the receiver refused {receiver.Rejected} arrival(s)");
    }

    [Test]
    public void ShouldWaitForTheReceiverToAttachBeforeTheFirstWrite()
    {
        using var alpha = _cluster.Open("alpha");
        using var beta = _cluster.Open("beta");
        using var sender = new MessageSender(alpha);

        Assert.Throws<TimeoutException>(() => sender.Send([1, 2, 3], TimeSpan.FromMilliseconds(200)));
        Assert.That(sender.Sent, Is.Zero, "nothing was written before a receiver attached");

        using var receiver = new MessageReceiver(beta);
        sender.Send([1, 2, 3], s_timeout);
        Assert.That(receiver.Receive(s_timeout), Is.EqualTo(new byte[] { 1, 2, 3 }));
    }

    [Test]
    public void ShouldBlockTheSenderWhileTheRingIsFull()
    {
        var options = new MessageRingOptions { SlotCount = 4 };
        using var alpha = _cluster.Open("alpha");
        using var beta = _cluster.Open("beta");
        using var receiver = new MessageReceiver(beta, options);
        using var sender = new MessageSender(alpha, options);
        for (byte i = 0; i < 4; i++)
        {
            sender.Send([i], s_timeout); // in flight: the sender does not wait for the receiver
        }

        Assert.Throws<TimeoutException>(() => sender.Send([4], TimeSpan.FromMilliseconds(200)));
        Assert.That(receiver.Receive(s_timeout), Is.EqualTo(new byte[] { 0 }));
        sender.Send([4], s_timeout);
        for (byte i = 1; i <= 4; i++)
        {
            Assert.That(receiver.Receive(s_timeout), Is.EqualTo(new[] { i }));
        }
    }

    [Test]
    public void ShouldRefuseAMessageLongerThanASlot()
    {
        using var alpha = _cluster.Open("alpha");
        using var sender = new MessageSender(alpha, new MessageRingOptions { MaxMessageLength = 16 });

        Assert.Throws<ArgumentOutOfRangeException>(() => sender.Send(new byte[17], s_timeout));
    }

    [Test]
    public void ShouldTimeOutAReceiveWhenNothingIsSent()
    {
        using var beta = _cluster.Open("beta");
        using var receiver = new MessageReceiver(beta);

        Assert.Throws<TimeoutException>(() => receiver.Receive(TimeSpan.FromMilliseconds(100)));
        Assert.That(receiver.Received, Is.Zero);
    }

    [Test]
    public void ShouldDeliverEveryMessageBetweenTwoProcessesWhenTheSenderInjectsLosses()
    {
        using var receiver = ProgramProcess.Start("mc_msg", _cluster.Root, TemporaryCluster.ClusterName, "beta", "receive");
        receiver.WaitForLine("waiting for messages");

        using var sender = ProgramProcess.Start("mc_msg", _cluster.Root, TemporaryCluster.ClusterName, "alpha",
            "send", "--messages", "3000", "--drop-every", "100");

        Assert.That(sender.WaitForExit(), Is.Zero, sender.Transcript);
        Assert.That(receiver.WaitForExit(), Is.Zero, receiver.Transcript);
        Assert.That(receiver.Lines, Has.Some.Contains("3000 message(s) received in order; 0 wrong;"), receiver.Transcript);
        var summary = sender.Lines.Select(l => SenderSummary().Match(l)).Single(m => m.Success);
        Assert.That(summary.Groups[1].Value, Is.EqualTo("30"), sender.Transcript);
        Assert.That(int.Parse(summary.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThan(0),
            sender.Transcript);
        Assert.That(ClusterAdmin.ReadRails(_cluster.Paths).Logical[0].Drops, Is.EqualTo(30));
    }

    [GeneratedRegex(@"3000 message\(s\) sent and taken; (\d+) lost delivery\(ies\) injected; the error check failed (\d+) time")]
    private static partial Regex SenderSummary();
}
