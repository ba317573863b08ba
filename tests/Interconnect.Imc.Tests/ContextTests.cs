using Interconnect.Driver;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>imc_api_init: NotInitialized, IMC_AUTO_INIT, and bad locations.</summary>
public sealed class ContextTests
{
    [Test]
    public void ShouldRefuseToOpenWithoutACluster()
    {
        using var empty = TemporaryCluster.CreateEmpty();

        var e = Assert.Throws<ImcException>(() => ImcContext.Open(empty.Options("alpha")));

        Assert.That(e!.Status, Is.EqualTo(ImcStatus.NotInitialized));
        Assert.That(e.Message, Does.Contain("imc_init"));
    }

    [Test]
    public void ShouldRefuseToOpenOnAHostThatImcInitHasNotSetUp()
    {
        using var cluster = TemporaryCluster.Create("alpha");

        var e = Assert.Throws<ImcException>(() => ImcContext.Open(cluster.Options("beta")));

        Assert.That(e!.Status, Is.EqualTo(ImcStatus.NotInitialized));
    }

    [Test]
    public void ShouldInitialiseClusterAndHostOnFirstOpenWithAutoInit()
    {
        using var empty = TemporaryCluster.CreateEmpty();
        var options = new ImcOptions { Root = empty.Root, Cluster = "auto", Host = "alpha", AutoInitialize = true };

        using var context = ImcContext.Open(options);
        using var region = context.AllocateRegion(1, 8192);

        Assert.That(context.HostName, Is.EqualTo("alpha"));
        Assert.That(File.Exists(Path.Combine(empty.Root, "auto", "control")), Is.True);
    }

    [Test]
    public void ShouldHonourTheImcAutoInitVariable()
    {
        using var empty = TemporaryCluster.CreateEmpty();
        var options = new ImcOptions { Root = empty.Root, Cluster = "auto", Host = "alpha" };
        Environment.SetEnvironmentVariable("IMC_AUTO_INIT", "1");
        try
        {
            using var context = ImcContext.Open(options);
            Assert.That(context.ProcessId, Is.EqualTo(Environment.ProcessId));
        }
        finally
        {
            Environment.SetEnvironmentVariable("IMC_AUTO_INIT", null);
        }

        Assert.That(Assert.Throws<ImcException>(() => ImcContext.Open(new ImcOptions { Root = empty.Root, Cluster = "auto", Host = "beta" }))!.Status,
            Is.EqualTo(ImcStatus.NotInitialized));
    }

    [TestCase("../escape")]
    [TestCase("a/b")]
    [TestCase("")]
    [TestCase(".")]
    [TestCase("..")]
    [TestCase("host\nname")]
    [TestCase("-flag")]
    public void ShouldRefuseHostAndClusterNamesThatLeaveTheRoot(string name)
    {
        using var cluster = TemporaryCluster.Create("alpha");

        var host = Assert.Throws<ImcException>(() => ImcContext.Open(cluster.Options(name, autoInitialize: true)))!;
        var clusterName = Assert.Throws<ImcException>(() =>
            ImcContext.Open(cluster.Options("alpha", cluster: name, autoInitialize: true)))!;

        Assert.That(host.Status, Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(clusterName.Status, Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(Directory.GetFileSystemEntries(cluster.Root), Has.Length.EqualTo(1));
    }

    [Test]
    public void ShouldRefuseARootThatIsAFile()
    {
        using var empty = TemporaryCluster.CreateEmpty();
        var file = Path.Combine(empty.Root, "not-a-folder");
        File.WriteAllText(file, "x");

        var e = Assert.Throws<ImcException>(() =>
            ImcContext.Open(new ImcOptions { Root = file, Host = "alpha", AutoInitialize = true }))!;

        Assert.That(e.Status, Is.EqualTo(ImcStatus.OpenError));
        Assert.That(e.Message, Does.Contain(file));
    }

    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldRefuseAnUnwritableRootWithInitError()
    {
        using var empty = TemporaryCluster.CreateEmpty();
        var root = Path.Combine(empty.Root, "locked");
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        using var peer = PeerProcess.Start(root, "c", "alpha", user: "nobody");

        var reply = peer.Ask("open");

        // As root the folder's mode does not stop us, so the refusal is checked from a process running as nobody.
        Assert.That(reply.Ok, Is.False);
        Assert.That(reply.Status, Is.EqualTo("NotInitialized"));
        var auto = PeerProcess.Start(root, "c", "alpha", user: "nobody");
        try
        {
            auto.Post("open");
            Assert.That(auto.Receive("open").Status, Is.EqualTo("NotInitialized"));
        }
        finally
        {
            auto.Dispose();
        }

        Assert.That(Directory.GetFileSystemEntries(root), Is.Empty);
    }

    [Test]
    public void ShouldThrowObjectDisposedAfterDispose()
    {
        using var cluster = TemporaryCluster.Create("alpha");
        var context = ImcContext.Open(cluster.Options("alpha"));
        context.Dispose();

        Assert.Throws<ObjectDisposedException>(() => context.AllocateRegion(1, 8192));
    }

    [Test]
    public void ShouldMatchEveryDriverStatusToTheImcStatusOfTheSameNameAndValue()
    {
        foreach (var status in Enum.GetValues<DriverStatus>())
        {
            Assert.That(Enum.GetName((ImcStatus)(int)status), Is.EqualTo(status.ToString()));
        }
    }

    [Test]
    public void ShouldGiveEveryStatusAPerrorText()
    {
        foreach (var status in Enum.GetValues<ImcStatus>())
        {
            Assert.That(ImcException.PerrorText(status), Does.StartWith("IMC_"));
        }
    }
}
