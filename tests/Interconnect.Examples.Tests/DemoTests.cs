using Interconnect.Testing;

namespace Interconnect.Examples.Tests;

/// <summary>The README's demo: it auto-initialises its own cluster, runs both hosts, prints what happened and cleans up.</summary>
public sealed class DemoTests
{
    [Test]
    public void ShouldExchangeDataCountUnderTheLockSignalAndRemoveItsCluster()
    {
        using var root = TemporaryCluster.CreateEmpty();
        using var demo = ProgramProcess.Start("imc-demo", root.Root, "unused", "unused");

        Assert.That(demo.WaitForExit(TimeSpan.FromMinutes(2)), Is.Zero, demo.Transcript);
        Assert.That(demo.Lines, Has.Some.StartsWith("alpha: beta answered \"hello from beta, pid"), demo.Transcript);
        Assert.That(demo.Lines, Has.Some.Contains("it reads 40000 (expected 40000)"), demo.Transcript);
        Assert.That(demo.Lines, Has.Some.Contains("SIGUSR1").And.Contains("beta's handler answered each"), demo.Transcript);
        Assert.That(demo.Lines, Has.Some.StartsWith("beta:  handled 20 signal(s)"), demo.Transcript);
        Assert.That(demo.Lines, Has.Some.Contains("200000 round trips of an 8-byte write"), demo.Transcript);
        Assert.That(demo.Lines[^1], Does.StartWith("alpha: removed cluster 'demo-"), demo.Transcript);
        Assert.That(Directory.GetFileSystemEntries(root.Root), Is.Empty, "the demo's cluster folder is gone");
    }
}
