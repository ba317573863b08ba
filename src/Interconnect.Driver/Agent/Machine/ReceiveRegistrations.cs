using Interconnect.Driver.Directory.Etcd;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store;
using Microsoft.Extensions.Logging;

namespace Interconnect.Driver.Agent.Machine;

/// <summary>
/// The machine's receive memory as the network sees it, and every machine's as applied here. Each receive file a local
/// host attached is mapped, published to the NIC and in etcd (<c>memory/{key}/{host}</c>), and withdrawn (refused by
/// the NIC, unmapped, its record deleted) when its receiver goes. Every machine's memory is applied to this machine's
/// control file (the region's generation moves, so local writers re-read their routes) and then acknowledged, which an
/// attach for receive waits for. A watched change is applied alone (<see cref="Apply"/>); a pass re-reads them all and
/// converges (<see cref="PublishReceivers"/>, <see cref="ApplyMemory()"/>).
/// </summary>
internal sealed partial class ReceiveRegistrations : IDisposable
{
    private readonly string _machine;
    private readonly EtcdStore _store;
    private readonly ControlFileDirectory _local;
    private readonly IMachineNic _nic;
    private readonly LeaseKeeper _lease;
    private readonly PassReading _reading;
    private readonly ILogger _logger;

    // Registered receive memory by name, and what this machine has applied of every machine's memory (the revision of
    // memory/{key}/{host}).
    private readonly Dictionary<string, Registered> _registered = [];
    private readonly Dictionary<(int Key, string Host), long> _applied = [];

    // The revisions at which the last pass read receivers/ and memory/: a change at or before them is in that reading.
    private long _receiversRead;
    private long _memoryRead;

    public ReceiveRegistrations(string machine, EtcdStore store, ControlFileDirectory local, IMachineNic nic, LeaseKeeper lease,
        PassReading reading, ILogger logger)
    {
        _machine = machine;
        _store = store;
        _local = local;
        _nic = nic;
        _lease = lease;
        _reading = reading;
        _logger = logger;
    }

    /// <summary>
    /// A pass read receivers/ and memory/ at <paramref name="revision"/>: a change at or before it is skipped, as the
    /// reading holds it.
    /// </summary>
    public void ReadAt(long revision)
    {
        _receiversRead = revision;
        _memoryRead = revision;
    }

    /// <summary>Registers each receive memory that a local host attached, and withdraws those that went.</summary>
    public void PublishReceivers()
    {
        var (receivers, revision) = _reading.List("receivers/");
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

        if (entry.Lease != _lease.Id)
        {
            // Published under an earlier agent's lease (this agent restarted): bind it to this one's.
            _store.Set(entry.Key, entry.Value, _lease.Id);
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
            var revision = _store.SetAll(_lease.Id,
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
    public void ApplyMemory()
    {
        var (memories, revision) = _reading.List("memory/");
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
        _store.Set(EtcdKeys.Ack(key, host, _machine), revision.ToString(System.Globalization.CultureInfo.InvariantCulture), _lease.Id);
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

    /// <summary>
    /// Applies one receiver or memory change alone: a receiver of this machine is registered (or withdrawn), a memory
    /// anywhere is applied (or unapplied) and acknowledged. A change that the last pass's reading already held is skipped.
    /// </summary>
    public void Apply(EtcdChange change)
    {
        var entry = change.Entry;
        if (!EtcdKeys.TryParseKeyHost(entry.Key, out var key, out var host))
        {
            return;
        }

        if (entry.Key.StartsWith("receivers/", StringComparison.Ordinal))
        {
            if (entry.ModRevision <= _receiversRead)
            {
                return;
            }

            if (change.Deleted)
            {
                foreach (var name in _registered.Where(r => r.Value.RegionKey == key && r.Value.Host == host).Select(r => r.Key).ToList())
                {
                    WithdrawMemory(name);
                }
            }
            else if (EtcdJson.Read<ReceiverRecord>(entry) is { } record && record.Machine == _machine)
            {
                _ = PublishReceiver(entry, record, key, host);
            }
        }
        else if (entry.ModRevision > _memoryRead)
        {
            if (change.Deleted)
            {
                UnapplyMemory(key, host, entry.ModRevision);
            }
            else
            {
                ApplyMemory(key, host, entry.ModRevision);
            }
        }
    }

    /// <summary>
    /// True when a receive memory registered here has lost its attachers in the control file (a process died before it
    /// could say so in etcd): <see cref="PublishReceivers"/> withdraws it, from a reading of receivers/.
    /// </summary>
    public bool AnyAttachersGone()
    {
        foreach (var (name, registered) in _registered)
        {
            if (_local.ReceiveMemoryOf(registered.RegionKey, registered.Host) is not { } memory || memory.Memory.ToString() != name)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Forgets what was applied here (a rejoin): the next pass applies and acknowledges every memory again.</summary>
    public void ForgetApplied() => _applied.Clear();

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

    /// <summary>Unmaps every registered memory: only once the NIC is gone (its progress thread stopped).</summary>
    public void Dispose()
    {
        foreach (var memory in _registered.Values)
        {
            memory.Dispose();
        }
    }

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

    [LoggerMessage(Level = LogLevel.Debug, Message = "registered {Memory} for host '{Host}' (region key {Key})")]
    private static partial void MemoryRegistered(ILogger logger, string memory, string host, int key);
}
