using System.Diagnostics.CodeAnalysis;
using Interconnect.Driver;
using Interconnect.Imc.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Interconnect.Imc;

/// <summary>
/// This process's registration in a cluster, on one emulated host: what <c>imc_api_init</c> makes. Open one before
/// any other call; dispose it to release everything it still holds.
/// </summary>
public sealed class ImcContext : IDisposable
{
    private readonly DriverSession _session;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _closing = new();

    private ImcContext(DriverSession session, ILoggerFactory loggerFactory)
    {
        _session = session;
        _logger = loggerFactory.CreateLogger("Interconnect.Imc");
        ImcMetrics.EnsureCreated();
        Log.ContextOpened(_logger, session.ProcessId, session.HostName, session.Paths.Cluster);
        if (session.JoinedHost)
        {
            Log.HostJoined(_logger, session.HostName);
        }

        if (_logger.IsEnabled(LogLevel.Information))
        {
            _ = WatchClusterAsync(_closing.Token);
        }
    }

    /// <summary>The emulated host this process belongs to.</summary>
    public string HostName => _session.HostName;

    /// <summary>This process's id, as other processes name it in <c>Kill</c>.</summary>
    public int ProcessId => _session.ProcessId;

    /// <summary>The folder of the cluster this context is registered in.</summary>
    public string ClusterDirectory => _session.Paths.ClusterDirectory;

    /// <summary>
    /// Registers this process (<c>imc_api_init</c>). Throws <see cref="ImcStatus.NotInitialized"/> when <c>imc_init</c>
    /// has not run for the host, unless auto-initialisation is on (<see cref="ImcOptions.AutoInitialize"/> or
    /// <c>IMC_AUTO_INIT=1</c>).
    /// </summary>
    public static ImcContext Open(ImcOptions? options = null)
    {
        options ??= new ImcOptions();
        var session = Boundary.Run(() =>
        {
            var paths = ClusterPaths.Resolve(options.Root, options.Cluster);
            var host = ClusterPaths.ResolveHost(options.Host);
            var auto = options.AutoInitialize ?? Environment.GetEnvironmentVariable("IMC_AUTO_INIT") == "1";
            return DriverSession.Open(paths, host, auto);
        });
        return new ImcContext(session, options.LoggerFactory ?? NullLoggerFactory.Instance);
    }

    /// <summary>
    /// Allocates the region of <paramref name="key"/> (<c>imc_asalloc</c>), creating it with <paramref name="size"/>
    /// bytes if it does not exist. Every process that uses a region allocates it; its space is freed when the last
    /// one deallocates it or exits.
    /// </summary>
    /// <exception cref="ImcException">
    /// <see cref="ImcStatus.BadSize"/>, <see cref="ImcStatus.McFull"/>, <see cref="ImcStatus.RxFull"/> (coherent),
    /// <see cref="ImcStatus.BadRail"/>, <see cref="ImcStatus.WrongRail"/>, <see cref="ImcStatus.CoherencyError"/>,
    /// <see cref="ImcStatus.Permit"/>, <see cref="ImcStatus.Prior"/>.
    /// </exception>
    public ImcRegion AllocateRegion(int key, long size, ImcPermissions permissions = ImcPermissions.UserReadWrite,
        ImcRegionFlags flags = ImcRegionFlags.None, int logicalRail = 0) =>
        AllocateRegionCore(key, size, permissions, flags, logicalRail, direct: false);

    /// <summary>
    /// <see cref="AllocateRegion(int, long, ImcPermissions, ImcRegionFlags, int)"/>; with <paramref name="direct"/> a
    /// region this call creates is direct: every host's receive memory of it on this machine is one memory, so that
    /// C programs may store through their transmit pointer (<c>libimc.so</c>). An existing region stays as created.
    /// </summary>
    internal ImcRegion AllocateRegionCore(int key, long size, ImcPermissions permissions, ImcRegionFlags flags, int logicalRail,
        bool direct)
    {
        if ((flags & ~ImcRegionFlags.Coherent) != 0)
        {
            throw new ImcException(ImcStatus.BadParameter, $"unknown region flags {flags} for key {key}");
        }

        var handle = Boundary.Run(() => _session.AllocateRegion(key, size, (int)permissions,
            (flags & ImcRegionFlags.Coherent) != 0, logicalRail, direct));
        Log.RegionAllocated(_logger, key, size, logicalRail, handle.Coherent);
        return new ImcRegion(_session, handle, _logger);
    }

    /// <summary>
    /// Allocates the lock set of <paramref name="key"/> (<c>imc_lkalloc</c> without <c>IMC_CREATOR</c>), creating it
    /// with <paramref name="count"/> free locks if it does not exist. An existing set keeps its own count.
    /// </summary>
    /// <exception cref="ImcException">
    /// <see cref="ImcStatus.Permit"/>, <see cref="ImcStatus.Prior"/>, <see cref="ImcStatus.BadParameter"/>,
    /// <see cref="ImcStatus.NoResources"/>.
    /// </exception>
    public ImcLockSet AllocateLockSet(int key, int count, ImcLockPermissions permissions = ImcLockPermissions.User)
    {
        var port = Boundary.Run(() => _session.AllocateLockSet(key, count, (int)permissions, create: false)!);
        var lockSet = new ImcLockSet(_session, port, _logger);
        Log.LockSetAllocated(_logger, key, lockSet.Count, created: false);
        return lockSet;
    }

    /// <summary>
    /// Creates the lock set of <paramref name="key"/> and takes its lock 0 in one atomic step (<c>imc_lkalloc</c>
    /// with <c>IMC_CREATOR</c>): of any number of racing processes exactly one gets true, and may initialise what
    /// the lock guards. False (<c>IMC_EXISTS</c>) when the set exists: allocate it with <see cref="AllocateLockSet"/>.
    /// </summary>
    public bool TryCreateLockSet(int key, int count, ImcLockPermissions permissions, [NotNullWhen(true)] out ImcLockSet? lockSet)
    {
        var port = Boundary.Run(() => _session.AllocateLockSet(key, count, (int)permissions, create: true));
        lockSet = port is null ? null : new ImcLockSet(_session, port, _logger);
        if (lockSet is not null)
        {
            Log.LockSetAllocated(_logger, key, lockSet.Count, created: true);
        }

        return lockSet is not null;
    }

    /// <summary>Sends <paramref name="signal"/> (1 to 64) to a process that opened the API on <paramref name="hostName"/> (<c>imc_kill</c>).</summary>
    /// <exception cref="ImcException">
    /// <see cref="ImcStatus.BadHost"/>, <see cref="ImcStatus.NoSuchProcess"/>, <see cref="ImcStatus.InvalidSignal"/>,
    /// <see cref="ImcStatus.BadParameter"/>.
    /// </exception>
    public void Kill(string hostName, int processId, int signal)
    {
        ArgumentNullException.ThrowIfNull(hostName);
        Boundary.Run(() => _session.Kill(hostName, processId, signal));
        Log.SignalSent(_logger, signal, processId, hostName);
    }

    /// <summary>The hosts that initialised the API, the logical rail count and the active rail mask (<c>imc_getclusterinfo</c>).</summary>
    public ImcClusterInfo GetClusterInfo()
    {
        return ToInfo(Boundary.Run(_session.GetClusterInfo));
    }

    /// <summary>
    /// Completes as soon as the cluster differs from <paramref name="current"/> in what <paramref name="events"/>
    /// watches (<c>imc_wait_cluster_event</c>), with the kind of change and the new information. The wait sleeps;
    /// it costs no CPU however many wait.
    /// </summary>
    /// <exception cref="ImcException"><see cref="ImcStatus.BadParameter"/> for no or unknown events.</exception>
    public Task<ImcClusterEvent> WaitForClusterEventAsync(ImcClusterEvents events, ImcClusterInfo current,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(current);
        if (events == 0 || (events & ~(ImcClusterEvents.Host | ImcClusterEvents.Rail)) != 0)
        {
            throw new ImcException(ImcStatus.BadParameter, $"cluster events {(int)events}: wait for Host, Rail or both");
        }

        var watchHosts = (events & ImcClusterEvents.Host) != 0;
        var watchRails = (events & ImcClusterEvents.Rail) != 0;
        var hosts = current.Hosts.ToHashSet(StringComparer.Ordinal);
        // Information read from the cluster carries its change counts, so a change that was undone (a failover, a
        // host that left and joined again) is still seen; information made by hand is compared by content.
        bool HostsDiffer(ClusterInfoSnapshot s) => watchHosts &&
            (current.HostSequence >= 0 ? s.HostSequence != current.HostSequence : !hosts.SetEquals(s.Hosts));
        bool RailsDiffer(ClusterInfoSnapshot s) => watchRails &&
            (current.RailSequence >= 0
                ? s.RailSequence != current.RailSequence
                : s.LogicalRails != current.LogicalRailCount || s.ActiveRailMask != current.ActiveRailMask);

        return WaitCore();

        async Task<ImcClusterEvent> WaitCore()
        {
            var snapshot = await Boundary.RunAsync(() =>
                _session.WaitForClusterAsync(s => HostsDiffer(s) || RailsDiffer(s), cancellationToken)).ConfigureAwait(false);

            var kind = (HostsDiffer(snapshot), RailsDiffer(snapshot)) switch
            {
                (true, true) => ImcClusterEventKind.MultipleChange,
                (true, false) => ImcClusterEventKind.HostChange,
                _ => ImcClusterEventKind.RailChange,
            };
            return new ImcClusterEvent(kind, ToInfo(snapshot));
        }
    }

    /// <summary>
    /// The clusterwide error count of <paramref name="logicalRail"/> (<c>imc_rderrcnt_mr</c>): it rises on every lost
    /// transmission, host join and leave, and rail failure. Negative while the rail is processing an error: read
    /// again. Send it with a message and compare it on arrival to detect a loss (manual, Example 10-3). Reads of
    /// receive memory made before this call are complete before the count is read.
    /// </summary>
    /// <exception cref="ImcException"><see cref="ImcStatus.BadRail"/>.</exception>
    public int ReadErrorCount(int logicalRail)
    {
        CheckRail(logicalRail);
        return _session.ReadErrorCount(logicalRail);
    }

    /// <summary>
    /// <c>imc_ckerrcnt_mr</c>: <see cref="ImcStatus.Success"/> when no error happened on <paramref name="logicalRail"/>
    /// since <paramref name="errorCount"/> was read and none is outstanding or being processed; otherwise
    /// <see cref="ImcStatus.McError"/>, with <paramref name="errorCount"/> updated: retransmit and check again
    /// (manual, Example 10-4).
    /// </summary>
    /// <exception cref="ImcException"><see cref="ImcStatus.BadRail"/>.</exception>
    public ImcStatus CheckErrorCount(ref int errorCount, int logicalRail)
    {
        CheckRail(logicalRail);
        return (ImcStatus)(int)_session.CheckErrorCount(ref errorCount, logicalRail);
    }

    /// <summary>Validates a rail here, so that the error-count calls, made on every message, need no exception boundary.</summary>
    private void CheckRail(int logicalRail)
    {
        var rails = _session.LogicalRails;
        if ((uint)logicalRail >= (uint)rails)
        {
            ThrowHelper.BadRail(logicalRail, rails);
        }
    }

    /// <summary>Unregisters this process: every region and lock it still holds is released, as at exit.</summary>
    public void Dispose()
    {
        if (_closing.IsCancellationRequested)
        {
            return;
        }

        _closing.Cancel();
        _session.Dispose();
        Log.ContextClosed(_logger, _session.ProcessId, _session.HostName);
    }

    /// <summary>With a logger, host joins and leaves and rail changes are logged as this process sees them.</summary>
    private async Task WatchClusterAsync(CancellationToken cancellationToken)
    {
        try
        {
            var current = GetClusterInfo();
            while (true)
            {
                var change = await WaitForClusterEventAsync(ImcClusterEvents.Host | ImcClusterEvents.Rail, current, cancellationToken)
                    .ConfigureAwait(false);
                foreach (var host in change.Info.Hosts.Except(current.Hosts, StringComparer.Ordinal))
                {
                    Log.HostJoined(_logger, host);
                }

                foreach (var host in current.Hosts.Except(change.Info.Hosts, StringComparer.Ordinal))
                {
                    Log.HostLeft(_logger, host);
                }

                if (change.Kind != ImcClusterEventKind.HostChange)
                {
                    var failed = current.ActiveRailMask & ~change.Info.ActiveRailMask;
                    var repaired = change.Info.ActiveRailMask & ~current.ActiveRailMask;
                    for (var rail = 0; rail < change.Info.LogicalRailCount; rail++)
                    {
                        if ((failed & (1u << rail)) != 0)
                        {
                            Log.RailFailed(_logger, rail);
                        }

                        if ((repaired & (1u << rail)) != 0)
                        {
                            Log.RailRepaired(_logger, rail);
                        }
                    }

                    if (failed == 0 && repaired == 0)
                    {
                        Log.RailChanged(_logger, change.Info.ActiveRailMask);
                    }
                }

                current = change.Info;
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ImcException e)
        {
            // The host went down or the cluster went away: nothing more to watch.
            Log.ClusterWatchStopped(_logger, e.Status, e.Message);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static ImcClusterInfo ToInfo(ClusterInfoSnapshot snapshot) =>
        new(snapshot.Hosts, snapshot.LogicalRails, snapshot.ActiveRailMask)
        {
            HostSequence = snapshot.HostSequence,
            RailSequence = snapshot.RailSequence,
        };
}
