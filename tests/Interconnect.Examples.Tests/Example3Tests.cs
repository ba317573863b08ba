using System.Text.RegularExpressions;
using Interconnect.Testing;

namespace Interconnect.Examples.Tests;

/// <summary>mc_ex3 tx|rx (manual Example 10-3): the receiver detects lost writes by the error count; the message is sent again.</summary>
public sealed partial class Example3Tests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private ProgramProcess Start(string host, params string[] args) =>
        ProgramProcess.Start("mc_ex3", _cluster.Root, TemporaryCluster.ClusterName, host, args);

    private ProgramProcess StartReceiver()
    {
        var receiver = Start("beta", "rx");
        receiver.WaitForLine("waiting for messages");
        return receiver;
    }

    private void ImcCtl(params string[] args)
    {
        var result = Command.Run("imcctl", _cluster.Root, TemporaryCluster.ClusterName, args);
        Assert.That(result.ExitCode, Is.Zero, result.Error);
    }

    private static int Number(ProgramProcess process, Regex pattern)
    {
        var match = process.Lines.Select(l => pattern.Match(l)).SingleOrDefault(m => m.Success);
        Assert.That(match, Is.Not.Null, $"no line matches {pattern}\n{process.Transcript}");
        return int.Parse(match!.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Both sides finished; the receiver got every message, in order, and accepted none with a damaged body.</summary>
    private static void AssertAllReceivedWhole(ProgramProcess transmitter, ProgramProcess receiver, int messages)
    {
        Assert.That(transmitter.WaitForExit(), Is.Zero, transmitter.Transcript);
        Assert.That(receiver.WaitForExit(), Is.Zero, receiver.Transcript);
        Assert.That(receiver.Lines, Has.Some.Contains($"received {messages} of {messages} message(s) in order"), receiver.Transcript);
        Assert.That(receiver.Lines, Has.Some.Contains("; 0 damaged message(s) accepted"), receiver.Transcript);
        for (var m = 1; m <= messages; m++)
        {
            Assert.That(receiver.Lines, Has.Exactly(1).Contains($"message {m} of {messages} ("), receiver.Transcript);
        }
    }

    [Test]
    public void ShouldDetectALostBodyAndCountOnArrivalAndAcceptTheMessageSentAgain()
    {
        using var receiver = StartReceiver();
        ImcCtl("inject-error", "--rail", "0", "--count", "2", "--host", "beta"); // the body and count of transmission 1

        // A long resend time: the receiver, not the transmitter's patience, must be what finds the loss.
        using var transmitter = Start("alpha", "tx", "--messages", "3", "--resend-after", "30000");

        AssertAllReceivedWhole(transmitter, receiver, 3);
        Assert.That(receiver.Lines, Has.Some.Contains("message 1 (transmission 1)").And.Contains("an error was detected"),
            receiver.Transcript);
        Assert.That(transmitter.Lines, Has.Some.Contains("message 1: the receiver found an error in transmission 1"),
            transmitter.Transcript);
    }

    [Test]
    public void ShouldDetectAndRecoverLostDeliveriesInjectedBeforeEveryThirdMessage()
    {
        using var receiver = StartReceiver();

        using var transmitter = Start("alpha", "tx", "--messages", "9", "--drop-every", "3", "--resend-after", "30000");

        AssertAllReceivedWhole(transmitter, receiver, 9);
        Assert.That(transmitter.Lines.Count(l => l.Contains("injected a lost delivery", StringComparison.Ordinal)), Is.EqualTo(3),
            transmitter.Transcript);
        // Each loss is found by the receiver's count check, once; none by the transmitter waiting in vain.
        Assert.That(Number(receiver, RejectedSummary()), Is.EqualTo(3), receiver.Transcript);
        Assert.That(Number(transmitter, UnansweredSummary()), Is.Zero, transmitter.Transcript);
        foreach (var message in new[] { 3, 6, 9 })
        {
            Assert.That(transmitter.Lines, Has.Some.StartsWith($"mc_ex3 tx: message {message}: the receiver found an error"),
                transmitter.Transcript);
        }
    }

    [Test]
    public void ShouldResendAWholeLostTransmissionThatTheReceiverCannotSee()
    {
        using var receiver = StartReceiver();
        ImcCtl("inject-error", "--rail", "0", "--count", "3", "--host", "beta"); // transmission 1, valid flag included

        using var transmitter = Start("alpha", "tx"); // the defaults: 3 messages, sent again after 200 ms without answer

        AssertAllReceivedWhole(transmitter, receiver, 3);
        Assert.That(transmitter.Lines, Has.Some.Contains("message 1: no answer to transmission 1"), transmitter.Transcript);
        Assert.That(receiver.Lines, Has.None.Contains("transmission 1)"), receiver.Transcript);
    }

    [GeneratedRegex(@"; (\d+) transmission\(s\) rejected on an error count mismatch")]
    private static partial Regex RejectedSummary();

    [GeneratedRegex(@" rejected by the receiver, (\d+) unanswered$")]
    private static partial Regex UnansweredSummary();
}
