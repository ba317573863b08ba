using Interconnect.Driver.Directory;
using Interconnect.Driver.Directory.Etcd;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Driver.Status;
using Interconnect.Driver.Store;

namespace Interconnect.Driver.Agent;

/// <summary>
/// The directory of a cluster served by imcd, as a process sees it: across machines (<c>IMC_DIRECTORY</c> set), or on
/// one machine whose cluster folder holds imcd's socket (<c>imcd --local</c>). Every change is a request to this
/// machine's imcd (<see cref="AgentClient"/>), which makes it (in etcd and the control file, or in the control file) in
/// the name of the process the socket says is asking, with that process's credentials; the process holds no etcd
/// client and no credentials. What it reads on its data path it reads itself, as on one machine: hot words, error
/// counts and lock words of its own machine in the control file (mapped here), its writes to other machines through its
/// own UCX (<see cref="Directories.ProcessFabric"/>).
/// </summary>
internal sealed class AgentDirectory : IDirectory
{
    private readonly ControlFileDirectory _local;
    private readonly AgentClient _agent;
    private readonly MachineStanding? _standing; // null on one machine (imcd --local): no other machine to stand with
    private readonly Lazy<UcxFabric> _fabric;
    private readonly Lock _keyLock = new();
    private byte[]? _clusterKey;
    private readonly LossNotice _lossNotice;
    private readonly Lock _tallyLock = new();
    private Interop.MappedFile? _tally; // this user's loss tally, mapped once the process registered

    // machine: this machine's name; null on one machine (imcd --local), where there is no standing.
    private AgentDirectory(ControlFileDirectory local, AgentClient agent, string? machine, Lazy<UcxFabric> fabric)
    {
        _local = local;
        _agent = agent;
        _standing = machine is null ? null : local.Standing(machine, ClusterKey);
        _fabric = fabric;
        _lossNotice = new LossNotice(agent);
    }

    /// <summary>
    /// The cluster key, asked of imcd when the process's fabric first needs it (a link to another machine's NIC), and
    /// kept; a failure is not kept, so a later need asks again. imcd serves it only once this connection registered.
    /// </summary>
    private byte[] ClusterKey()
    {
        lock (_keyLock)
        {
            return _clusterKey ??= _agent.Call<ClusterKeyReply>(new ClusterKeyRequest()).Key;
        }
    }

    /// <summary>Whether imcd serves the cluster at <paramref name="paths"/>: its socket is in the cluster's folder.</summary>
    public static bool IsServed(ClusterPaths paths) => File.Exists(AgentProtocol.SocketPath(paths));

    /// <summary>
    /// Opens the cluster through this machine's imcd, which must serve it (its socket in the cluster's folder).
    /// <paramref name="acrossMachines"/>: the process was told of a cluster across machines (<c>IMC_DIRECTORY</c>), so
    /// an <c>imcd --local</c> is refused; without it, either kind of imcd serves it, as its welcome says.
    /// </summary>
    public static AgentDirectory Open(ClusterPaths paths, string machine, Lazy<UcxFabric> fabric, bool acrossMachines = true)
    {
        if (acrossMachines)
        {
            ClusterPaths.ValidateName(machine, "machine name (IMC_MACHINE)");
        }

        var agent = AgentClient.Connect(AgentProtocol.SocketPath(paths), machine, paths.Cluster, acrossMachines);
        try
        {
            if (agent.Mode == AgentMode.Local && acrossMachines)
            {
                throw new DriverException(DriverStatus.NotInitialized,
                    $"IMC_DIRECTORY is set, but the imcd at {AgentProtocol.SocketPath(paths)} serves cluster '{paths.Cluster}' " +
                    "on this machine only (imcd --local): unset IMC_DIRECTORY, or run imcd with --directory");
            }

            // Read-only: imcd alone changes the directory and the rails (and keeps their files to itself); what this
            // process writes on its own (its lock sets', its windows' words, its user's losses) is in files of their own.
            var local = ControlFileDirectory.Open(paths, ControlAccess.Read);
            if (agent.Mode == AgentMode.Local)
            {
                return new AgentDirectory(local, agent, machine: null, fabric);
            }

            if (local.MachineEpoch == 0)
            {
                local.Dispose();
                throw new DriverException(DriverStatus.NotInitialized,
                    $"machine '{machine}''s imcd has not joined cluster '{paths.Cluster}' from this machine's cluster folder " +
                    $"({paths.ClusterDirectory}): restart imcd");
            }

            return new AgentDirectory(local, agent, machine, fabric);
        }
        catch
        {
            agent.Dispose();
            throw;
        }
    }

    public string ClusterName => _local.ClusterName;

    public IFabric Fabric => _local.Fabric;

    public int LogicalRails => _local.LogicalRails;

    public IFabric MemoryFabric => _local.MemoryFabric;

    public MachineStanding? ProcessStanding => _standing;

    public void Dispose()
    {
        if (_fabric.IsValueCreated)
        {
            var fabric = _fabric.Value;
            if (fabric.RefusedOnRail is { } counting && counting.Target == this)
            {
                fabric.RefusedOnRail = null; // nothing counts through a directory that is gone (DeliveryTargets set it)
            }
        }

        _agent.Dispose();
        _local.Dispose();
        _tally?.Dispose();
    }

    // Membership.

    public HostInitResult InitializeHost(string host, long? maxAllocBytes, long? maxRecvBytes) =>
        _agent.Call<HostInitReply>(new InitializeHostRequest(host, maxAllocBytes, maxRecvBytes)).Result;

    public void TakeHostDown(string host) => _agent.Call(new TakeHostDownRequest(host));

    public ProcessRegistration Register(string hostName)
    {
        var made = _agent.Call<RegisteredReply>(new RegisterRequest(hostName));
        lock (_tallyLock)
        {
            _tally ??= _local.OpenOwnTally(); // imcd made it before it registered the process
        }

        return new ProcessRegistration(made.HostName, made.Host, made.Slot, made.Incarnation, Environment.ProcessId,
            Credentials.Current, made.LockOwner);
    }

    public void Unregister(ProcessRegistration process) => _agent.Call(new UnregisterRequest(Caller.Of(process)));

    // Regions.

    public RegionHandle AllocateRegion(ProcessRegistration process, int key, long size, int permissions, bool coherent,
        int logicalRail, bool direct = false) =>
        _agent.Call<RegionReply>(new AllocateRegionRequest(Caller.Of(process), key, size, permissions, coherent, logicalRail, direct)).Region;

    public void DeallocateRegion(ProcessRegistration process, RegionHandle region) =>
        _agent.Call(new DeallocateRegionRequest(Caller.Of(process), region));

    public (ReceiveFileName Memory, long MappedLength) AttachReceive(ProcessRegistration process, RegionHandle region, bool nonShared)
    {
        var attached = _agent.Call<ReceiveMemoryReply>(new AttachReceiveRequest(Caller.Of(process), region, nonShared));
        return (attached.Memory, attached.MappedLength);
    }

    public TransmitAttachment AttachTransmit(ProcessRegistration process, RegionHandle region, bool nonShared, bool loopback,
        string? targetHost)
    {
        var attached = _agent.Call<TransmitReply>(
            new AttachTransmitRequest(Caller.Of(process), region, nonShared, loopback, targetHost));
        return new TransmitAttachment(attached.Entry, attached.TargetHost, attached.Loopback, _local.WordsOf(region, attached.Entry));
    }

    public bool Detach(ProcessRegistration process, RegionHandle region, bool receive, bool transmit) =>
        _agent.Call<FlagReply>(new DetachRequest(Caller.Of(process), region, receive, transmit)).Value;

    public RouteSet ReadRoutes(ProcessRegistration process, RegionHandle region, TransmitAttachment attachment) =>
        _agent.Call<RoutesReply>(new ReadRoutesRequest(Caller.Of(process), region, attachment.Entry, attachment.TargetHost,
            attachment.Loopback)).Routes;

    /// <summary>
    /// A lost delivery: counted at once in this user's tally (the rails' words are imcd's, and the data path never waits
    /// for imcd, which may be stopped), then imcd is told, without waiting, so that it counts the physical rail's error.
    /// </summary>
    public void RecordDeliveryError(int logicalRail)
    {
        var tally = Volatile.Read(ref _tally) ?? throw new DriverException(DriverStatus.NotInitialized,
            $"this process lost a delivery in cluster '{ClusterName}' before it registered: register it first");
        _local.RecordTalliedError(tally, logicalRail);
        _lossNotice.Send();
    }

    // Lock sets.

    public LockSetHandle? AllocateLockSet(ProcessRegistration process, int key, int count, int permissions, bool create) =>
        _agent.Call<LockSetReply>(new AllocateLockSetRequest(Caller.Of(process), key, count, permissions, create)).LockSet;

    public void DeallocateLockSet(ProcessRegistration process, LockSetHandle lockSet) =>
        _agent.Call(new DeallocateLockSetRequest(Caller.Of(process), lockSet));

    /// <summary>The words of a set on one machine (imcd --local), mapped with this process's own rights, as imcd made them.</summary>
    public Interop.MappedFile? MapLockWords(LockSetHandle lockSet) =>
        lockSet.Home is null ? _local.MapLockWords(lockSet) : null;

    /// <summary>Whether <paramref name="owner"/> is still published: while imcd or etcd does not answer, it counts as alive.</summary>
    public bool IsLockOwnerAlive(long owner)
    {
        try
        {
            return _agent.Call<FlagReply>(new LockOwnerAliveRequest(owner)).Value;
        }
        catch (DriverException)
        {
            return true; // never take a lock over on a guess
        }
    }

    public RemoteLockWords? OpenRemoteLocks(ProcessRegistration process, LockSetHandle lockSet) =>
        lockSet.Home is { } home
            ? new RemoteLockWords(() => OpenWords(home.Machine), IsLockOwnerAlive, home.First, EtcdDirectory.ClusterOwner(process),
                AcrossMachines, _fabric)
            : null;

    public ClusterWriteLock? OpenWriteLock(ProcessRegistration process, RegionHandle region)
    {
        if (region.WriteLock is not { } home)
        {
            return null;
        }

        var owner = EtcdDirectory.ClusterOwner(process);
        _agent.Call(new PublishOwnerRequest(Caller.Of(process))); // waiters must see a holder alive as long as it is
        return new ClusterWriteLock(home, owner, region.Key,
            at => new RemoteLockWords(() => OpenWords(at.Machine), IsLockOwnerAlive, at.First, owner, AcrossMachines, _fabric),
            failed => _agent.Call<HomeReply>(new RehomeWriteLockRequest(region.Key, failed)).Home);
    }

    /// <summary>Opens the words of <paramref name="machine"/>'s lock arena, where imcd says its imcd published them.</summary>
    private ILockWords OpenWords(string machine)
    {
        var arena = _agent.Call<ArenaReply>(new LockArenaRequest(machine));
        return _fabric.Value.OpenWords(machine, arena.Worker, arena.Words, AcrossMachines);
    }

    /// <summary>This process's standing across machines; only a lock set or write lock of another machine needs it.</summary>
    private MachineStanding AcrossMachines => _standing ?? throw new DriverException(DriverStatus.NotSupported,
        $"cluster '{ClusterName}' runs on one machine (imcd --local): it has no lock words on other machines");

    // Signals, information and events.

    public void Kill(ProcessRegistration process, string hostName, int processId, int signal) =>
        _agent.Call(new KillRequest(Caller.Of(process), hostName, processId, signal));

    public ClusterInfoSnapshot ReadInfo(ProcessRegistration process) => WithClusterHosts(_local.ReadInfo(process));

    /// <summary>Waits on this machine's events, which imcd raises for hosts on other machines too, and answers with every machine's hosts.</summary>
    public async Task<ClusterInfoSnapshot> WatchAsync(Func<ClusterInfoSnapshot, bool> done, CancellationToken cancellationToken) =>
        WithClusterHosts(await _local.WatchAsync(done, cancellationToken).ConfigureAwait(false));

    /// <summary>Every machine's hosts, from imcd; on one machine (imcd --local) the control file names them all already.</summary>
    private ClusterInfoSnapshot WithClusterHosts(ClusterInfoSnapshot local) =>
        _standing is null ? local : local with { Hosts = _agent.Call<NamesReply>(new ClusterHostsRequest()).Names };

    // Rails and faults.

    public int ReadErrorCount(int logicalRail) => _local.ReadErrorCount(logicalRail);

    public DriverStatus CheckErrorCount(ref int errorCount, int logicalRail) => _local.CheckErrorCount(ref errorCount, logicalRail);

    /// <summary>
    /// Asked only while drops are armed on the rail (its fault word, read by the writer, says so): imcd claims one of
    /// this machine's armed drops, then, across machines, one of the cluster's budget, and raises the rail's count.
    /// </summary>
    public bool TryClaimDrop(int logicalRail, int host) =>
        _agent.Call<FlagReply>(new ClaimDropRequest(logicalRail, host)).Value;

    public void InjectDrops(int logicalRail, int count, string? host) =>
        _agent.Call(new InjectDropsRequest(logicalRail, count, host));

    public bool FailRail(int physicalRail) => _agent.Call<FlagReply>(new FailRailRequest(physicalRail)).Value;

    public bool RepairRail(int physicalRail) => _agent.Call<FlagReply>(new RepairRailRequest(physicalRail)).Value;

    // Looking at the whole.

    public ClusterStatus ReadStatus() => _agent.Call<StatusReply>(new ReadStatusRequest()).Status;

    public CheckReport Check(TimeSpan patience) => _agent.Call<CheckReply>(new CheckRequest((long)patience.TotalMilliseconds)).Report;

    public RailStatus ReadRails() => _local.ReadRails();

    /// <summary>
    /// Tells imcd that losses were tallied, off the caller's thread and at most once at a time: a storm of losses (a
    /// receiver's memory withdrawn) sends a few notices, not one each, and a stopped imcd holds up one pool thread at
    /// most. Queuing it allocates nothing (this is the work item).
    /// </summary>
    private sealed class LossNotice(AgentClient agent) : IThreadPoolWorkItem
    {
        private int _unsent; // 1: losses were tallied since the last notice began
        private int _sending; // 1: a notice is queued or under way

        public void Send()
        {
            Volatile.Write(ref _unsent, 1);
            if (Interlocked.Exchange(ref _sending, 1) == 0)
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
        }

        public void Execute()
        {
            do
            {
                while (Interlocked.Exchange(ref _unsent, 0) == 1)
                {
                    try
                    {
                        agent.Call(new LossesTalliedRequest());
                    }
                    catch (Exception e) when (e is DriverException or IOException or ObjectDisposedException)
                    {
                        // imcd gone, or the process closing: the counts rose already; only the physical rail's lags.
                    }
                }

                Volatile.Write(ref _sending, 0);
            }
            while (Volatile.Read(ref _unsent) == 1 && Interlocked.Exchange(ref _sending, 1) == 0);
        }
    }
}
