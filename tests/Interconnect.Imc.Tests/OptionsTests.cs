using Interconnect.Driver;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>
/// ImcOptions against the environment (IMC_ROOT, IMC_CLUSTER, IMC_HOST, IMC_AUTO_INIT) and the defaults. Each case runs
/// in a peer process started with exactly the variables it needs, so the test process's environment is never touched.
/// </summary>
public sealed class OptionsTests
{
    private TemporaryCluster _cluster = null!;
    private TemporaryCluster _elsewhere = null!;

    [SetUp]
    public void SetUp()
    {
        _cluster = TemporaryCluster.Create("alpha");
        _elsewhere = TemporaryCluster.CreateEmpty();
    }

    [TearDown]
    public void TearDown()
    {
        _elsewhere.Dispose();
        _cluster.Dispose();
    }

    private static PeerProcess StartWith(string? root, string? cluster, string? host, string? autoInit) =>
        PeerProcess.Start(new Dictionary<string, string?>
        {
            ["IMC_ROOT"] = root, ["IMC_CLUSTER"] = cluster, ["IMC_HOST"] = host, ["IMC_AUTO_INIT"] = autoInit,
        });

    [Test]
    public void ShouldOpenWhereTheOptionsSayWhateverTheEnvironmentSays()
    {
        // The environment points at another root, another cluster and another host, and asks for auto-init.
        using var peer = StartWith(_elsewhere.Root, "other", "envhost", "1");

        var opened = peer.Send($"open-with {_cluster.Root} {TemporaryCluster.ClusterName} alpha 0").Split(' ');

        Assert.That(opened[1], Is.EqualTo("alpha"));
        Assert.That(opened[2], Is.EqualTo(_cluster.Paths.ClusterDirectory));
        Assert.That(Directory.GetFileSystemEntries(_elsewhere.Root), Is.Empty, "nothing was made where the environment points");
        Assert.That(ClusterAdmin.ReadStatus(_cluster.Paths).Hosts.Single().ProcessIds, Does.Contain(int.Parse(opened[0],
            System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public void ShouldNotAutoInitializeWhenTheOptionSaysNoAndTheEnvironmentSaysYes()
    {
        using var peer = StartWith(_cluster.Root, TemporaryCluster.ClusterName, "beta", "1");

        var reply = peer.Ask($"open-with - - - 0");

        Assert.That(reply.Status, Is.EqualTo(nameof(ImcStatus.NotInitialized)), reply.Text);
        Assert.That(ClusterAdmin.ReadStatus(_cluster.Paths).Hosts.Select(h => h.Name), Is.EqualTo(new[] { "alpha" }));
    }

    [Test]
    public void ShouldAutoInitializeWhenTheOptionSaysYesAndTheEnvironmentSaysNothing()
    {
        using var peer = StartWith(_cluster.Root, TemporaryCluster.ClusterName, "beta", null);

        var opened = peer.Send($"open-with - - - 1").Split(' ');

        Assert.That(opened[1], Is.EqualTo("beta"));
        Assert.That(ClusterAdmin.ReadStatus(_cluster.Paths).Hosts.Select(h => h.Name), Is.EquivalentTo(new[] { "alpha", "beta" }));
    }

    [Test]
    public void ShouldTakeWhatTheOptionsLeaveOpenFromTheEnvironment()
    {
        using var autoInit = StartWith(_cluster.Root, TemporaryCluster.ClusterName, "gamma", "1");
        using var notInit = StartWith(_cluster.Root, TemporaryCluster.ClusterName, "delta", "0");

        var opened = autoInit.Send($"open-with - - - -").Split(' ');
        var refused = notInit.Ask($"open-with - - - -");

        Assert.That(opened[1], Is.EqualTo("gamma"));
        Assert.That(opened[2], Is.EqualTo(_cluster.Paths.ClusterDirectory));
        Assert.That(refused.Status, Is.EqualTo(nameof(ImcStatus.NotInitialized)), refused.Text);
    }

    [Test]
    public void ShouldUseClusterDefaultTheMachinesHostNameAndNoAutoInitWhenNothingIsSet()
    {
        using var peer = StartWith(_elsewhere.Root, null, null, null);

        var refused = peer.Ask("open-with - - - -");
        ClusterAdmin.InitializeHost(ClusterPaths.Resolve(_elsewhere.Root, "default"), Environment.MachineName);
        var opened = peer.Send("open-with - - - -").Split(' ');

        Assert.That(refused.Status, Is.EqualTo(nameof(ImcStatus.NotInitialized)), "auto-init is off by default: " + refused.Text);
        Assert.That(opened[1], Is.EqualTo(Environment.MachineName));
        Assert.That(opened[2], Is.EqualTo(Path.Combine(_elsewhere.Root, "default")));
    }

    [Test]
    public void ShouldLookUnderDevShmImcWhenNoRootIsGiven()
    {
        // A cluster name no one uses, and no auto-init: the library only looks, and says where it looked.
        var unused = $"t{Guid.NewGuid():N}"[..20];
        using var peer = StartWith(null, null, "alpha", null);

        var refused = peer.Ask($"open-with - {unused} - 0");

        Assert.That(refused.Status, Is.EqualTo(nameof(ImcStatus.NotInitialized)), refused.Text);
        Assert.That(refused.Text, Does.Contain("/dev/shm/imc"));
        Assert.That(Directory.Exists(Path.Combine("/dev/shm/imc", unused)), Is.False);
    }
}
