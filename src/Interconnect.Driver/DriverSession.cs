using Interconnect.Driver.Store;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver;

/// <summary>
/// One process registered in a cluster, on one host: what <c>imc_api_init</c> makes. Every directory operation of
/// the API goes through here. Safe to use from several threads.
/// </summary>
public sealed partial class DriverSession : IDisposable
{
    private readonly Cluster _cluster;
    private readonly int _slot;
    private readonly int _incarnation;
    private readonly Credentials _credentials = Credentials.Current;
    private readonly HashSet<IDisposable> _ports = [];
    private int _disposed;

    private DriverSession(Cluster cluster, string hostName, int host, int slot, int incarnation)
    {
        _cluster = cluster;
        HostName = hostName;
        Host = host;
        _slot = slot;
        _incarnation = incarnation;
    }

    public string HostName { get; }

    /// <summary>The host's slot in the cluster.</summary>
    public int Host { get; }

    public int ProcessId { get; } = Environment.ProcessId;

    /// <summary>Whether opening this session brought its host up (auto-initialisation).</summary>
    public bool JoinedHost { get; private init; }

    public ClusterPaths Paths => _cluster.Paths;

    public int LogicalRails => _cluster.Control.Header.LogicalRails;

    /// <summary>
    /// Turns a driver failure met on the data path (a window's refresh) into the caller's own exception type;
    /// the API sets it once, so its one conversion applies there too.
    /// </summary>
    public Func<DriverException, Exception>? ErrorTranslator { get; set; }

    /// <summary>
    /// Registers this process on <paramref name="hostName"/>. Without <paramref name="autoInitialize"/>, a cluster or
    /// host that <c>imc_init</c> has not set up is <see cref="DriverStatus.NotInitialized"/>; with it, they are set up
    /// with the defaults, as the boot-time <c>imc_init</c> would.
    /// </summary>
    public static DriverSession Open(ClusterPaths paths, string hostName, bool autoInitialize)
    {
        ClusterPaths.ValidateName(hostName, "host name (IMC_HOST)");
        var joined = autoInitialize && ClusterAdmin.InitializeHost(paths, hostName).JoinedHost;

        var identity = ProcessIdentity.Current;
        var credentials = Credentials.Current;
        var cluster = Cluster.Open(paths);
        try
        {
            using (cluster.EnterDirectory())
            {
                var host = cluster.FindHost(hostName);
                if (host < 0 || !cluster.IsHostUp(host))
                {
                    throw new DriverException(DriverStatus.NotInitialized,
                        $"host '{hostName}' is not initialised in cluster '{paths.Cluster}': run imc_init --host {hostName} " +
                        "(or set IMC_AUTO_INIT=1)");
                }

                for (var slot = 0; slot < ControlLayout.MaxProcesses; slot++)
                {
                    ref var process = ref cluster.Control.Process(slot);
                    if (process.State != ProcessEntry.StateFree)
                    {
                        continue;
                    }

                    process.Pid = identity.Pid;
                    process.StartTime = identity.StartTime;
                    process.Host = host;
                    process.Uid = credentials.Uid;
                    process.Gid = credentials.Gid;
                    process.Incarnation++;
                    process.RegisteredUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                    Volatile.Write(ref process.State, ProcessEntry.StateLive); // release: complete before it counts
                    var session = new DriverSession(cluster, hostName, host, slot, process.Incarnation) { JoinedHost = joined };
                    DriverMetrics.Register(session);
                    return session;
                }

                throw new DriverException(DriverStatus.NoResources,
                    $"all {ControlLayout.MaxProcesses} process entries of cluster '{paths.Cluster}' are in use");
            }
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>Unregisters: everything this process still holds is released, as if it had exited.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        IDisposable[] ports;
        lock (_ports)
        {
            ports = [.. _ports];
        }

        foreach (var port in ports)
        {
            port.Dispose(); // windows stop at once; their detach is part of the release below
        }

        try
        {
            using (_cluster.EnterDirectory())
            {
                if (IsRegistered())
                {
                    _cluster.ReleaseProcess(_slot);
                    _cluster.CollectGarbage(scanFiles: false);
                }
            }
        }
        catch (DriverException)
        {
            // The cluster was destroyed or damaged under us: nothing left to release.
        }

        DriverMetrics.Unregister(this);
        // The control file stays mapped: windows that outlive the session still read their words through it.
    }

    internal Cluster Cluster => _cluster;

    internal Exception Translate(DriverException e) => ErrorTranslator?.Invoke(e) ?? e;

    internal void Track(IDisposable port)
    {
        lock (_ports)
        {
            _ports.Add(port);
        }
    }

    internal IDisposable[] Ports()
    {
        lock (_ports)
        {
            return [.. _ports];
        }
    }

    internal void Untrack(IDisposable port)
    {
        lock (_ports)
        {
            _ports.Remove(port);
        }
    }

    internal Cluster.DirectoryScope EnterRegistered()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var scope = _cluster.EnterDirectory();
        if (!IsRegistered())
        {
            scope.Dispose();
            throw new DriverException(DriverStatus.NotInitialized,
                $"this process is no longer registered in cluster '{Paths.Cluster}' (host '{HostName}' was taken down): " +
                "open a new context after imc_init");
        }

        return scope;
    }

    private bool IsRegistered()
    {
        ref var process = ref _cluster.Control.Process(_slot);
        return process.State == ProcessEntry.StateLive && process.Incarnation == _incarnation &&
            process.Pid == Environment.ProcessId && _cluster.IsHostUp(Host);
    }
}
