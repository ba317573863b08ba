using Interconnect.Testing;

namespace Interconnect.Examples.Tests;

/// <summary>mc_ex4 (manual Example 10-4) to mc_ex3 rx: the transmitter's own check finds every loss and retransmits.</summary>
public sealed class Example4Tests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private ProgramProcess StartReceiver()
    {
        var receiver = ProgramProcess.Start("mc_ex3", _cluster.Root, TemporaryCluster.ClusterName, "beta", "rx");
        receiver.WaitForLine("waiting for messages");
        return receiver;
    }

    private ProgramProcess StartTransmitter(params string[] args) =>
        ProgramProcess.Start("mc_ex4", _cluster.Root, TemporaryCluster.ClusterName, "alpha", args);

    private static void AssertAllReceivedWhole(ProgramProcess transmitter, ProgramProcess receiver, int messages)
    {
        Assert.That(transmitter.WaitForExit(), Is.Zero, transmitter.Transcript);
        Assert.That(receiver.WaitForExit(), Is.Zero, receiver.Transcript);
        Assert.That(receiver.Lines, Has.Some.Contains($"received {messages} of {messages} message(s) in order"), receiver.Transcript);
        Assert.That(receiver.Lines, Has.Some.Contains("; 0 damaged message(s) accepted"), receiver.Transcript);
        Assert.That(transmitter.Lines, Has.Some.StartsWith($"mc_ex4: sent {messages} message(s)"), transmitter.Transcript);
    }

    [Test]
    public void ShouldRetransmitUntilTheCheckPassesWhenTheWholeFirstTransmissionIsLost()
    {
        using var receiver = StartReceiver();
        var injected = Command.Run("imcctl", _cluster.Root, TemporaryCluster.ClusterName,
            "inject-error", "--rail", "0", "--count", "3", "--host", "beta");
        Assert.That(injected.ExitCode, Is.Zero, injected.Error);

        using var transmitter = StartTransmitter(); // the defaults: 3 messages

        AssertAllReceivedWhole(transmitter, receiver, 3);
        Assert.That(transmitter.Lines, Has.Some.Match(FailedCheck(1)), transmitter.Transcript);
        Assert.That(transmitter.Lines, Has.None.Match(FailedCheck(2)), transmitter.Transcript);
    }

    [Test]
    public void ShouldRetransmitEachMessageWhoseDeliveryWasLost()
    {
        using var receiver = StartReceiver();

        using var transmitter = StartTransmitter("--messages", "9", "--drop-every", "3");

        AssertAllReceivedWhole(transmitter, receiver, 9);
        var retransmitted = Enumerable.Range(1, 9)
            .Where(m => transmitter.Lines.Any(l => System.Text.RegularExpressions.Regex.IsMatch(l, FailedCheck(m))));
        Assert.That(retransmitted, Is.EqualTo(new[] { 3, 6, 9 }), transmitter.Transcript);
    }

    private static string FailedCheck(int message) => $"^mc_ex4: message {message}: the error check failed [1-9][0-9]* time";
}
