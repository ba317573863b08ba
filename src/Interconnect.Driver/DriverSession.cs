using Interconnect.Driver.Directory;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Store;

namespace Interconnect.Driver;

/// <summary>
/// One process registered in a cluster, on one host: what <c>imc_api_init</c> makes. It makes directory operations
/// in its registration's name through the <see cref="IDirectory"/>, and opens the data-path ports (transmitters,
/// receive ports, lock ports) over the hot words and fabric the directory hands out. Safe to use from several threads.
/// </summary>
internal sealed class DriverSession : IDisposable
{
    private readonly IDirectory _directory;
    private readonly HashSet<IDisposable> _ports = [];
    private int _disposed;

    private DriverSession(IDirectory directory, ProcessRegistration registration, ClusterPaths paths, bool joinedHost)
    {
        _directory = directory;
        Targets = new DeliveryTargets(directory, Directories.ProcessFabric);
        Registration = registration;
        Paths = paths;
        JoinedHost = joinedHost;
    }

    public string HostName => Registration.HostName;

    public int ProcessId => Registration.ProcessId;

    /// <summary>Whether opening this session brought its host up (auto-initialisation).</summary>
    public bool JoinedHost { get; }

    public ClusterPaths Paths { get; }

    public int LogicalRails => _directory.LogicalRails;

    internal IDirectory Directory => _directory;

    /// <summary>How this session's writers reach receive memory (the directory says which).</summary>
    internal DeliveryTargets Targets { get; }

    internal ProcessRegistration Registration { get; }

    /// <summary>
    /// Registers this process on <paramref name="hostName"/>. Without <paramref name="autoInitialize"/>, a cluster or
    /// host that <c>imc_init</c> has not set up is <see cref="DriverStatus.NotInitialized"/>; with it, they are set up
    /// with the defaults, as the boot-time <c>imc_init</c> would.
    /// </summary>
    public static DriverSession Open(ClusterPaths paths, string hostName, bool autoInitialize)
    {
        ClusterPaths.ValidateName(hostName, "host name (IMC_HOST)");
        var directory = Directories.Open(paths, create: autoInitialize);
        try
        {
            var joined = autoInitialize && directory.InitializeHost(hostName, maxAllocBytes: null, maxRecvBytes: null).JoinedHost;
            var session = new DriverSession(directory, directory.Register(hostName), paths, joined);
            DriverMetrics.Register(session);
            return session;
        }
        catch
        {
            directory.Dispose();
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

        foreach (var port in Ports())
        {
            port.Dispose(); // windows stop at once; their detach is part of the release below
        }

        try
        {
            _directory.Unregister(Registration);
        }
        catch (DriverException)
        {
            // The cluster was destroyed or damaged under us: nothing left to release.
        }

        DriverMetrics.Unregister(this);
        // The directory stays open: windows that outlive the session still read their hot words through it.
    }

    public RegionHandle AllocateRegion(int key, long size, int permissions, bool coherent, int logicalRail, bool direct = false) =>
        Live().AllocateRegion(Registration, key, size, permissions, coherent, logicalRail, direct);

    public void DeallocateRegion(RegionHandle region) => Live().DeallocateRegion(Registration, region);

    public ReceivePort AttachReceive(RegionHandle region, bool nonShared)
    {
        var (memory, length) = Live().AttachReceive(Registration, region, nonShared);
        try
        {
            return new ReceivePort(this, region, _directory.Fabric.OpenForReceive(memory, length));
        }
        catch
        {
            DetachQuietly(region, receive: true, transmit: false);
            throw;
        }
    }

    public Transmitter AttachTransmit(RegionHandle region, bool nonShared, bool loopback) =>
        new(this, region, Live().AttachTransmit(Registration, region, nonShared, loopback, targetHost: null));

    public Transmitter AttachTransmitTo(RegionHandle region, string hostName, bool nonShared) =>
        new(this, region, Live().AttachTransmit(Registration, region, nonShared, loopback: false, hostName));

    /// <summary>Detaches this process from a region in the given directions; false when it was not attached so.</summary>
    public bool Detach(RegionHandle region, bool receive, bool transmit) => Live().Detach(Registration, region, receive, transmit);

    public LockSetPort? AllocateLockSet(int key, int count, int permissions, bool create) =>
        Live().AllocateLockSet(Registration, key, count, permissions, create) is { } handle ? new LockSetPort(this, handle) : null;

    public void DeallocateLockSet(LockSetHandle lockSet) => Live().DeallocateLockSet(Registration, lockSet);

    public void Kill(string hostName, int processId, int signal)
    {
        Live().Kill(Registration, hostName, processId, signal);
        DriverMetrics.SignalSent();
    }

    public ClusterInfoSnapshot GetClusterInfo() => Live().ReadInfo(Registration);

    public int ReadErrorCount(int logicalRail) => Live().ReadErrorCount(logicalRail);

    public DriverStatus CheckErrorCount(ref int errorCount, int logicalRail)
    {
        var status = Live().CheckErrorCount(ref errorCount, logicalRail);
        if (status != DriverStatus.Success)
        {
            DriverMetrics.ErrorDetected();
        }

        return status;
    }

    /// <summary>Completes with the cluster's information once <paramref name="done"/> holds for it.</summary>
    public Task<ClusterInfoSnapshot> WaitForClusterAsync(Func<ClusterInfoSnapshot, bool> done, CancellationToken cancellationToken) =>
        Live().WatchAsync(done, cancellationToken);

    internal RouteSet ReadRoutes(RegionHandle region, TransmitAttachment attachment) =>
        Live().ReadRoutes(Registration, region, attachment);

    /// <summary>Detaches on a window's dispose: a directory that is gone or a session that closed leaves nothing to do.</summary>
    internal void DetachQuietly(RegionHandle region, bool receive, bool transmit)
    {
        try
        {
            Detach(region, receive, transmit);
        }
        catch (DriverException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

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

    private IDirectory Live()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _directory;
    }
}
