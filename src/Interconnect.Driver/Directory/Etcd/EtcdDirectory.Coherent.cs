using Interconnect.Driver.Fabric;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store;

namespace Interconnect.Driver.Directory.Etcd;

/// <summary>
/// Coherent regions across machines. Every host that keeps a copy of the contents is a receiver of every write; a write
/// takes the region's clusterwide write lock (one word in the lock arena of the machine that made the region, changed
/// by UCX compare-and-swap: <see cref="ClusterWriteLock"/>) and lets it go only once its puts have landed. A machine
/// joining the region makes its first copy under that lock, by a UCX get from a copy on another machine, and publishes
/// it; the lock is let go only once every machine has applied the new copy, so every later write reaches it. A host
/// joining where its machine already has a copy copies that one under the same lock (the control file's join, with
/// the clusterwide lock around it).
/// <para>
/// The lock moves to another machine when its machine leaves (<see cref="RehomeWriteLock"/>). The region's maker holds
/// the lock from before the region exists in etcd until its first copy is published, so a
/// machine that joins always finds a copy to start from, unless every machine that had one has gone: then it starts
/// from zeroes, as a new region does.
/// </para>
/// </summary>
internal sealed partial class EtcdDirectory
{
    /// <summary>The key under which a coherent region's write lock is reserved in a lock arena's map (lock sets use theirs).</summary>
    internal static int WriteLockRangeKey(int regionKey) => -1 - regionKey;

    public ClusterWriteLock? OpenWriteLock(ProcessRegistration process, RegionHandle region)
    {
        if (region.WriteLock is not { } home)
        {
            return null;
        }

        var owner = ClusterOwner(process);
        PublishOwner(process, owner); // waiters must see a holder alive as long as it is
        return OpenWriteLock(home, owner, region.Key);
    }

    private ClusterWriteLock OpenWriteLock(LockSetHome home, long owner, int key) =>
        new(home, owner, key, at => new RemoteLockWords(() => OpenWords(at.Machine), IsLockOwnerAlive, at.First, owner, _standing, _fabric),
            failed => RehomeWriteLock(key, failed));

    /// <summary>
    /// Where the write lock of coherent region <paramref name="key"/> is, now that <paramref name="failed"/> could not
    /// be reached: there still while its machine is in the cluster (or wherever another machine moved it), else moved
    /// to a new free word in this machine's arena by a compare-and-put on the region's record.
    /// </summary>
    public LockSetHome RehomeWriteLock(int key, LockSetHome failed)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var entry = _store.Get(EtcdKeys.Region(key)) ?? throw new DriverException(DriverStatus.NotAllocated,
                $"coherent region key {key} is no longer in cluster '{ClusterName}'");
            var record = EtcdJson.Read<RegionRecord>(entry);
            var home = record.WriteLock ?? throw new DriverException(DriverStatus.McError,
                $"coherent region key {key} has no write lock in the directory: deallocate it everywhere");
            if (home != failed || _store.Get(EtcdKeys.Machine(home.Machine)) is not null)
            {
                return home;
            }

            var word = ReserveWords(WriteLockRangeKey(key), 1, ArenaOf(_machine).Words);
            var moved = new LockSetHome(_machine, word);
            var done = false;
            try
            {
                using (var words = OpenWords(_machine))
                {
                    words.Write(word, [0L]);
                }

                done = _store.CompareAndPut(EtcdKeys.Region(key), EtcdJson.Write(record with { WriteLock = moved }), entry.ModRevision);
            }
            finally
            {
                if (!done)
                {
                    TryFreeWords(_machine, WriteLockRangeKey(key), word);
                }
            }

            if (done)
            {
                return moved;
            }
        }

        throw new DriverException(DriverStatus.Timeout,
            $"the write lock of coherent region key {key} kept changing while this process moved it; retry");
    }

    private RegionHandle AllocateCoherent(ProcessRegistration process, int key, long size, int permissions, int logicalRail)
    {
        var owner = ClusterOwner(process);
        PublishOwner(process, owner);
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var handle = _store.Get(EtcdKeys.Region(key)) is { } entry
                ? JoinCoherent(process, key, size, logicalRail, entry, owner)
                : MakeCoherent(process, key, size, permissions, logicalRail, owner);
            if (handle is not null)
            {
                return handle;
            }
        }

        throw new DriverException(DriverStatus.Timeout,
            $"region key {key} kept changing in cluster '{ClusterName}' while this process allocated it; retry");
    }

    /// <summary>
    /// Makes coherent region <paramref name="key"/>: its write lock word, held by this process from the start; the
    /// region in etcd, held by no machine yet; then, under that lock, this machine's entry with the allocating host's
    /// copy (zeroes), this machine added to the region's machines, and the copy published before the lock goes, so a
    /// machine that joins always finds it. Null when another machine made the region first. Nothing of this machine's
    /// is made before the region is in etcd (a process here that joins it meanwhile never takes a copy made for a
    /// region that lost the race for the region's contents), and the region names this machine only once it has it
    /// (imcd withdraws a machine from regions it does not have). A region left with no machine by a process that died
    /// half-way is joined by the next allocator as any region is, from zeroes.
    /// </summary>
    private RegionHandle? MakeCoherent(ProcessRegistration process, int key, long size, int permissions, int logicalRail, long owner)
    {
        var word = ReserveWords(WriteLockRangeKey(key), 1, ArenaOf(_machine).Words);
        var home = new LockSetHome(_machine, word);
        var record = new RegionRecord(size, permissions, process.Credentials.Uid, process.Credentials.Gid, true, logicalRail,
            [], home);
        try
        {
            using (var words = OpenWords(_machine))
            {
                words.Write(word, [owner]);
            }

            if (!_store.CreateAll(0, (EtcdKeys.Region(key), EtcdJson.Write(record))))
            {
                TryFreeWords(_machine, WriteLockRangeKey(key), word); // another machine made it first: join theirs
                return null;
            }
        }
        catch
        {
            TryFreeWords(_machine, WriteLockRangeKey(key), word);
            throw;
        }

        using var writeLock = OpenWriteLock(home, owner, key);
        writeLock.EnterMadeHeld();
        RegionHandle? handle = null;
        try
        {
            handle = _local.AllocateRegion(process, key, size, permissions, coherent: true, logicalRail) with { WriteLock = home };
            AddThisMachine(key);
            PublishLocalCopies(key);
            return handle;
        }
        catch
        {
            if (handle is not null)
            {
                _local.DeallocateRegion(process, handle);
            }

            TryWithdraw(key); // the region in etcd goes, and its word with it
            throw;
        }
        finally
        {
            writeLock.Exit();
        }
    }

    /// <summary>
    /// Allocates coherent region <paramref name="key"/>, which exists in etcd: under its write lock, this machine's
    /// entry and, when the machine had none, the allocating host's copy made from a copy on another machine and
    /// published. Null when the region changed meanwhile (decide again).
    /// </summary>
    private RegionHandle? JoinCoherent(ProcessRegistration process, int key, long size, int logicalRail, EtcdEntry entry, long owner)
    {
        var record = EtcdJson.Read<RegionRecord>(entry);
        CheckCompatible(key, record, size, logicalRail, coherent: true);
        ControlFileDirectory.CheckMayAllocate(process, key, record.Uid, record.Gid, record.Permissions);
        var home = record.WriteLock ?? throw new DriverException(DriverStatus.McError,
            $"coherent region key {key} has no write lock in the directory (made by an older imc?): deallocate it everywhere");
        using var writeLock = OpenWriteLock(home, owner, key);
        writeLock.Enter();
        try
        {
            var fresh = !_local.AllocatedKeys().Contains(key); // no copy here yet: the first is made from another machine's
            var handle = _local.AllocateRegion(process, key, size, record.Permissions, coherent: true, logicalRail, direct: false,
                (record.Uid, record.Gid)) with { WriteLock = home };
            try
            {
                if (!record.Machines.Contains(_machine) &&
                    !_store.CompareAndPut(EtcdKeys.Region(key), EtcdJson.Write(record with { Machines = [.. record.Machines, _machine] }),
                        entry.ModRevision))
                {
                    _local.DeallocateRegion(process, handle);
                    return null;
                }

                if (fresh)
                {
                    CopyFromAnotherMachine(key, process.HostName);
                }

                PublishLocalCopies(key);
                return handle;
            }
            catch
            {
                _local.DeallocateRegion(process, handle); // imcd withdraws what this machine published of it
                throw;
            }
        }
        finally
        {
            writeLock.Exit();
        }
    }

    /// <summary>
    /// Fills <paramref name="host"/>'s copy of region <paramref name="key"/> from a copy on another machine (read
    /// through that machine's agent: the emulated NIC's reads).
    /// Under the region's write lock: no write is under way anywhere.
    /// </summary>
    /// <remarks>
    /// Only a copy whose host is still a receiver is current: a host that detached has withdrawn its receiver (under
    /// this lock), while its registered memory stays listed until its imcd withdraws it too, no longer written.
    /// </remarks>
    private void CopyFromAnotherMachine(int key, string host)
    {
        var (memories, _) = _store.List(EtcdKeys.MemoryOf(key));
        var (receivers, _) = _store.List(EtcdKeys.ReceiversOf(key));
        var current = receivers
            .Select(r => (Host: EtcdKeys.Last(r.Key), EtcdJson.Read<ReceiverRecord>(r).Memory))
            .ToHashSet();
        var sources = RemoteMemories(memories)
            .Where(m => current.Contains((m.Host, m.Record.Memory)))
            .Select(m => m.Remote)
            .ToList();
        if (sources.Count == 0)
        {
            return; // no machine keeps a copy any more: the contents went with them, and this copy starts from zeroes
        }

        var (name, length) = _local.ReceiveMemoryOf(key, host) ?? throw new DriverException(DriverStatus.McError,
            $"host '{host}' has no copy of coherent region key {key} on this machine after allocating it");
        using var file = _local.MapReceiveMemory(name, length);
        DriverException? failure = null;
        foreach (var source in sources)
        {
            try
            {
                unsafe
                {
                    _fabric.Value.Read(source, file.Pointer, Math.Min(length, source.Length), _standing);
                }

                return;
            }
            catch (DriverException e) when (_standing.IsCurrent)
            {
                failure = e; // that machine did not answer, or withdrew that copy meanwhile: another copy will do
            }
        }

        throw new DriverException(DriverStatus.McError,
            $"the contents of coherent region key {key} could not be read from any other machine: {failure!.Message}");
    }

    /// <summary>
    /// Publishes every copy this machine has of coherent region <paramref name="key"/> that the directory does not have
    /// yet (the allocating host's, when the machine had none). Under the region's write lock.
    /// </summary>
    private void PublishLocalCopies(int key)
    {
        foreach (var host in _local.UpHostNames().Where(h => _local.ReceiveMemoryOf(key, h) is not null))
        {
            PublishCopy(key, host);
        }
    }

    /// <summary>
    /// Publishes <paramref name="host"/>'s receive memory of region <paramref name="key"/> (its imcd registers it) and
    /// returns once every machine has applied it: every write issued from now on reaches it.
    /// </summary>
    /// <param name="key">The region's key.</param>
    /// <param name="host">The host whose copy (receive memory) it is, on this machine.</param>
    /// <param name="setAnyway">
    /// Write the receiver without reading it first (one round trip; writing it again to the same value changes nothing
    /// that matters): for a receive attach, whose memory is most often new.
    /// </param>
    private void PublishCopy(int key, string host, bool setAnyway = false)
    {
        var (memory, length) = _local.ReceiveMemoryOf(key, host) ?? throw new DriverException(DriverStatus.McError,
            $"host '{host}' has no receive memory of region key {key} on this machine to publish");
        var receiver = EtcdKeys.Receiver(key, host);
        var name = memory.ToString();
        if (setAnyway || !(_store.Get(receiver) is { } existing && EtcdJson.Read<ReceiverRecord>(existing).Memory == name))
        {
            SetBoundToMachine(receiver, EtcdJson.Write(new ReceiverRecord(_machine, name, length)));
        }

        WaitApplied(key, host, name);
    }

    /// <summary>
    /// The receive memories among <paramref name="memories"/> (memory/ entries) on other machines that are still in the
    /// cluster, with the host each belongs to.
    /// </summary>
    private List<(string Host, MemoryRecord Record, RemoteMemory Remote)> RemoteMemories(IReadOnlyCollection<EtcdEntry> memories)
    {
        var found = new List<(string, MemoryRecord, RemoteMemory)>();
        if (memories.Count == 0)
        {
            return found;
        }

        var (machines, _) = _store.List("machines/");
        var workers = machines.ToDictionary(m => EtcdKeys.Last(m.Key), m => EtcdJson.Read<MachineRecord>(m).Worker);
        foreach (var entry in memories)
        {
            var memory = EtcdJson.Read<MemoryRecord>(entry);
            if (memory.Machine != _machine && workers.TryGetValue(memory.Machine, out var worker))
            {
                found.Add((EtcdKeys.Last(entry.Key), memory, new RemoteMemory(memory.Machine, memory.Memory, Convert.FromBase64String(worker), memory.Id, memory.Rail,
                    memory.Length)));
            }
        }

        return found;
    }

    /// <summary>Adds this machine to region <paramref name="key"/>'s machines (compare-and-put on its record).</summary>
    private void AddThisMachine(int key)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var entry = _store.Get(EtcdKeys.Region(key)) ?? throw new DriverException(DriverStatus.McError,
                $"region key {key} left the directory while this process allocated it; retry");
            var record = EtcdJson.Read<RegionRecord>(entry);
            if (record.Machines.Contains(_machine) ||
                _store.CompareAndPut(EtcdKeys.Region(key), EtcdJson.Write(record with { Machines = [.. record.Machines, _machine] }),
                    entry.ModRevision))
            {
                return;
            }
        }

        throw new DriverException(DriverStatus.Timeout, $"region key {key} kept changing while this process allocated it; retry");
    }

    /// <summary>Takes this machine out of region <paramref name="key"/>, and the region out of etcd when no machine is left in it.</summary>
    private void TryWithdraw(int key)
    {
        try
        {
            EtcdRegions.Withdraw(_store, key, _machine, removeEmpty: true);
        }
        catch (DriverException)
        {
            // etcd unreachable: this machine's imcd withdraws it once it can (the region is not allocated here).
        }
    }
}
