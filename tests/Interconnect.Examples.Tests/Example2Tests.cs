using Interconnect.Testing;

namespace Interconnect.Examples.Tests;

/// <summary>mc_ex2 (manual Example 10-2): a global process count, up on start and down on leaving.</summary>
public sealed class Example2Tests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private ProgramProcess Start(string host, params string[] args) =>
        ProgramProcess.Start("mc_ex2", _cluster.Root, TemporaryCluster.ClusterName, host, args);

    private static string Joined(ProgramProcess process) => process.WaitForLine("joined: process count is now");

    /// <summary>Lets the process leave (Enter) and returns what it printed on the way out.</summary>
    private static IReadOnlyList<string> Leave(ProgramProcess process)
    {
        process.WaitForLine("press Enter");
        process.WriteLine("");
        Assert.That(process.WaitForExit(), Is.Zero, process.Transcript);
        return process.Lines;
    }

    [Test]
    public void ShouldBringTheCountBackToZeroAcrossTwoHostsWithACoherentRegion()
    {
        using var first = Start("alpha", "--coherent");
        Assert.That(Joined(first), Does.EndWith("count is now 1"), first.Transcript);
        using var second = Start("beta", "--coherent");
        Assert.That(Joined(second), Does.EndWith("count is now 2"), second.Transcript);

        var firstOut = Leave(first);
        var secondOut = Leave(second);

        Assert.That(firstOut, Has.Some.EndsWith("leaving: process count is now 1"), first.Transcript);
        Assert.That(firstOut, Has.None.EqualTo("The last process is exiting"), first.Transcript);
        Assert.That(secondOut, Has.Some.EndsWith("leaving: process count is now 0"), second.Transcript);
        Assert.That(secondOut, Has.Some.EqualTo("The last process is exiting"), second.Transcript);
    }

    [Test]
    public void ShouldBringTheCountBackToZeroOnOneHostAsTheCProgramIsWritten()
    {
        using var first = Start("alpha");
        Assert.That(Joined(first), Does.EndWith("count is now 1"), first.Transcript);
        using var second = Start("alpha");
        Assert.That(Joined(second), Does.EndWith("count is now 2"), second.Transcript);

        Assert.That(Leave(second), Has.None.EqualTo("The last process is exiting"), second.Transcript);
        var firstOut = Leave(first);

        Assert.That(firstOut, Has.Some.EndsWith("leaving: process count is now 0"), first.Transcript);
        Assert.That(firstOut, Has.Some.EqualTo("The last process is exiting"), first.Transcript);
    }

    [Test]
    public void ShouldStartFromZeroOnASecondHostWithoutCoherentAsTheManualWarns()
    {
        using var first = Start("alpha");
        Assert.That(Joined(first), Does.EndWith("count is now 1"), first.Transcript);

        // The C program's region is not coherent: beta's first receive attach starts from zeroed memory (10.6.2).
        using var second = Start("beta");

        Assert.That(Joined(second), Does.EndWith("count is now 1"), second.Transcript);
        Leave(first);
        Leave(second);
    }
}
