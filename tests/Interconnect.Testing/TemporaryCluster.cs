using Interconnect.Driver;
using Interconnect.Imc;

namespace Interconnect.Testing;

/// <summary>
/// A cluster of its own for one test, in a fresh folder under /dev/shm that every user may enter (so a peer running
/// as another user can reach it). Disposing it kills its peers and removes the folder.
/// </summary>
public sealed class TemporaryCluster : IDisposable
{
    public const string ClusterName = "test";
    private readonly List<PeerProcess> _peers = [];
    private readonly List<IDisposable> _owned = [];

    private TemporaryCluster(string root)
    {
        Root = root;
        Paths = ClusterPaths.Resolve(root, ClusterName);
    }

    public string Root { get; }

    internal ClusterPaths Paths { get; }

    /// <summary>Creates an empty root; no cluster yet.</summary>
    public static TemporaryCluster CreateEmpty()
    {
        var root = Path.Combine(BaseDirectory, $"imc-test-{Environment.ProcessId}-{Guid.NewGuid():N}"[..32]);
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, (UnixFileMode)0b1_111_111_111);
        return new TemporaryCluster(root);
    }

    /// <summary>Creates a cluster with the given hosts up (imc_init --host for each).</summary>
    public static TemporaryCluster Create(params string[] hosts) => Create(null, hosts);

    internal static TemporaryCluster Create(ClusterConfiguration? configuration, params string[] hosts)
    {
        var cluster = CreateEmpty();
        foreach (var host in hosts)
        {
            cluster.InitHost(host, configuration);
        }

        return cluster;
    }

    internal HostInitResult InitHost(string host, ClusterConfiguration? configuration = null) =>
        ClusterAdmin.InitializeHost(Paths, host, configuration?.MaxAllocBytes, configuration?.MaxRecvBytes,
            configuration?.PhysicalRails, configuration?.RailStyle, configuration?.ErrorWindowMs);

    /// <summary>Options naming this cluster alone, for calls that need no host (<see cref="ImcControl"/>).</summary>
    public ImcOptions ControlOptions => new() { Root = Root, Cluster = ClusterName };

    public ImcOptions Options(string host, string? cluster = null, bool? autoInitialize = null) =>
        new() { Root = Root, Cluster = cluster ?? ClusterName, Host = host, AutoInitialize = autoInitialize };

    /// <summary>Opens a context in this test process, as a process of <paramref name="host"/>; closed with the cluster.</summary>
    public ImcContext Open(string host)
    {
        var context = ImcContext.Open(Options(host));
        _owned.Add(context);
        return context;
    }

    /// <summary>Starts a peer process on <paramref name="host"/>, optionally as another user (needs root).</summary>
    public PeerProcess StartPeer(string host, string? user = null, bool open = true)
    {
        var peer = PeerProcess.Start(Root, ClusterName, host, user);
        _peers.Add(peer);
        if (open)
        {
            peer.Send("open");
        }

        return peer;
    }

    /// <summary>The receive files present for the cluster.</summary>
    public string[] ReceiveFiles() =>
        Directory.Exists(Paths.RegionsDirectory) ? Directory.GetFiles(Paths.RegionsDirectory) : [];

    public void Dispose()
    {
        foreach (var peer in _peers)
        {
            peer.Dispose();
        }

        foreach (var owned in _owned)
        {
            owned.Dispose();
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Removed meanwhile (the check below tells), or not removable: that must not pass unseen.
        }

        if (Directory.Exists(Root))
        {
            throw new InvalidOperationException($"the test cluster's folder {Root} could not be removed: something holds it");
        }
    }

    private static string BaseDirectory => Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
}
