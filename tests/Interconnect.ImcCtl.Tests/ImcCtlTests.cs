using Interconnect.Driver;
using Interconnect.Testing;

namespace Interconnect.ImcCtl.Tests;

/// <summary>imcctl as a user runs it, including every way to misuse it.</summary>
public sealed class ImcCtlTests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create(new ClusterConfiguration { PhysicalRails = 2 }, "alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private CommandResult ImcCtl(params string[] args) => Command.Run("imcctl", _cluster.Root, TemporaryCluster.ClusterName, args);

    private RailStatus Rails() => ClusterAdmin.ReadRails(_cluster.Paths);

    private void AssertRefusedAndUnchanged(CommandResult result, string mentions)
    {
        var before = Rails();
        Assert.That(result.ExitCode, Is.EqualTo(1), result.Error);
        Assert.That(result.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), result.Error);
        Assert.That(result.Error, Does.StartWith("imcctl: ").And.Contain(mentions));
        var after = Rails();
        Assert.That(after.Logical, Is.EqualTo(before.Logical));
        Assert.That(after.Physical, Is.EqualTo(before.Physical));
    }

    [Test]
    public void ShouldArmDropsOnALogicalRail()
    {
        var result = ImcCtl("inject-error", "--rail", "1", "--count", "3", "--host", "beta");

        Assert.That(result.ExitCode, Is.Zero, result.Error);
        Assert.That(result.Output, Does.Contain("3 transmission(s) on logical rail 1 toward host 'beta'"));
        Assert.That(Rails().Logical[1].PendingDrops, Is.EqualTo(3));
        Assert.That(Rails().Logical[0].PendingDrops, Is.Zero);
    }

    [Test]
    public void ShouldFailAndRepairAPhysicalRail()
    {
        Assert.That(ImcCtl("fail-rail", "1").ExitCode, Is.Zero);
        Assert.That(Rails().Physical[1].Failed, Is.True);
        Assert.That(Rails().Logical[1].Down, Is.True);
        Assert.That(ImcCtl("fail-rail", "1").Output, Does.Contain("had already failed"));

        Assert.That(ImcCtl("repair-rail", "1").ExitCode, Is.Zero);
        Assert.That(Rails().Logical[1].Down, Is.False);
        Assert.That(ImcCtl("repair-rail", "1").Output, Does.Contain("was not failed"));
    }

    [TestCase("2")]
    [TestCase("-1")]
    [TestCase("99")]
    public void ShouldRefuseAnUnknownLogicalRail(string rail)
    {
        AssertRefusedAndUnchanged(ImcCtl("inject-error", "--rail", rail), "logical rail");
    }

    [TestCase("fail-rail", "2")]
    [TestCase("repair-rail", "-1")]
    public void ShouldRefuseAnUnknownPhysicalRail(string command, string rail)
    {
        AssertRefusedAndUnchanged(ImcCtl(command, rail), "physical rail");
    }

    [Test]
    public void ShouldRefuseANegativeCount()
    {
        AssertRefusedAndUnchanged(ImcCtl("inject-error", "--rail", "0", "--count", "-1"), "--count -1");
    }

    [TestCase("gamma")]
    [TestCase("../alpha")]
    public void ShouldRefuseAnUnknownHost(string host)
    {
        AssertRefusedAndUnchanged(ImcCtl("inject-error", "--rail", "0", "--host", host), "--host");
    }

    [Test]
    public void ShouldRefuseWhenThereIsNoCluster()
    {
        var result = Command.Run("imcctl", _cluster.Root, "nothing-here", "fail-rail", "0");

        Assert.That(result.ExitCode, Is.EqualTo(3), result.Error); // as imcs: 3, no cluster
        Assert.That(result.Error, Does.Contain("no cluster 'nothing-here'").And.Contain("imc_init"));
        Assert.That(Directory.Exists(Path.Combine(_cluster.Root, "nothing-here")), Is.False);
    }

    [TestCase("Option '--rail' is required", "inject-error")]
    [TestCase("Unrecognized command or argument 'frobnicate'", "frobnicate")]
    [TestCase("Cannot parse argument 'x'", "fail-rail", "x")]
    public void ShouldRefuseMalformedCommandLines(string mentions, params string[] args)
    {
        var result = ImcCtl(args);

        Assert.That(result.ExitCode, Is.EqualTo(1), result.Error);
        Assert.That(result.Error, Does.Contain(mentions));
    }

    [Test]
    public void ShouldDestroyTheCluster()
    {
        var result = ImcCtl("destroy");

        Assert.That(result.ExitCode, Is.Zero, result.Error);
        Assert.That(Directory.Exists(_cluster.Paths.ClusterDirectory), Is.False);
        var again = ImcCtl("destroy");
        Assert.That(again.ExitCode, Is.EqualTo(3), again.Error);
        Assert.That(again.Error, Does.Contain("nothing to remove"));
    }
}
