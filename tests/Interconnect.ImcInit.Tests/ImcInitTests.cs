using Interconnect.Imc;
using Interconnect.Testing;

namespace Interconnect.ImcInit.Tests;

/// <summary>imc_init as a user runs it: creating, joining, reconfiguring and taking hosts down.</summary>
public sealed class ImcInitTests
{
    private TemporaryCluster _root = null!;

    [SetUp]
    public void SetUp() => _root = TemporaryCluster.CreateEmpty();

    [TearDown]
    public void TearDown() => _root.Dispose();

    private CommandResult ImcInit(params string[] args) =>
        Command.Run("imc_init", _root.Root, TemporaryCluster.ClusterName, args);

    private static void AssertFailedWithOneLine(CommandResult result, string mentions)
    {
        Assert.That(result.ExitCode, Is.EqualTo(1), result.Error);
        Assert.That(result.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), result.Error);
        Assert.That(result.Error, Does.StartWith("imc_init: ").And.Contain(mentions));
    }

    [Test]
    public void ShouldCreateTheClusterAndBringTheHostUp()
    {
        var result = ImcInit("--host", "alpha");

        Assert.That(result.ExitCode, Is.Zero, result.Error);
        Assert.That(result.Output, Does.Contain("created cluster 'test'").And.Contain("host 'alpha' joined"));
        using var context = ImcContext.Open(_root.Options("alpha"));
        Assert.That(context.HostName, Is.EqualTo("alpha"));
    }

    [Test]
    public void ShouldSetTheLimitsItIsGiven()
    {
        Assert.That(ImcInit("--host", "alpha", "-a", "1", "-r", "1").ExitCode, Is.Zero);
        using var context = ImcContext.Open(_root.Options("alpha"));

        var e = Assert.Throws<ImcException>(() => context.AllocateRegion(1, (1 << 20) + 1))!;

        Assert.That(e.Status, Is.EqualTo(ImcStatus.McFull));
    }

    [Test]
    public void ShouldRefuseMaxallocBelowCurrentUse()
    {
        Assert.That(ImcInit("--host", "alpha", "-a", "20").ExitCode, Is.Zero);
        using var context = ImcContext.Open(_root.Options("alpha"));
        using var region = context.AllocateRegion(1, 12 << 20);

        AssertFailedWithOneLine(ImcInit("--host", "alpha", "-a", "10"), "maxalloc cannot go below current use");
        Assert.That(ImcInit("--host", "alpha", "-a", "12").ExitCode, Is.Zero);
    }

    [Test]
    public void ShouldRefuseMaxrecvBelowCurrentUse()
    {
        Assert.That(ImcInit("--host", "alpha", "-a", "40", "-r", "20").ExitCode, Is.Zero);
        using var context = ImcContext.Open(_root.Options("alpha"));
        using var region = context.AllocateRegion(1, 12 << 20);
        using var rx = region.AttachReceive();

        AssertFailedWithOneLine(ImcInit("--host", "alpha", "-r", "10"), "maxrecv cannot go below current use");
        Assert.That(ImcInit("--host", "alpha", "-r", "30").ExitCode, Is.Zero);
    }

    [Test]
    public void ShouldRefuseRailOptionsThatDisagreeWithTheCluster()
    {
        Assert.That(ImcInit("--host", "alpha", "--rails", "2", "--rail-style", "1").ExitCode, Is.Zero);

        AssertFailedWithOneLine(ImcInit("--host", "beta", "--rails", "1"), "fixed when the cluster is created");
        AssertFailedWithOneLine(ImcInit("--host", "beta", "--rail-style", "0"), "fixed when the cluster is created");
        Assert.That(ImcInit("--host", "beta", "--rails", "2", "--rail-style", "1").ExitCode, Is.Zero);
    }

    [TestCase("--rails", "0")]
    [TestCase("--rails", "9")]
    [TestCase("--rails", "-1")]
    [TestCase("--rail-style", "2")]
    [TestCase("-a", "0")]
    [TestCase("-r", "-5")]
    [TestCase("-a", "99999999999")]
    public void ShouldRefuseBadValuesWithoutMakingAnything(string option, string value)
    {
        var result = ImcInit("--host", "alpha", option, value);

        Assert.That(result.ExitCode, Is.EqualTo(1), result.Error);
        Assert.That(result.Error, Does.Contain(option).And.Contain(value), "the refusal names the option and the value");
        Assert.That(Directory.GetFileSystemEntries(_root.Root), Is.Empty);
    }

    [Test]
    public void ShouldFixTheErrorWindowWhenTheClusterIsCreated()
    {
        var created = ImcInit("--host", "alpha", "--error-window", "250");

        Assert.That(created.Output, Does.Contain("error window 250 ms"));
        Assert.That(ImcInit("--host", "beta").Output, Does.Contain("error window 250 ms"));
        AssertFailedWithOneLine(ImcInit("--host", "beta", "--error-window", "5"), "fixed when the cluster is created");
    }

    [Test]
    public void ShouldRefuseAnOddFailoverPair()
    {
        AssertFailedWithOneLine(ImcInit("--host", "alpha", "--rails", "3", "--rail-style", "1"), "even number");
    }

    [TestCase("../escape")]
    [TestCase("a/b")]
    [TestCase("-x")]
    public void ShouldRefuseHostNamesThatLeaveTheRoot(string name)
    {
        var result = ImcInit("--host=" + name);

        Assert.That(result.ExitCode, Is.EqualTo(1), result.Error);
        Assert.That(result.Error, Does.Contain($"invalid host name (IMC_HOST) '{name}'"));
        Assert.That(Directory.GetFileSystemEntries(_root.Root), Is.Empty);
    }

    [Test]
    public void ShouldTakeAHostDownAndLetItJoinAgain()
    {
        Assert.That(ImcInit("--host", "alpha").ExitCode, Is.Zero);
        Assert.That(ImcInit("--host", "beta").ExitCode, Is.Zero);

        Assert.That(ImcInit("--host", "beta", "--down").ExitCode, Is.Zero);

        var e = Assert.Throws<ImcException>(() => ImcContext.Open(_root.Options("beta")))!;
        Assert.That(e.Status, Is.EqualTo(ImcStatus.NotInitialized));
        AssertFailedWithOneLine(ImcInit("--host", "beta", "--down"), "not up");
        Assert.That(ImcInit("--host", "beta").Output, Does.Contain("host 'beta' joined"));
    }

    [Test]
    public void ShouldDropTheProcessesOfAHostThatGoesDown()
    {
        Assert.That(ImcInit("--host", "alpha").ExitCode, Is.Zero);
        using var context = ImcContext.Open(_root.Options("alpha"));
        using var region = context.AllocateRegion(1, 8192);

        Assert.That(ImcInit("--host", "alpha", "--down").ExitCode, Is.Zero);

        var e = Assert.Throws<ImcException>(() => context.AllocateRegion(2, 8192))!;
        Assert.That(e.Status, Is.EqualTo(ImcStatus.NotInitialized));
        Assert.That(_root.ReceiveFiles(), Is.Empty);
    }

    [Test]
    public void ShouldRefuseARootThatIsAFile()
    {
        var file = Path.Combine(_root.Root, "file");
        File.WriteAllText(file, "");

        var result = Command.Run("imc_init", file, null, "--host", "alpha");

        Assert.That(result.ExitCode, Is.EqualTo(1), result.Error);
        Assert.That(result.Error, Does.Contain("is a file"));
    }

    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldRefuseAnUnwritableRoot()
    {
        var root = Path.Combine(_root.Root, "locked");
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        var result = Command.RunAs("nobody", "imc_init", root, null, "--host", "alpha");

        Assert.That(result.ExitCode, Is.EqualTo(1), result.Error);
        Assert.That(result.Error, Does.Contain("permission denied").And.Contain("IMC_ROOT"));
        Assert.That(Directory.GetFileSystemEntries(root), Is.Empty);
    }

    [Test]
    public void ShouldPrintHelp()
    {
        var result = ImcInit("--help");

        Assert.That(result.ExitCode, Is.Zero);
        Assert.That(result.Output, Does.Contain("--maxalloc").And.Contain("--rail-style").And.Contain("--down"));
    }
}
