using Interconnect.Testing;

namespace Interconnect.Examples.Tests;

/// <summary>mc_ex1 (manual Example 10-1): a master on one host, a slave on another.</summary>
public sealed class Example1Tests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private ProgramProcess Start(string host, params string[] args) =>
        ProgramProcess.Start("mc_ex1", _cluster.Root, TemporaryCluster.ClusterName, host, args);

    [Test]
    public void ShouldPrintTheMastersPidOnTheSlaveOnAnotherHost()
    {
        using var slave = Start("beta", "0");
        slave.WaitForLine("waiting for the master");

        using var master = Start("alpha", "1");
        Assert.That(master.WaitForExit(), Is.Zero, master.Transcript);
        var line = slave.WaitForLine("pid of master process is");

        Assert.That(line, Is.EqualTo($"pid of master process is {master.Pid}"), slave.Transcript);
        Assert.That(master.Lines, Has.Some.Contains($"master pid {master.Pid} on host alpha"), master.Transcript);
        Assert.That(slave.WaitForExit(), Is.Zero, slave.Transcript);
    }

    [Test]
    public void ShouldGiveUpWhenNoMasterWritesWithinTheWait()
    {
        using var slave = Start("beta", "0", "--wait", "1");

        Assert.That(slave.WaitForExit(), Is.EqualTo(3), slave.Transcript);
        Assert.That(slave.Lines, Has.None.Contains("pid of master process"), slave.Transcript);
    }
}
