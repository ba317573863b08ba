using Interconnect.Machines;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests.AcrossMachines;

/// <summary>
/// The manual's examples with their two hosts on two machines, unchanged: alpha on machine 1, beta on machine 2.
/// (mc_ex2, mc_ex5 and mc_msg use coherent regions or lock sets, not available across machines yet.)
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(600_000)]
public sealed class ExampleTests
{
    private ImcMachines _imc = null!;

    [OneTimeSetUp]
    public void StartMachines()
    {
        _imc = ImcMachines.Start(2);
        InitHost(_imc[0], "alpha");
        InitHost(_imc[1], "beta");
    }

    [OneTimeTearDown]
    public void StopMachines() => _imc?.Dispose();

    [Test]
    public void ShouldRunExample1WithTheMasterAndTheSlaveOnTwoMachines()
    {
        using var slave = Start(_imc[1], "mc_ex1", "beta", "0");
        slave.WaitForLine("waiting for the master");
        using var master = Start(_imc[0], "mc_ex1", "alpha", "1");
        Assert.That(master.WaitForExit(), Is.Zero, master.Transcript);
        Assert.That(slave.WaitForLine("pid of master process is"), Is.EqualTo($"pid of master process is {master.Pid}"), slave.Transcript);
        Assert.That(slave.WaitForExit(), Is.Zero, slave.Transcript);
    }

    [TestCase("mc_ex3", "tx")]
    [TestCase("mc_ex4", null)]
    public void ShouldRecoverEveryLossWithTheTransmitterAndTheReceiverOnTwoMachines(string program, string? mode)
    {
        const int Messages = 9;
        using var receiver = Start(_imc[1], "mc_ex3", "beta", "rx");
        receiver.WaitForLine("waiting for messages");
        string[] args = [.. mode is null ? [] : new[] { mode }, "--messages", $"{Messages}", "--drop-every", "3"];
        using var transmitter = Start(_imc[0], program, "alpha", args);
        Assert.That(transmitter.WaitForExit(), Is.Zero, transmitter.Transcript);
        Assert.That(receiver.WaitForExit(), Is.Zero, receiver.Transcript);
        Assert.That(receiver.Lines, Has.Some.Contains($"received {Messages} of {Messages} message(s) in order"), receiver.Transcript);
        Assert.That(receiver.Lines, Has.Some.Contains("; 0 damaged message(s) accepted"), receiver.Transcript);
    }

    [Test]
    public void ShouldWakeExample6WhenAHostJoinsOnTheOtherMachine()
    {
        using var waiting = Start(_imc[0], "mc_ex6", "alpha");
        Assert.That(waiting.WaitForLine("hosts:"), Does.Contain("alpha, beta"), waiting.Transcript);
        waiting.WaitForLine("waiting for a host");
        InitHost(_imc[1], "gamma");
        Assert.That(waiting.WaitForExit(), Is.Zero, waiting.Transcript);
        Assert.That(waiting.Lines[^1], Does.StartWith("mc_ex6: IMC_HOST_CHANGE").And.Contains("gamma"), waiting.Transcript);
    }

    private static void InitHost(SimulatedMachine machine, string host)
    {
        var init = machine.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imc_init.dll"), "--host", host],
            TimeSpan.FromSeconds(60), ImcMachines.Environment());
        Assert.That(init.ExitCode, Is.Zero, init.Stdout + init.Stderr);
    }

    private static ProgramProcess Start(SimulatedMachine machine, string program, string host, params string[] args)
    {
        var environment = ImcMachines.Environment();
        environment["IMC_HOST"] = host;
        var process = machine.Start("dotnet", [Path.Combine(AppContext.BaseDirectory, program + ".dll"), .. args], environment);
        return ProgramProcess.Adopt(process, program, host);
    }
}
