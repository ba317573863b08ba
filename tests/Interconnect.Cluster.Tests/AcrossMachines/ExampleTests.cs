using System.Globalization;
using System.Text.RegularExpressions;
using Interconnect.Machines;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests.AcrossMachines;

/// <summary>
/// The manual's examples (mc_ex1..mc_ex6) and the message ring (mc_msg) with their two hosts on two machines,
/// unchanged: alpha on machine 1, beta on machine 2.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(900_000)]
public sealed partial class ExampleTests : AlphaBetaFixture
{

    [Test]
    public void ShouldRunExample1WithTheMasterAndTheSlaveOnTwoMachines()
    {
        using var slave = Start(Imc[1], "mc_ex1", "beta", "0");
        slave.WaitForLine("waiting for the master");
        using var master = Start(Imc[0], "mc_ex1", "alpha", "1");
        Assert.That(master.WaitForExit(), Is.Zero, master.Transcript);
        Assert.That(slave.WaitForLine("pid of master process is"), Is.EqualTo($"pid of master process is {master.Pid}"), slave.Transcript);
        Assert.That(slave.WaitForExit(), Is.Zero, slave.Transcript);
    }

    [Test]
    public void ShouldCountExample2sProcessesOnTwoMachinesInACoherentRegion()
    {
        using var first = Start(Imc[0], "mc_ex2", "alpha", "--coherent");
        Assert.That(first.WaitForLine("joined: process count is now"), Does.EndWith("count is now 1"), first.Transcript);
        using var second = Start(Imc[1], "mc_ex2", "beta", "--coherent");
        Assert.That(second.WaitForLine("joined: process count is now"), Does.EndWith("count is now 2"), second.Transcript);

        var firstOut = Leave(first);
        var secondOut = Leave(second);

        Assert.That(firstOut, Has.Some.EndsWith("leaving: process count is now 1"), first.Transcript);
        Assert.That(firstOut, Has.None.EqualTo("The last process is exiting"), first.Transcript);
        Assert.That(secondOut, Has.Some.EndsWith("leaving: process count is now 0"), second.Transcript);
        Assert.That(secondOut, Has.Some.EqualTo("The last process is exiting"), second.Transcript);
    }

    [Test]
    public void ShouldInitialiseExample5sRegionOnceWhenProcessesOnTwoMachinesRace()
    {
        var processes = new[] { (0, "alpha"), (1, "beta"), (0, "alpha"), (1, "beta") }
            .Select(p => Start(Imc[p.Item1], "mc_ex5", p.Item2, "--coherent")).ToList();
        try
        {
            var results = processes.Select(p => p.WaitForLine("lock set 456")).ToList();
            var all = string.Join('\n', processes.Select(p => p.Transcript));

            Assert.That(results.Count(r => r.Contains("created lock set 456", StringComparison.Ordinal)), Is.EqualTo(1), all);
            var counts = results.Select(r => SecondaryCount().Match(r)).Where(m => m.Success)
                .Select(m => (Before: int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture),
                    After: int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))
                .ToList();
            Assert.That(counts.Select(c => c.After).Order(), Is.EqualTo(Enumerable.Range(1, processes.Count - 1)), all);
            Assert.That(counts.All(c => c.After == c.Before + 1), Is.True, all);
            Assert.That(results.Where(r => r.Contains("exists", StringComparison.Ordinal)),
                Has.All.Contains("the initialised pattern is there"), all);
            foreach (var process in processes)
            {
                Assert.That(Leave(process), Has.Some.Contains("released the lock set and the region"), process.Transcript);
            }
        }
        finally
        {
            processes.ForEach(p => p.Dispose());
        }
    }

    [Test]
    public void ShouldDeliverEveryMessageOfTheMessageRingFromOneMachineToTheOtherWhenTheSenderInjectsLosses()
    {
        using var receiver = Start(Imc[1], "mc_msg", "beta", "receive");
        receiver.WaitForLine("waiting for messages");
        using var sender = Start(Imc[0], "mc_msg", "alpha", "send", "--messages", "1000", "--drop-every", "100");

        Assert.That(sender.WaitForExit(), Is.Zero, sender.Transcript);
        Assert.That(receiver.WaitForExit(), Is.Zero, receiver.Transcript);
        Assert.That(receiver.Lines, Has.Some.Contains("1000 message(s) received in order; 0 wrong;"), receiver.Transcript);
        Assert.That(sender.Lines, Has.Some.Contains("1000 message(s) sent and taken; 10 lost delivery(ies) injected"), sender.Transcript);
    }

    [TestCase("mc_ex3", "tx")]
    [TestCase("mc_ex4", null)]
    public void ShouldRecoverEveryLossWithTheTransmitterAndTheReceiverOnTwoMachines(string program, string? mode)
    {
        const int Messages = 9;
        using var receiver = Start(Imc[1], "mc_ex3", "beta", "rx");
        receiver.WaitForLine("waiting for messages");
        string[] args = [.. mode is null ? [] : new[] { mode }, "--messages", $"{Messages}", "--drop-every", "3"];
        using var transmitter = Start(Imc[0], program, "alpha", args);
        Assert.That(transmitter.WaitForExit(), Is.Zero, transmitter.Transcript);
        Assert.That(receiver.WaitForExit(), Is.Zero, receiver.Transcript);
        Assert.That(receiver.Lines, Has.Some.Contains($"received {Messages} of {Messages} message(s) in order"), receiver.Transcript);
        Assert.That(receiver.Lines, Has.Some.Contains("; 0 damaged message(s) accepted"), receiver.Transcript);
    }

    [Test]
    public void ShouldWakeExample6WhenAHostJoinsOnTheOtherMachine()
    {
        using var waiting = Start(Imc[0], "mc_ex6", "alpha");
        Assert.That(waiting.WaitForLine("hosts:"), Does.Contain("alpha, beta"), waiting.Transcript);
        waiting.WaitForLine("waiting for a host");
        ImcMachines.InitHost(Imc[1], "gamma");
        Assert.That(waiting.WaitForExit(), Is.Zero, waiting.Transcript);
        Assert.That(waiting.Lines[^1], Does.StartWith("mc_ex6: IMC_HOST_CHANGE").And.Contains("gamma"), waiting.Transcript);
    }

    /// <summary>Lets the process leave (Enter) and returns what it printed on the way out.</summary>
    private static IReadOnlyList<string> Leave(ProgramProcess process)
    {
        process.WaitForLine("press Enter");
        process.WriteLine("");
        Assert.That(process.WaitForExit(), Is.Zero, process.Transcript);
        return process.Lines;
    }

    [GeneratedRegex(@"process count (\d+) -> (\d+);")]
    private static partial Regex SecondaryCount();

    private static ProgramProcess Start(SimulatedMachine machine, string program, string host, params string[] args)
    {
        var environment = ImcMachines.Environment();
        environment["IMC_HOST"] = host;
        var process = machine.Start("dotnet", [Path.Combine(AppContext.BaseDirectory, program + ".dll"), .. args], environment);
        return ProgramProcess.Adopt(process, program, host);
    }
}
