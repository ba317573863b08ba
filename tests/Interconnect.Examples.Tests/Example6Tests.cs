using Interconnect.Testing;

namespace Interconnect.Examples.Tests;

/// <summary>mc_ex6 (manual Example 10-6): cluster information, then a wait that returns on a cluster event.</summary>
public sealed class Example6Tests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private ProgramProcess StartWaiting(params string[] args)
    {
        var process = ProgramProcess.Start("mc_ex6", _cluster.Root, TemporaryCluster.ClusterName, "alpha", args);
        Assert.That(process.WaitForLine("hosts:"), Does.Contain("hosts: alpha, beta; 1 logical rail(s); active rails mask 0x1"),
            process.Transcript);
        process.WaitForLine("waiting for a host");
        return process;
    }

    private void Run(string command, params string[] args)
    {
        var result = Command.Run(command, _cluster.Root, TemporaryCluster.ClusterName, args);
        Assert.That(result.ExitCode, Is.Zero, result.Error);
    }

    [Test]
    public void ShouldReturnWithTheNewHostsWhenAHostJoins()
    {
        using var process = StartWaiting();

        Run("imc_init", "--host", "gamma");

        Assert.That(process.WaitForExit(), Is.Zero, process.Transcript);
        Assert.That(process.Lines[^1], Does.StartWith("mc_ex6: IMC_HOST_CHANGE").And.Contains("hosts: alpha, beta, gamma;"),
            process.Transcript);
    }

    [Test]
    public void ShouldReturnWhenAHostLeaves()
    {
        using var process = StartWaiting();

        Run("imc_init", "--host", "beta", "--down");

        Assert.That(process.WaitForExit(), Is.Zero, process.Transcript);
        Assert.That(process.Lines[^1], Does.StartWith("mc_ex6: IMC_HOST_CHANGE").And.Contains("now hosts: alpha;"),
            process.Transcript);
    }

    [Test]
    public void ShouldReturnWithTheActiveRailsWhenTheRailFails()
    {
        using var process = StartWaiting();

        Run("imcctl", "fail-rail", "0");

        Assert.That(process.WaitForExit(), Is.Zero, process.Transcript);
        Assert.That(process.Lines[^1], Does.StartWith("mc_ex6: IMC_RAIL_CHANGE").And.EndsWith("active rails mask 0x0"),
            process.Transcript);
    }

    [Test]
    public void ShouldGiveUpWithoutAnEventWithinTheWait()
    {
        using var process = StartWaiting("--wait", "1");

        Assert.That(process.WaitForExit(), Is.EqualTo(3), process.Transcript);
        Assert.That(process.Lines, Has.None.Contains("CHANGE"), process.Transcript);
    }
}
