using System.Diagnostics;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Driver.Status;
using Interconnect.Driver.Store;

namespace Interconnect.Driver.Directory.Etcd;

/// <summary>
/// The directory of a cluster that spans machines (<c>IMC_DIRECTORY</c> set): clusterwide facts live in etcd (which
/// hosts are up and where, keyed regions, which hosts receive a region and where their memory is), and this machine's
/// control file mirrors them so that local processes keep their fast path. A change is decided in etcd by a
/// transaction (create-if-absent, compare-and-put), never by one machine alone, and applied here; an operation that
/// fails half-way undoes its local half. It runs inside imcd, one per connected process (Agent.AgentSession), in the
/// name of the registration the socket made for that process. Writes to hosts on other machines are UCX active
/// messages from the writing process that the other machine's imcd applies; an attach for receive returns only once
/// every machine's agent has applied it, so every write issued after it reaches the new receiver.
/// <para>
/// Across machines: hosts, keyed regions, receive attaches, broadcast, point-to-point and loopback writes, Kill,
/// host and rail events with their error counts, drops (EtcdDirectory.Events.cs), and lock sets (words in their home
/// machine's lock arena, changed by that machine's imcd: EtcdDirectory.Locks.cs), coherent regions (a clusterwide write lock, and late
/// joiners' copies made under it: EtcdDirectory.Coherent.cs). Direct regions are refused with
/// <see cref="DriverStatus.NotSupported"/>.
/// </para>
/// </summary>
internal sealed partial class EtcdDirectory : IServedDirectory
{
    private static readonly TimeSpan s_applyTimeout = TimeSpan.FromSeconds(10);
    private readonly ControlFileDirectory _local;
    private readonly EtcdStore _store;
    private readonly string _machine;
    private EtcdEntry? _machineRecord; // machines/{machine} as last read: its lease binds this machine's keys

    private readonly MachineStanding _standing;
    private readonly Lazy<UcxFabric> _fabric; // imcd's own UCX (Directories.ProcessFabric), made on first use

    private EtcdDirectory(ControlFileDirectory local, EtcdStore store, string machine, Lazy<UcxFabric> fabric)
    {
        _local = local;
        _store = store;
        _machine = machine;
        _standing = local.Standing(machine, store.ClusterKey); // imcd's own links present the key too
        _fabric = fabric;
    }

    /// <summary>
    /// The directory imcd serves one connected process with (Agent.AgentServer): on imcd's store, shared by every
    /// connection (not disposed with this), and a control file of its own, opened now, so that the process's standing
    /// starts with the machine's epoch of today.
    /// </summary>
    internal static EtcdDirectory Serve(ClusterPaths paths, EtcdStore store, string machine, Lazy<UcxFabric> fabric,
        Func<int, long, int?> registeredUid)
    {
        var local = ControlFileDirectory.Open(paths, ControlAccess.All);
        local.RegisteredUid = registeredUid;
        _ = store.Changes; // the watch its waits wake on, made before the first connection's first request
        return new EtcdDirectory(local, store, machine, fabric);
    }

    /// <summary>
    /// The region a request names (by slot and id), as this machine's control file has it, with its write lock's home
    /// where imcd told the connection it is (<paramref name="writeLock"/>), else as the directory has it: never as the
    /// request says.
    /// </summary>
    public RegionHandle RegionAsItIs(RegionHandle claimed, LockSetHome? writeLock)
    {
        var handle = _local.RegionAsItIs(claimed);
        if (!handle.Coherent || writeLock is not null)
        {
            return handle with { WriteLock = writeLock };
        }

        var record = _store.Get(EtcdKeys.Region(handle.Key)) is { } entry
            ? EtcdJson.Read<RegionRecord>(entry)
            : throw new DriverException(DriverStatus.NotAllocated, $"region key {handle.Key} is no longer in cluster '{ClusterName}'");
        return handle with { WriteLock = record.WriteLock };
    }

    /// <summary>The cluster's key (imcd's store reads it once, or makes it with the cluster).</summary>
    public byte[] ClusterKey() => _store.ClusterKey();

    /// <summary>The lock set a request names (by key and id), as the directory has it.</summary>
    public LockSetHandle LockSetAsItIs(LockSetHandle claimed)
    {
        var record = _store.Get(EtcdKeys.LockSet(claimed.Key)) is { } entry ? EtcdJson.Read<LockSetRecord>(entry) : null;
        return record is not null && record.Id == claimed.Id
            ? HandleOf(claimed.Key, record)
            : throw new DriverException(DriverStatus.NotAllocated, $"lock set key {claimed.Key} is not allocated in cluster '{ClusterName}' (any more)");
    }

    /// <summary>The caller's transmit attach <paramref name="entry"/> of <paramref name="region"/>, as the control file has it.</summary>
    public TransmitAttachment TransmitAttachmentOf(ProcessRegistration process, RegionHandle region, int entry) =>
        _local.TransmitAttachmentOf(process, region, entry);

    public string ClusterName => _local.ClusterName;

    public IFabric Fabric => _local.Fabric;

    public int LogicalRails => _local.LogicalRails;

    /// <summary>This machine's name in the cluster (<c>IMC_MACHINE</c>).</summary>
    public string Machine => _machine;

    internal EtcdStore Store => _store;

    /// <summary>A directory failure on a fenced machine, which says so first.</summary>
    internal static DriverException FencedFailure(string machine, DriverException failure) =>
        new(failure.Status, $"machine '{machine}' is fenced (its imcd has not reached etcd for its lease less a second: " +
            $"its readers read error processing, its lock calls fail): {failure.Message}");

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

        _local.Dispose(); // the store is imcd's, shared by every connection
    }

    // Membership.

    public HostInitResult InitializeHost(string host, long? maxAllocBytes, long? maxRecvBytes)
    {
        ClusterPaths.ValidateName(host, "host name");
        var lease = MachineLease();
        for (var attempt = 0; ; attempt++)
        {
            if (_store.Get(EtcdKeys.Host(host)) is { } existing)
            {
                var record = EtcdJson.Read<HostRecord>(existing);
                if (record.Machine != _machine)
                {
                    throw new DriverException(DriverStatus.BadHost,
                        $"host '{host}' is up on machine '{record.Machine}' of cluster '{ClusterName}': a host lives on one " +
                        "machine; take it down there first (imc_init --down on that machine)");
                }

                return _local.InitializeHost(host, maxAllocBytes, maxRecvBytes, record.Slot);
            }

            var (slots, _) = _store.List("slots/");
            var used = slots.Select(s => int.Parse(EtcdKeys.Last(s.Key), System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
            var slot = Enumerable.Range(0, Interconnect.Driver.Store.Layout.ControlLayout.MaxHosts).FirstOrDefault(s => !used.Contains(s), -1);
            if (slot < 0)
            {
                throw new DriverException(DriverStatus.NoResources,
                    $"cluster '{ClusterName}' already has {Interconnect.Driver.Store.Layout.ControlLayout.MaxHosts} hosts: take one down first");
            }

            var recv = maxRecvBytes ?? new ClusterConfiguration().MaxRecvBytes;
            if (_store.CreateAll(lease, (EtcdKeys.Host(host), EtcdJson.Write(new HostRecord(_machine, slot, recv))),
                    (EtcdKeys.Slot(slot), host)))
            {
                HostInitResult result;
                try
                {
                    result = _local.InitializeHost(host, maxAllocBytes, maxRecvBytes, slot);
                }
                catch
                {
                    _store.Delete(EtcdKeys.Host(host)); // undo: the host is not up anywhere
                    _store.Delete(EtcdKeys.Slot(slot));
                    throw;
                }

                WaitHostsApplied(_store.Get(EtcdKeys.Host(host))?.ModRevision ?? 0, $"host '{host}' joining");
                return result;
            }

            if (attempt == 20)
            {
                throw new DriverException(DriverStatus.Timeout,
                    $"host '{host}' could not be given a number in cluster '{ClusterName}': other hosts kept joining; retry");
            }
        }
    }

    /// <summary>
    /// Takes the host down here and in the directory, and returns once every machine has applied the leave (its
    /// error counts rose and its event fired), so that nothing sent after it is seen before that.
    /// </summary>
    public void TakeHostDown(string host)
    {
        _local.TakeHostDown(host);
        // One transaction, and only while the record is the one read (this machine's): a host that came up on another
        // machine meanwhile keeps its record and its slot.
        for (var attempt = 0; attempt < 10; attempt++)
        {
            if (_store.Get(EtcdKeys.Host(host)) is not { } entry || EtcdJson.Read<HostRecord>(entry) is not { } record ||
                record.Machine != _machine)
            {
                return;
            }

            var revision = _store.CommitAt([(EtcdKeys.Host(host), entry.ModRevision)], [], [EtcdKeys.Host(host), EtcdKeys.Slot(record.Slot)]);
            if (revision != 0)
            {
                WaitHostsApplied(revision, $"host '{host}' leaving");
                return;
            }
        }
    }

    private void WaitHostsApplied(long revision, string what) => WaitApplied(EtcdKeys.HostAck, revision, what);

    /// <summary>
    /// Waits until every machine's agent has acknowledged (in the key <paramref name="ackKey"/> gives for it) a
    /// reading as of <paramref name="revision"/> or later.
    /// </summary>
    private void WaitApplied(Func<string, string> ackKey, long revision, string what)
    {
        var missing = AwaitNothingMissing(() => Unacknowledged(ackKey, revision));
        if (missing is not null)
        {
            throw new DriverException(DriverStatus.Timeout,
                $"{what} was not applied by {missing} within {s_applyTimeout.TotalSeconds:0} s: check that imcd runs " +
                "there (imcs shows the machines)");
        }
    }

    /// <summary>The machines that have not acknowledged (in <paramref name="ackKey"/>) a reading as of <paramref name="revision"/>; null: none.</summary>
    private string? Unacknowledged(Func<string, string> ackKey, long revision)
    {
        var (machines, _) = _store.List("machines/");
        var names = machines.Select(m => EtcdKeys.Last(m.Key)).ToList();
        if (names.Count == 0)
        {
            return null;
        }

        var (acks, _) = _store.Read([.. names.Select(ackKey)]); // one round trip for every machine's
        var late = names.Where((m, i) => !(acks[i].Count == 1 && long.TryParse(acks[i][0].Value, out var r) && r >= revision)).ToList();
        return late.Count == 0 ? null : "machine(s) " + string.Join(", ", late.Select(m => $"'{m}'"));
    }

    /// <summary>
    /// Asks <paramref name="missing"/> what is still missing (null: nothing) until nothing is or the apply timeout has
    /// passed, asking again as soon as something changed in etcd (<see cref="EtcdStore.Changes"/>, its watch), and
    /// otherwise after pauses that double from 1 ms to <see cref="EtcdChangeBell.Fallback"/>: what other machines answer
    /// within a few milliseconds is seen as soon as by a poll, and a wait for a machine that is slow costs etcd a few
    /// requests a second, not hundreds. Returns what was missing last (null: done).
    /// </summary>
    private string? AwaitNothingMissing(Func<string?> missing)
    {
        var clock = Stopwatch.StartNew();
        var changes = _store.Changes;
        var pause = TimeSpan.FromMilliseconds(1);
        while (true)
        {
            var rings = changes.Rings; // before the look: a change after it rings past this count
            var left = missing();
            if (left is null || clock.Elapsed >= s_applyTimeout)
            {
                return left;
            }

            changes.WaitPast(rings, pause < s_applyTimeout - clock.Elapsed ? pause : s_applyTimeout - clock.Elapsed);
            pause = pause < EtcdChangeBell.Fallback ? pause * 2 : EtcdChangeBell.Fallback;
        }
    }

    public ProcessRegistration Register(string hostName) => _local.Register(hostName);

    /// <summary>Registers a process that asked imcd, as the socket names it.</summary>
    public ProcessRegistration Register(string hostName, ProcessIdentity identity, Credentials credentials) =>
        _local.Register(hostName, identity, credentials);

    public void KeepTally(int uid) => _local.KeepTally(uid);

    public void RecordTalliedLosses() => _local.RecordTalliedLosses();

    /// <summary>Takes up a registration again for the process that made it, which reconnected to a new imcd.</summary>
    public ProcessRegistration Resume(int slot, int incarnation, ProcessIdentity identity, Credentials credentials) =>
        _local.Resume(slot, incarnation, identity, credentials);

    public void Unregister(ProcessRegistration process)
    {
        WithdrawOwner(process); // waiters take over the locks it still holds
        _local.Unregister(process); // imcd withdraws what it held
    }

    // Regions.

    public RegionHandle AllocateRegion(ProcessRegistration process, int key, long size, int permissions, bool coherent,
        int logicalRail, bool direct = false)
    {
        if (direct)
        {
            throw new DriverException(DriverStatus.NotSupported,
                $"region key {key}: direct regions (C transmit pointers) are one machine's, and IMC_DIRECTORY is set: " +
                "write through imc_bcopy, or use a cluster on one machine");
        }

        if (coherent)
        {
            return AllocateCoherent(process, key, size, permissions, logicalRail);
        }

        for (var attempt = 0; ; attempt++)
        {
            var entry = _store.Get(EtcdKeys.Region(key));
            if (entry is not null)
            {
                var record = EtcdJson.Read<RegionRecord>(entry);
                CheckCompatible(key, record, size, logicalRail, coherent: false);
                ControlFileDirectory.CheckMayAllocate(process, key, record.Uid, record.Gid, record.Permissions);
                var handle = _local.AllocateRegion(process, key, size, record.Permissions, coherent, logicalRail, direct: false,
                    (record.Uid, record.Gid));
                try
                {
                    if (record.Machines.Contains(_machine) ||
                        _store.CompareAndPut(EtcdKeys.Region(key), EtcdJson.Write(record with { Machines = [.. record.Machines, _machine] }),
                            entry.ModRevision))
                    {
                        return handle;
                    }
                }
                catch
                {
                    _local.DeallocateRegion(process, handle);
                    throw;
                }

                _local.DeallocateRegion(process, handle); // the record changed under us: decide again
            }
            else
            {
                var handle = _local.AllocateRegion(process, key, size, permissions, coherent, logicalRail);
                var record = new RegionRecord(size, permissions, process.Credentials.Uid, process.Credentials.Gid, coherent,
                    logicalRail, [_machine]);
                try
                {
                    if (_store.CreateAll(0, (EtcdKeys.Region(key), EtcdJson.Write(record))))
                    {
                        return handle;
                    }
                }
                catch
                {
                    _local.DeallocateRegion(process, handle);
                    throw;
                }

                _local.DeallocateRegion(process, handle); // another machine created it first: allocate theirs
            }

            if (attempt == 20)
            {
                throw new DriverException(DriverStatus.Timeout,
                    $"region key {key} kept changing in cluster '{ClusterName}' while this process allocated it; retry");
            }
        }
    }

    public void DeallocateRegion(ProcessRegistration process, RegionHandle region) =>
        UnderWriteLock(process, region, () =>
        {
            _local.DeallocateRegion(process, region);
            if (!_local.AllocatedKeys().Contains(region.Key))
            {
                EtcdRegions.Withdraw(_store, region.Key, _machine);
            }

            WithdrawDroppedCopies(region.Key, quietly: false);
            return true;
        });

    public (ReceiveFileName Memory, long MappedLength) AttachReceive(ProcessRegistration process, RegionHandle region, bool nonShared)
    {
        // A coherent region: the host's copy is made under the clusterwide write lock, held until every machine applied it.
        using var writeLock = OpenWriteLock(process, region);
        writeLock?.Enter();
        try
        {
            var attached = _local.AttachReceive(process, region, nonShared);
            try
            {
                PublishCopy(region.Key, process.HostName, setAnyway: true);
                return attached;
            }
            catch
            {
                _local.Detach(process, region, receive: true, transmit: false); // imcd withdraws the receiver if it is gone here
                throw;
            }
        }
        finally
        {
            writeLock?.Exit();
        }
    }

    public TransmitAttachment AttachTransmit(ProcessRegistration process, RegionHandle region, bool nonShared, bool loopback,
        string? targetHost)
    {
        if (targetHost is null || !ClusterPaths.IsValidName(targetHost) || _local.UpHostSlot(targetHost) >= 0)
        {
            return _local.AttachTransmit(process, region, nonShared, loopback, targetHost);
        }

        if (_store.Get(EtcdKeys.Host(targetHost)) is not { } entry)
        {
            throw new DriverException(DriverStatus.BadHost,
                $"host '{ClusterPaths.Printable(targetHost)}' is not up in cluster '{ClusterName}' (see imcs -m)");
        }

        return _local.AttachTransmitToRemote(process, region, nonShared, EtcdJson.Read<HostRecord>(entry).Slot);
    }

    /// <summary>
    /// Detaches here; a receive detach, which may drop this machine's copy, runs under the region's write lock and
    /// withdraws the dropped copy's receiver from the directory at once. With the directory (or the lock) out of reach the
    /// detach still happens here, as it would for a process that exits: no machine can make a first copy (the only
    /// reader of a dropped copy) without etcd and the lock, and the dropped copy is withdrawn as soon as etcd answers (at
    /// once when only the lock was out of reach, else by this machine's imcd).
    /// </summary>
    public bool Detach(ProcessRegistration process, RegionHandle region, bool receive, bool transmit)
    {
        if (!receive)
        {
            return _local.Detach(process, region, receive, transmit);
        }

        bool? detached = null;
        try
        {
            return UnderWriteLock(process, region, () =>
            {
                detached = _local.Detach(process, region, receive, transmit);
                WithdrawDroppedCopies(region.Key, quietly: true); // etcd unreachable: the machine's imcd withdraws them
                return detached.Value;
            });
        }
        catch (DriverException e) when (e.Status == DriverStatus.Timeout)
        {
            if (detached is { } done)
            {
                return done; // the lock's release timed out after the detach
            }

            var withoutLock = _local.Detach(process, region, receive, transmit);
            WithdrawDroppedCopies(region.Key, quietly: true);
            return withoutLock;
        }
    }

    /// <summary>
    /// Runs <paramref name="change"/>, which may drop copies of coherent region <paramref name="region"/> on this
    /// machine, under the region's write lock (other regions: as it is). A machine making its first copy, under that lock
    /// too, then never reads a copy that stopped receiving writes but is still listed in etcd.
    /// </summary>
    private T UnderWriteLock<T>(ProcessRegistration process, RegionHandle region, Func<T> change)
    {
        using var writeLock = region.Coherent ? OpenWriteLock(process, region) : null;
        writeLock?.Enter();
        try
        {
            return change();
        }
        finally
        {
            writeLock?.Exit();
        }
    }

    /// <summary>
    /// Withdraws the receivers of region <paramref name="key"/> that name a copy on this machine that is gone (a host's
    /// copy goes when its last receive attach does, and a coherent region's when another host's copy remains). The
    /// machine's imcd withdraws them too, later; a detach does it at once so that no one reads such a copy.
    /// </summary>
    private void WithdrawDroppedCopies(int key, bool quietly)
    {
        try
        {
            var (receivers, _) = _store.List(EtcdKeys.ReceiversOf(key));
            foreach (var entry in receivers)
            {
                var receiver = EtcdJson.Read<ReceiverRecord>(entry);
                if (receiver.Machine == _machine &&
                    _local.ReceiveMemoryOf(key, EtcdKeys.Last(entry.Key))?.Memory.ToString() != receiver.Memory)
                {
                    _ = _store.CompareAndDelete(entry.Key, entry.ModRevision);
                }
            }
        }
        catch (DriverException) when (quietly)
        {
        }
    }

    public RouteSet ReadRoutes(ProcessRegistration process, RegionHandle region, TransmitAttachment attachment)
    {
        var local = _local.ReadRoutes(process, region, attachment);
        var (memories, _) = _store.List(EtcdKeys.MemoryOf(region.Key));
        if (memories.Count == 0)
        {
            return local;
        }

        // This machine's receivers come from its control file; a machine gone has no memory left.
        var receivers = local.Receivers.ToList();
        foreach (var (_, memory, remote) in RemoteMemories(memories))
        {
            if (attachment.TargetHost < 0 || memory.HostSlot == attachment.TargetHost)
            {
                receivers.Add(new RouteReceiver(memory.HostSlot, default, remote));
            }
        }

        return local with { Receivers = receivers };
    }

    public IFabric MemoryFabric => _local.MemoryFabric;

    public MachineStanding? ProcessStanding => _standing;

    public void RecordDeliveryError(int logicalRail) => _local.RecordDeliveryError(logicalRail);

    public RailStatus ReadRails() => _local.ReadRails();

    /// <summary>
    /// Sets <paramref name="key"/> bound to this machine's lease, in one round trip while the machine's record is the
    /// one last read (its imcd rewrites it, with its new lease, when it restarts): a key set again to the same value
    /// changes nothing that matters (a receiver's agent keeps its registration, its memory record and acks stand).
    /// </summary>
    private void SetBoundToMachine(string key, string value)
    {
        for (var attempt = 0; ; attempt++)
        {
            var known = Volatile.Read(ref _machineRecord) ?? MachineEntry(); // any thread's reading will do
            if (_store.SetIfUnchanged(EtcdKeys.Machine(_machine), known.ModRevision, key, value,
                    EtcdJson.Read<MachineRecord>(known).Lease, out var now))
            {
                Volatile.Write(ref _machineRecord, known);
                return;
            }

            Volatile.Write(ref _machineRecord, now ?? throw MachineLeft());
            if (attempt == 5)
            {
                throw new DriverException(DriverStatus.Timeout,
                    $"machine '{_machine}''s record kept changing in cluster '{ClusterName}' (its imcd restarting?): retry");
            }
        }
    }

    private EtcdEntry MachineEntry() => _store.Get(EtcdKeys.Machine(_machine)) ?? throw MachineLeft();

    private DriverException MachineLeft() => new(DriverStatus.NotInitialized,
        $"machine '{_machine}' has left cluster '{ClusterName}' (its imcd stopped, or its lease expired): restart imcd");

    /// <summary>The lease of this machine (its imcd's): keys bound to it go when the machine leaves.</summary>
    private long MachineLease() => EtcdJson.Read<MachineRecord>(MachineEntry()).Lease;

    private static void CheckCompatible(int key, RegionRecord record, long size, int logicalRail, bool coherent)
    {
        if (record.Coherent != coherent)
        {
            throw new DriverException(DriverStatus.CoherencyError,
                $"region key {key} exists as a {(record.Coherent ? "coherent" : "non-coherent")} region: allocate it with the same coherency");
        }

        if (record.Rail != logicalRail)
        {
            throw new DriverException(DriverStatus.WrongRail,
                $"region key {key} exists on logical rail {record.Rail}, not {logicalRail}");
        }

        if (record.Size != size)
        {
            throw new DriverException(DriverStatus.BadSize,
                $"region key {key} exists with size {record.Size}, not {size}: allocate it with its size");
        }
    }

    /// <summary>
    /// Waits until this machine's agent has registered the receive memory <paramref name="name"/> and every machine's
    /// agent has applied it (moved its writers' routes), so that every write issued from now on reaches it.
    /// </summary>
    private void WaitApplied(int key, string host, string name)
    {
        if (AwaitNothingMissing(() => Unapplied(key, host, name)) is { } missing)
        {
            throw new DriverException(DriverStatus.Timeout,
                $"the receive attach of region key {key} on host '{host}' was not applied by {missing} within " +
                $"{s_applyTimeout.TotalSeconds:0} s: check that imcd runs there (imcs shows the machines); nothing was attached");
        }
    }

    /// <summary>
    /// Whether <paramref name="ack"/> (an acks/ key) says its machine applied <paramref name="memory"/> as it is now:
    /// a revision at or after the memory's, or the memory's own machine's ack, written in the memory's transaction.
    /// </summary>
    internal static bool Acknowledges(EtcdEntry ack, EtcdEntry memory) =>
        (long.TryParse(ack.Value, out var revision) && revision >= memory.ModRevision) || ack.ModRevision == memory.ModRevision;

    /// <summary>Who has not yet applied the memory <paramref name="name"/>: null when everyone has.</summary>
    private string? Unapplied(int key, string host, string name)
    {
        var (read, _) = _store.Read(EtcdKeys.Memory(key, host), "machines/", EtcdKeys.AcksOf(key, host)); // one round trip
        var (memory, machines, acks) = (read[0].Count > 0 ? read[0][0] : null, read[1], read[2]);
        if (memory is null || EtcdJson.Read<MemoryRecord>(memory).Memory != name)
        {
            return $"this machine's imcd ('{_machine}')";
        }

        var applied = acks.Where(a => Acknowledges(a, memory)).Select(a => EtcdKeys.Last(a.Key)).ToHashSet();
        var missing = machines.Select(m => EtcdKeys.Last(m.Key)).Where(m => !applied.Contains(m)).ToList();
        return missing.Count == 0 ? null : "machine(s) " + string.Join(", ", missing.Select(m => $"'{m}'"));
    }
}
