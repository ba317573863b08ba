using System.Collections.Concurrent;
using System.Diagnostics;
using Interconnect.Driver.Directory;
using Interconnect.Driver.Directory.Etcd;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store;
using Microsoft.Extensions.Logging;

namespace Interconnect.Driver.Agent.Machine;

/// <summary>
/// One machine's agent (<c>imcd</c>): it owns the machine's receive memory as the network sees it (maps each receive
/// file that a local host attached, registers it with UCX, publishes where it is and its remote key), runs UCX's
/// progress, keeps the machine's lease in etcd (its hosts leave when the lease expires), and applies the cluster's
/// changes to this machine's control file: when a receive memory appears or goes anywhere, it moves the generation of
/// the local region of that key, so local writers re-read their routes, and then acknowledges in etcd. An attach for
/// receive waits for every machine's acknowledgement. The agent is not on the data path: writes already routed keep
/// landing without it (over RDMA; over tcp, puts need its progress).
/// <para>
/// It works on changes, and level-triggered underneath: a watch on the cluster's prefix hands it each change, which it
/// applies alone (a receiver of this machine: register that memory; a memory anywhere: apply it and acknowledge) or
/// by re-reading only the part it touches (hosts, rails, ...; MachineAgent.Changes.cs). The watch resumes where it broke
/// (EtcdStreams), so a whole pass, which re-reads everything and converges, runs only at the start, after etcd was out
/// of reach or compacted past the watch, after a failure, and when this machine alone changed in a way no watch
/// reports (a process died: <see cref="LocalWork"/>, a look at the control file four times a second). An idle machine
/// makes no request of etcd but its lease's keep-alives.
/// </para>
/// </summary>
internal sealed partial class MachineAgent : IDisposable
{
    private static readonly TimeSpan s_look = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan s_fenceCheck = TimeSpan.FromMilliseconds(100);

    private readonly ClusterPaths _paths;
    private readonly string _machine;
    private readonly string _address;
    private readonly int _leaseSeconds;
    private readonly ProgressMode _progress;
    private readonly ILogger _logger;
    private readonly ControlFileDirectory _local;
    private readonly EtcdStore _store;
    private readonly EtcdStreams _streams;
    private readonly IMachineNic _nic;
    private readonly string _instance;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _changed = new(0);

    // Registered receive memory by name, and what this machine has applied of every machine's memory (the revision of
    // memory/{key}/{host}).
    private readonly Dictionary<string, Registered> _registered = [];
    private readonly Dictionary<(int Key, string Host), long> _applied = [];
    private Task? _keepAlive;
    private CancellationTokenSource? _keepingAlive; // stops the keep-alive of the current lease
    private Task? _watching;
    private long _lease;
    private int _leaving; // 1 once Dispose began: no pass starts after that (the lease is about to go)
    private int _fenced; // 1 while this machine is fenced: it has not reached etcd for its lease less a margin
    private long _epoch; // the epoch this machine is in: the lease it joined under (MachineRecord.Epoch)
    private HashSet<long> _liveEpochs = []; // every machine's epoch as the last pass read them
    private readonly HashSet<long> _endedEpochs = [];
    private List<string>? _rejoinHosts; // the hosts a rejoin under way brings up again
    private Timer? _fenceWatch;
    private AgentServer? _server; // the socket this machine's processes ask

    private MachineAgent(ClusterPaths paths, string machine, string address, int leaseSeconds, ProgressMode progress,
        ILogger logger, ControlFileDirectory local, EtcdStore store, IMachineNic nic)
    {
        _paths = paths;
        _machine = machine;
        _address = address;
        _leaseSeconds = leaseSeconds;
        _progress = progress;
        _logger = logger;
        _local = local;
        _store = store;
        _streams = new EtcdStreams(store);
        _nic = nic;
        _instance = ReadInstance(paths);
    }

    /// <summary>What this machine's NIC did with writes from other machines: applied, refused, counted as lost.</summary>
    internal NicCounts NicCounts => _nic.Counts;

    /// <summary>Why this machine's NIC stopped (imcd must then leave the cluster), or null while it runs.</summary>
    internal Exception? NicFailure => _nic.Failure;

    public string Machine => _machine;

    public long Lease => _lease;

    /// <summary>
    /// Starts serving: makes the machine's control file if needed, joins the cluster in etcd under a new lease, and
    /// runs progress and the passes until <see cref="Dispose"/>.
    /// </summary>
    public static MachineAgent Start(ClusterPaths paths, EtcdConnection etcd, string machine, string address, int leaseSeconds,
        ProgressMode progress, ILogger logger)
    {
        paths = paths.ForAgent(); // imcd trusts no file of the cluster that another user owns, whatever its own uid
        ClusterPaths.ValidateName(machine, "machine name (--machine, IMC_MACHINE)");
        var store = new EtcdStore(etcd, paths.Cluster);
        ControlFileDirectory? local = null;
        UcxMachineNic? nic = null;
        try
        {
            local = ControlFileDirectory.OpenOrCreate(paths);
            // The NIC applies only what comes on connections that presented the cluster key: made by the first imcd to
            // join, read from etcd by every later one.
            nic = UcxMachineNic.Start(local.LogicalRails, local.RecordDeliveryError, progress, store.ClusterKey());
            var agent = new MachineAgent(paths, machine, address, leaseSeconds, progress, logger, local, store, nic);
            agent.Join();
            try
            {
                agent._server = AgentServer.Start(paths, machine, AgentMode.Machine,
                    registered => EtcdDirectory.Serve(paths, store, machine, Directories.ProcessFabric, registered), logger);
                local.RegisteredUid = agent._server.RegisteredUid; // a Kill from another machine, too
            }
            catch
            {
                agent.Dispose();
                throw;
            }

            return agent;
        }
        catch
        {
            nic?.Dispose();
            local?.Dispose();
            store.Dispose();
            throw;
        }
    }

    private void Join()
    {
        StartLease();
        try
        {
            ClaimName();
        }
        catch
        {
            _stop.Cancel(); // the lease's keep-alive
            try
            {
                _store.RevokeLease(_lease);
            }
            catch (DriverException e)
            {
                LeaseNotRevoked(_logger, e.Message);
            }

            throw;
        }

        // Hosts that were up here before a restart are up again under the new lease. A restart is a leave and a join:
        // writes toward this machine while no agent ran here were lost, and whatever the last agent had received but
        // not yet applied, so every rail's count rises before anything is applied again (the NIC applies nothing
        // before the memory is published anew, below).
        var restarted = _local.UpHostNames().ToList();
        if (restarted.Count > 0)
        {
            for (var rail = 0; rail < _local.LogicalRails; rail++)
            {
                _local.RecordDeliveryError(rail);
            }

            RestartCounted(_logger, _machine, restarted.Count);
        }

        foreach (var host in restarted)
        {
            if (_epoch == _lease)
            {
                // A new epoch (the earlier agent's lease had gone, or it was fenced): the cluster took this machine for
                // dead, so the processes of the old epoch are let go (each gets NotInitialized once), as at a rejoin.
                _local.TakeHostDown(host);
            }

            _ = _local.InitializeHost(host, null, null);
            RepublishHost(host);
        }

        Pass();
        // From the revision after the pass's reading: every change since comes as a change.
        _watching = _streams.WatchAsync(WatchedPrefixes(), _readingRevision + 1, OnChanges, _stop.Token);
        _fenceWatch = new Timer(_ => FenceIfCut(), null, s_fenceCheck, s_fenceCheck);
        _ = Task.Run(PassLoop);
    }

    /// <summary>A new lease for the machine, kept alive until the next one or <see cref="Dispose"/>.</summary>
    private void StartLease()
    {
        var lease = _store.GrantLease(_leaseSeconds);
        var keeping = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        if (_keepingAlive is { } previous)
        {
            previous.Cancel(); // the old lease's keep-alive: that lease is gone
            _ = _keepAlive!.ContinueWith(_ => previous.Dispose(), CancellationToken.None, TaskContinuationOptions.None,
                TaskScheduler.Default); // once its loop has let go of the token
        }

        _keepingAlive = keeping;
        _lease = lease;
        // Six keep-alives per lease: each answer is contact with etcd (FenceIfCut), so a fence needs several missed.
        var period = TimeSpan.FromMilliseconds(Math.Max(200, _leaseSeconds * 1000 / 6));
        _keepAlive = Task.Run(() => _streams.KeepAliveAsync(lease, period, () => Wake(Work.Everything), keeping.Token));
    }

    private string MachineRecordValue() => EtcdJson.Write(new MachineRecord(_address, Convert.ToBase64String(_nic.Address), _lease,
        Environment.ProcessId, _instance, _epoch));

    /// <summary>
    /// Enters <paramref name="epoch"/>: written to the control file before the machine's record shows it in etcd, so a
    /// process that finds the machine there reads the epoch it is in.
    /// </summary>
    private void EnterEpoch(long epoch)
    {
        _epoch = epoch;
        _local.JoinEpoch(epoch);
    }

    /// <summary>
    /// Takes the machine's name in the cluster, in one transaction: refused while another machine holds it under a live
    /// lease (a machine is known by the instance id kept in its own cluster folder, not by a pid, which another machine
    /// may reuse), or while another imcd runs on this machine; taken over from this machine's earlier agent (a restart)
    /// and from a machine whose lease is gone. A restart within the earlier agent's lease, unfenced, keeps its epoch:
    /// the cluster never took the machine for dead, so its processes and the locks they hold stand; any other join
    /// begins a new epoch, this agent's lease.
    /// </summary>
    private void ClaimName()
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var existing = _store.Get(EtcdKeys.Machine(_machine));
            var epoch = _lease;
            if (existing is not null && EtcdJson.Read<MachineRecord>(existing) is { } old)
            {
                if (old.Instance != _instance && _store.LeaseTimeToLive(old.Lease) > 0)
                {
                    throw new DriverException(DriverStatus.Exists,
                        $"machine '{_machine}' is live in cluster '{_paths.Cluster}' at {old.Address} (imcd pid {old.Pid} there): " +
                        "machine names are unique; start this imcd with its own --machine (or IMC_MACHINE)");
                }

                if (old.Instance == _instance && old.Pid != Environment.ProcessId && IsAlive(old.Pid))
                {
                    throw new DriverException(DriverStatus.Exists,
                        $"machine '{_machine}' is already served by imcd (pid {old.Pid}) in cluster '{_paths.Cluster}': one imcd per machine");
                }

                if (old.Instance == _instance && old.Epoch != 0 && old.Epoch == _local.MachineEpoch && !_local.IsFenced &&
                    _store.LeaseTimeToLive(old.Lease) > 0)
                {
                    epoch = old.Epoch; // a restart within the lease
                }
            }

            EnterEpoch(epoch);
            if (_store.CompareAndPut(EtcdKeys.Machine(_machine), MachineRecordValue(), existing?.ModRevision ?? 0, _lease))
            {
                return;
            }
        }

        throw new DriverException(DriverStatus.Timeout,
            $"machine '{_machine}': its record in cluster '{_paths.Cluster}' kept changing while this imcd tried to take it");
    }

    /// <summary>
    /// This machine's instance id in the cluster: made once, kept in the cluster's folder here (<c>machine-instance</c>),
    /// so a restarted imcd is known as the same machine and another machine with the same name is not.
    /// </summary>
    internal static string ReadInstance(ClusterPaths paths)
    {
        const string What = "machine instance file";
        var file = Path.Combine(paths.ClusterDirectory, "machine-instance");
        if (NoFollow.TryCreateFile(file, 0b110_100_100, What, out var fd))
        {
            try
            {
                NoFollow.WriteAll(fd, System.Text.Encoding.ASCII.GetBytes(Guid.NewGuid().ToString("N")), file, What);
            }
            finally
            {
                _ = Libc.Close(fd);
            }
        }

        // Made by this run or an earlier one: never read through a link, nor from a file of an owner imcd does not trust.
        var instance = System.Text.Encoding.ASCII.GetString(
            NoFollow.ReadAll(file, 64, What, status => paths.Owners.Check(file, What, status))).Trim();
        return instance.Length == 32 && instance.All(char.IsAsciiHexDigitLower)
            ? instance
            : throw new DriverException(DriverStatus.OpenError,
                $"{What} {file} does not hold an instance id (32 hex digits): remove it, and imcd makes a new one");
    }

    /// <summary>True while etcd, as the pass read it, still has this machine under this agent's lease.</summary>
    private bool HoldsLease() =>
        ReadList("machines/").Entries.Any(e => EtcdKeys.Last(e.Key) == _machine && e.Lease == _lease);

    /// <summary>
    /// The machine's lease expired while this agent ran (it stalled longer than the lease: a frozen VM, a stopped
    /// process, etcd out of reach), or the machine fenced itself and etcd answers again. Either way the cluster has
    /// taken the machine for dead, or is about to (a fenced machine's lease is revoked here first), as it takes one whose
    /// agent was killed: its hosts leave, every machine raises its error counts, its receive memory leaves the routes,
    /// and locks its processes held pass to waiters. Nothing done here in the old epoch is to be trusted, so the hosts
    /// here are taken down too (their processes are let go: each gets NotInitialized once, and opens the cluster
    /// again), and the machine joins again under a new lease and a new epoch, with the same hosts up again at once.
    /// Every acknowledgement is written again by the next pass, under the new lease.
    /// </summary>
    private void Rejoin(bool leaseLost)
    {
        if (leaseLost)
        {
            LeaseLost(_logger, _machine, _leaseSeconds);
        }
        else
        {
            // Fenced, and etcd answers again: the cluster may or may not have taken the machine for dead yet. Make it
            // so, at once, rather than let the old epoch live on: its owners' locks pass to waiters, every machine raises
            // its counts for the hosts' leave, and nothing of the old epoch is accepted anywhere once it has gone.
            try
            {
                _store.RevokeLease(_lease);
            }
            catch (DriverException e)
            {
                LeaseNotRevoked(_logger, e.Message);
            }

            FencedRejoin(_logger, _machine);
        }

        // Remembered until they are up again: a rejoin that fails half-way (etcd gone again) is made again by the next
        // pass, when they are already down here.
        var hosts = _rejoinHosts ??= [.. _local.UpHostNames()];
        foreach (var host in _local.UpHostNames())
        {
            try
            {
                _local.TakeHostDown(host);
            }
            catch (DriverException e)
            {
                HostNotTakenDown(_logger, host, e.Message);
            }
        }

        StartLease();
        ClaimName(); // a transaction, as at the start: another machine may have taken the name while this one was away
        _hosts = null;
        _remoteHosts = null;
        _failedRails = null;
        _applied.Clear();
        // The hosts come back up by themselves, under the new epoch: their old processes were let go above (each gets
        // NotInitialized once, then opens the cluster again), new ones register as usual, nobody runs imc_init again.
        foreach (var host in hosts)
        {
            try
            {
                _ = _local.InitializeHost(host, null, null);
                RepublishHost(host);
            }
            catch (DriverException e)
            {
                HostNotBackUp(_logger, host, e.Message);
            }
        }

        _rejoinHosts = null;
        Rejoined(_logger, _machine, _lease, hosts.Count);
    }

    /// <summary>Leaves the cluster: this machine's hosts leave (each a host leave), then the lease and everything bound to it.</summary>
    public void Dispose()
    {
        if (_stop.IsCancellationRequested || Interlocked.Exchange(ref _leaving, 1) != 0)
        {
            return;
        }

        _server?.Dispose(); // no process asks anything of a machine that leaves; what they held is released

        foreach (var host in _local.UpHostNames())
        {
            try
            {
                _local.TakeHostDown(host);
            }
            catch (DriverException e)
            {
                HostNotTakenDown(_logger, host, e.Message);
            }
        }

        try
        {
            _store.RevokeLease(_lease); // the machine's keys go at once, not when the lease would expire
        }
        catch (DriverException e)
        {
            LeaseNotRevoked(_logger, e.Message);
        }

        _fenceWatch?.Dispose();
        _stop.Cancel(); // the watch and the keep-alive too
        try
        {
            // Before their channels go (below); both end at once on the cancellation, and never fail.
            _ = Task.WaitAll([_watching ?? Task.CompletedTask, _keepAlive ?? Task.CompletedTask], TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
        }
        _nic.Dispose(); // its progress stops first: nothing touches the memory below any more
        DisposeLocks();
        foreach (var memory in _registered.Values)
        {
            memory.Dispose();
        }

        _local.Dispose();
        _streams.Dispose();
        _store.Dispose();
    }

    /// <summary>A host that was up here before this agent started: bound again to this agent's lease.</summary>
    private void RepublishHost(string host)
    {
        var slot = _local.UpHostSlot(host);
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var entry = _store.Get(EtcdKeys.Host(host));
            if (entry is not null && EtcdJson.Read<HostRecord>(entry).Machine != _machine)
            {
                return; // it came up on another machine meanwhile: that one holds it now
            }

            // One transaction, and only while the record is the one read: another machine taking the host in between
            // keeps it.
            if (_store.Commit([(EtcdKeys.Host(host), entry?.ModRevision ?? 0)],
                [(EtcdKeys.Host(host), EtcdJson.Write(new HostRecord(_machine, slot, 0)), _lease), (EtcdKeys.Slot(slot), host, _lease)]))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Applies the watch's changes as they come, runs a whole pass when a change, a look at this machine
    /// (<see cref="LocalWork"/>, every <see cref="s_look"/>) or the keep-alive asks for it, and after a failure, again
    /// every <see cref="s_look"/> until one succeeds.
    /// </summary>
    private async Task PassLoop()
    {
        var failing = false;
        var clock = Stopwatch.StartNew();
        var nextLook = clock.Elapsed + s_look;
        while (!_stop.IsCancellationRequested && Volatile.Read(ref _leaving) == 0)
        {
            try
            {
                var wait = nextLook - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    _ = await _changed.WaitAsync(wait, _stop.Token).ConfigureAwait(false);
                }

                while (_changed.CurrentCount > 0)
                {
                    _ = _changed.Wait(0); // one round serves every change so far
                }

                if (Volatile.Read(ref _leaving) != 0)
                {
                    return;
                }

                var work = TakeWork();
                if (clock.Elapsed >= nextLook)
                {
                    work |= LocalWork();
                    nextLook = clock.Elapsed + s_look;
                }

                if (failing || (work & Work.Everything) != 0)
                {
                    Pass();
                }
                else if (work != Work.None)
                {
                    Apply(work);
                }

                failing = false;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (DriverException e)
            {
                // etcd unreachable or the control file busy: the data path goes on; try again at the next pass.
                failing = true;
                PassFailed(_logger, e.Message);
            }
        }
    }

    /// <summary>
    /// One pass: converge this machine's registrations and control file on what etcd says, as read at its start in one
    /// round trip (<see cref="ReadForPass"/>). Changes that come meanwhile are applied between its steps, so a receive
    /// attach does not wait for a whole pass.
    /// </summary>
    private void Pass()
    {
        ReadForPass();
        try
        {
            var leaseLost = !HoldsLease();
            if (leaseLost || Volatile.Read(ref _fenced) != 0)
            {
                Rejoin(leaseLost);
                Unfence();
                _ = Interlocked.Or(ref _work, (int)Work.Everything); // the next pass at once, on a fresh reading
                _changed.Release();
                return;
            }

            Unfence();
            PassSteps();
        }
        finally
        {
            _reading = null;
        }
    }

    /// <summary>
    /// Fences this machine once it has not reached etcd for its lease less a second: by then the cluster may take it
    /// for dead at any moment (its lease expiring in etcd), so every rail here is held in error processing and its
    /// readers read a negative count (the manual's "error processing") until the machine is back in the cluster.
    /// Runs on a timer of its own, since a pass blocks for the directory's timeout while etcd is out of reach; any answer
    /// of etcd counts as contact (the lease's keep-alive is answered six times a lease).
    /// </summary>
    private void FenceIfCut()
    {
        if (Volatile.Read(ref _fenced) != 0 || Volatile.Read(ref _leaving) != 0 ||
            Environment.TickCount64 - _store.AnsweredMs <= (_leaseSeconds * 1000L) - 1000)
        {
            return;
        }

        if (Interlocked.Exchange(ref _fenced, 1) == 0)
        {
            _local.Fence(); // first: from here on, this machine's processes take no lock and send nothing
            _local.HoldErrorProcessing();
            Fenced(_logger, _machine, _leaseSeconds - 1);
        }
    }

    /// <summary>
    /// Back in the cluster (a pass read etcd and the machine holds a lease, its old one or, after <see cref="Rejoin"/>,
    /// a new one): every rail's count rises, which also ends the error processing the fence held, so a reader sees that
    /// writes may have been lost while it was cut off.
    /// </summary>
    private void Unfence()
    {
        if (Volatile.Read(ref _fenced) == 0)
        {
            return;
        }

        for (var rail = 0; rail < _local.LogicalRails; rail++)
        {
            _local.RecordDeliveryError(rail);
        }

        Volatile.Write(ref _fenced, 0);
        Unfenced(_logger, _machine);
    }

    private void PassSteps()
    {
        TrackEpochs();
        // These two first, with no change applied since the reading: they withdraw and unapply what the reading lacks.
        PublishReceivers();
        ApplyMemory();
        ApplyChanges();
        WithdrawRegions();
        ApplyChanges();
        PassEvents();
        ApplyChanges();
        PassLocks();
        ApplyChanges();
    }

    /// <summary>
    /// Notes the epochs that ended since the last pass (a machine left, was taken for dead, or joined again under a new
    /// epoch) and hands them to the NIC, which refuses writes of an ended epoch from then on.
    /// </summary>
    private void TrackEpochs()
    {
        var live = ReadList("machines/").Entries.Select(e => EtcdJson.Read<MachineRecord>(e).Epoch).Where(e => e != 0).ToHashSet();
        var ended = _liveEpochs.Where(e => !live.Contains(e)).ToList();
        _liveEpochs = live;
        if (ended.Count > 0)
        {
            _endedEpochs.UnionWith(ended);
            _nic.SetEndedEpochs(_endedEpochs);
            foreach (var epoch in ended)
            {
                EpochEnded(_logger, epoch);
            }
        }
    }

    /// <summary>Hosts, processes and signals across machines: mirrored into this machine's control file.</summary>
    partial void PassEvents();

    /// <summary>Lock sets homed on this machine: their words, and owners that died.</summary>
    partial void PassLocks();

    /// <summary>Releases what <see cref="PassLocks"/> made, once the progress thread has stopped.</summary>
    partial void DisposeLocks();

    /// <summary>Registers each receive memory that a local host attached, and withdraws those that went.</summary>
    private void PublishReceivers()
    {
        var (receivers, revision) = ReadList("receivers/");
        var wanted = new HashSet<string>();
        foreach (var entry in receivers)
        {
            if (EtcdJson.Read<ReceiverRecord>(entry) is { } record && record.Machine == _machine &&
                EtcdKeys.TryParseKeyHost(entry.Key, out var key, out var host) && PublishReceiver(entry, record, key, host))
            {
                wanted.Add(record.Memory);
            }
        }

        foreach (var name in _registered.Keys.Where(n => !wanted.Contains(n)).ToList())
        {
            WithdrawMemory(name);
        }

        _receiversRead = revision;
    }

    /// <summary>
    /// Registers and publishes the receive memory of a receiver of this machine (<paramref name="entry"/>), and applies
    /// it here at once; withdraws the receiver instead when its attachers are gone. False when it was withdrawn.
    /// </summary>
    private bool PublishReceiver(EtcdEntry entry, ReceiverRecord record, int key, string host)
    {
        var local = _local.ReceiveMemoryOf(key, host);
        if (local is null || local.Value.Memory.ToString() != record.Memory)
        {
            _ = _store.CompareAndDelete(entry.Key, entry.ModRevision); // its attachers are gone: withdraw it
            return false;
        }

        if (entry.Lease != _lease)
        {
            // Published under an earlier agent's lease (this agent restarted): bind it to this one's.
            _store.Set(entry.Key, entry.Value, _lease);
        }

        if (!_registered.ContainsKey(record.Memory))
        {
            var rail = _local.LogicalRailOf(key);
            if (rail < 0)
            {
                _ = _store.CompareAndDelete(entry.Key, entry.ModRevision); // deallocated here meanwhile
                return false;
            }

            var registered = Register(local.Value.Memory, local.Value.Length, key, host, rail);
            _registered[record.Memory] = registered;
            var slot = _local.UpHostSlot(host);
            // Applied here first, and acknowledged with the record itself (same revision: EtcdRecords), rather than a
            // round trip later or when the watch brings the change back.
            _ = _local.BumpRegionGeneration(key);
            var revision = _store.SetAll(_lease,
                (EtcdKeys.Memory(key, host), EtcdJson.Write(new MemoryRecord(_machine, record.Memory, local.Value.Length, slot,
                    registered.Id, rail))),
                (EtcdKeys.Ack(key, host, _machine), "0"));
            _applied[(key, host)] = revision;
            MemoryRegistered(_logger, record.Memory, host, key);
        }

        return true;
    }

    /// <summary>Withdraws the registered receive memory <paramref name="name"/>: its receiver went.</summary>
    private void WithdrawMemory(string name)
    {
        var registered = _registered[name];
        _registered.Remove(name);
        // From now on a write or read that names it is refused: the NIC's handlers run on the progress thread, and no
        // remote operation names an address in it (reads go through the NIC too), so it is unmapped at once.
        _nic.Withdraw(registered.Id);
        registered.Dispose();
        var memoryKey = EtcdKeys.Memory(registered.RegionKey, registered.Host);
        if (_store.Get(memoryKey) is { } entry && EtcdJson.Read<MemoryRecord>(entry).Memory == name)
        {
            _ = _store.CompareAndDelete(memoryKey, entry.ModRevision);
        }
    }

    /// <summary>
    /// Applies every machine's receive memory to this machine's control file (the region's generation moves, so local
    /// writers re-read their routes), then acknowledges it.
    /// </summary>
    private void ApplyMemory()
    {
        var (memories, revision) = ReadList("memory/");
        var present = new HashSet<(int, string)>();
        foreach (var entry in memories)
        {
            if (EtcdKeys.TryParseKeyHost(entry.Key, out var key, out var host))
            {
                present.Add((key, host));
                ApplyMemory(key, host, entry.ModRevision);
            }
        }

        foreach (var (key, host) in _applied.Keys.Where(k => !present.Contains(k)).ToList())
        {
            UnapplyMemory(key, host, revision); // unless a change applied it after this reading
        }

        _memoryRead = revision;
    }

    /// <summary>Applies memory/{key}/{host} as of <paramref name="revision"/>, unless it was applied as of then or later.</summary>
    private void ApplyMemory(int key, string host, long revision)
    {
        if (_applied.TryGetValue((key, host), out var applied) && applied >= revision)
        {
            return;
        }

        _ = _local.BumpRegionGeneration(key);
        _store.Set(EtcdKeys.Ack(key, host, _machine), revision.ToString(System.Globalization.CultureInfo.InvariantCulture), _lease);
        _applied[(key, host)] = revision;
    }

    /// <summary>memory/{key}/{host} went (deleted at <paramref name="revision"/>): routes to it go here too.</summary>
    private void UnapplyMemory(int key, string host, long revision)
    {
        if (!_applied.TryGetValue((key, host), out var applied) || applied >= revision)
        {
            return; // not applied here, or applied again since
        }

        _ = _local.BumpRegionGeneration(key);
        _store.Delete(EtcdKeys.Ack(key, host, _machine));
        _applied.Remove((key, host));
    }

    /// <summary>Takes this machine (and machines that left) out of the regions it no longer has allocated.</summary>
    private void WithdrawRegions()
    {
        var (machines, _) = ReadList("machines/");
        var live = machines.Select(m => EtcdKeys.Last(m.Key)).ToHashSet();
        var allocated = _local.AllocatedKeys();
        _allocatedSeen = allocated;
        var (regions, _) = ReadList("regions/");
        foreach (var entry in regions)
        {
            var record = EtcdJson.Read<RegionRecord>(entry);
            var key = int.Parse(EtcdKeys.Last(entry.Key), System.Globalization.CultureInfo.InvariantCulture);
            var stale = record.Machines.Any(m => !live.Contains(m));
            var mineGone = record.Machines.Contains(_machine) && !allocated.Contains(key);
            if (stale || mineGone)
            {
                EtcdRegions.Withdraw(_store, key, mineGone ? _machine : "", live);
            }
        }
    }

    private Registered Register(ReceiveFileName name, long length, int regionKey, string host, int rail)
    {
        var file = _local.MapReceiveMemory(name, length);
        try
        {
            nint address;
            unsafe
            {
                address = (nint)file.Pointer;
            }

            // Published to the emulated NIC only: not registered with UCX, so no remote operation names an address in it.
            return new Registered(file, _nic.Publish(address, length, rail), regionKey, host);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static bool IsAlive(int pid) => System.IO.Directory.Exists($"/proc/{pid}");

    /// <summary>A receive memory mapped and registered by this agent.</summary>
    private sealed class Registered(MappedFile file, ulong id, int regionKey, string host) : IDisposable
    {
        /// <summary>The id the emulated NIC published it under.</summary>
        public ulong Id => id;

        public int RegionKey => regionKey;

        public string Host => host;

        /// <summary>Unmaps it: only once the NIC withdrew it (or the progress thread stopped).</summary>
        public void Dispose() => file.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "host '{Host}' could not be taken down: {Reason}")]
    private static partial void HostNotTakenDown(ILogger logger, string host, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "machine '{Machine}' lost its lease: this imcd made no contact with etcd for " +
        "{LeaseSeconds} s and the cluster took the machine for dead; its hosts are taken down and it joins again (start its programs again)")]
    private static partial void LeaseLost(ILogger logger, string machine, int leaseSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "machine '{Machine}' restarted with {Hosts} hosts up: its error counts rose " +
        "(writes toward them while no imcd ran here were lost)")]
    private static partial void RestartCounted(ILogger logger, string machine, int hosts);

    [LoggerMessage(Level = LogLevel.Error, Message = "machine '{Machine}' is fenced: no contact with etcd for {Seconds} s (its lease less " +
        "a second); its readers see error processing until it is back in the cluster")]
    private static partial void Fenced(ILogger logger, string machine, int seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "machine '{Machine}' is back in the cluster: its error counts rose and the fence is lifted")]
    private static partial void Unfenced(ILogger logger, string machine);

    [LoggerMessage(Level = LogLevel.Information, Message = "machine '{Machine}' joined again under lease {Lease:x} (its new epoch), " +
        "with its {Hosts} hosts up again")]
    private static partial void Rejoined(ILogger logger, string machine, long lease, int hosts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "machine '{Machine}' reached etcd again after its fence: it leaves the " +
        "cluster (its lease revoked) and joins again under a new epoch")]
    private static partial void FencedRejoin(ILogger logger, string machine);

    [LoggerMessage(Level = LogLevel.Information, Message = "epoch {Epoch:x} ended: writes of that epoch are refused here")]
    private static partial void EpochEnded(ILogger logger, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "host '{Host}' could not be brought up again: {Reason}")]
    private static partial void HostNotBackUp(ILogger logger, string host, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the lease could not be revoked (it expires by itself): {Reason}")]
    private static partial void LeaseNotRevoked(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "a pass failed, the next one retries: {Reason}")]
    private static partial void PassFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "registered {Memory} for host '{Host}' (region key {Key})")]
    private static partial void MemoryRegistered(ILogger logger, string memory, string host, int key);
}
