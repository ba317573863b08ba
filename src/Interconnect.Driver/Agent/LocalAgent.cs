using Interconnect.Driver.Directory;
using Interconnect.Driver.Store;
using Microsoft.Extensions.Logging;

namespace Interconnect.Driver.Agent;

/// <summary>
/// <c>imcd --local</c>: the mediated model on one machine, without etcd. imcd makes (or opens) the cluster's control
/// file and serves it on the cluster's socket with the same <see cref="AgentServer"/> as across machines: each
/// connected process is registered, and served, in the name and with the credentials the kernel gives for it
/// (<c>SO_PEERCRED</c>), <c>Kill</c> follows kill(2) and signals only processes registered through the socket, and
/// what a process held is released when its connection ends. Processes find the socket in the cluster's folder and ask
/// imcd (<see cref="Directories.Open"/>); while it runs, the embedded default (no imcd) is not used for that cluster.
/// </summary>
internal sealed class LocalAgent : IDisposable
{
    private readonly ControlFileDirectory _local;
    private readonly AgentServer _server;

    private LocalAgent(ClusterPaths paths, ControlFileDirectory local, AgentServer server)
    {
        Paths = paths;
        _local = local;
        _server = server;
    }

    /// <summary>The cluster imcd serves, with the owners imcd trusts (<see cref="ClusterPaths.ForAgent"/>).</summary>
    public ClusterPaths Paths { get; }

    /// <summary>Makes the cluster's control file if there is none, and listens on its socket (in place of a stale one).</summary>
    public static LocalAgent Start(ClusterPaths paths, ILogger logger)
    {
        paths = paths.ForAgent(); // imcd trusts no file of the cluster that another user owns, whatever its own uid
        var local = ControlFileDirectory.OpenOrCreate(paths);
        try
        {
            var server = AgentServer.Start(paths, Directories.MachineName, AgentMode.Local,
                registered => ControlFileDirectory.Serve(paths, registered), logger);
            local.RegisteredUid = server.RegisteredUid;
            return new LocalAgent(paths, local, server);
        }
        catch
        {
            local.Dispose();
            throw;
        }
    }

    /// <summary>Stops serving: the socket is removed, and every connection's registrations are released, as at those processes' exit.</summary>
    public void Dispose()
    {
        _server.Dispose();
        _local.Dispose();
    }
}
