using Interconnect.Driver.Directory.Etcd;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store;
using Microsoft.Extensions.Logging;

namespace Interconnect.Driver.Agent.Machine;

/// <summary>
/// This machine as the cluster knows it: its name (<c>machines/{machine}</c>), taken in one transaction under the
/// lease and unique in the cluster (a machine is known by the instance id in its own cluster folder); the epoch it is
/// in; its hosts' records, bound again to the lease when the agent restarts or rejoins; and the epochs of other
/// machines that ended, handed to the NIC, which refuses their writes from then on.
/// </summary>
internal sealed partial class Membership
{
    private readonly ClusterPaths _paths;
    private readonly string _machine;
    private readonly string _address;
    private readonly EtcdStore _store;
    private readonly ControlFileDirectory _local;
    private readonly IMachineNic _nic;
    private readonly LeaseKeeper _lease;
    private readonly PassReading _reading;
    private readonly ILogger _logger;
    private readonly string _instance;
    private long _epoch; // the epoch this machine is in: the lease it joined under (MachineRecord.Epoch)
    private HashSet<long> _liveEpochs = []; // every machine's epoch as the last pass read them
    private readonly HashSet<long> _endedEpochs = [];

    /// <summary>Reads (or makes) this machine's instance id (<see cref="ReadInstance"/>).</summary>
    public Membership(ClusterPaths paths, string machine, string address, EtcdStore store, ControlFileDirectory local,
        IMachineNic nic, LeaseKeeper lease, PassReading reading, ILogger logger)
    {
        _paths = paths;
        _machine = machine;
        _address = address;
        _store = store;
        _local = local;
        _nic = nic;
        _lease = lease;
        _reading = reading;
        _logger = logger;
        _instance = ReadInstance(paths);
    }

    private string MachineRecordValue() => EtcdJson.Write(new MachineRecord(_address, Convert.ToBase64String(_nic.Address), _lease.Id,
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
    public void ClaimName()
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var existing = _store.Get(EtcdKeys.Machine(_machine));
            var epoch = _lease.Id;
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
            if (_store.CompareAndPut(EtcdKeys.Machine(_machine), MachineRecordValue(), existing?.ModRevision ?? 0, _lease.Id))
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
    public bool HoldsLease() =>
        _reading.List("machines/").Entries.Any(e => EtcdKeys.Last(e.Key) == _machine && e.Lease == _lease.Id);

    /// <summary>
    /// Hosts that were up here before a restart are up again under the new lease. A restart is a leave and a join:
    /// writes toward this machine while no agent ran here were lost, and whatever the last agent had received but
    /// not yet applied, so every rail's count rises before anything is applied again (the NIC applies nothing
    /// before the memory is published anew, by the first pass).
    /// </summary>
    public void RestartHosts()
    {
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
            if (_epoch == _lease.Id)
            {
                // A new epoch (the earlier agent's lease had gone, or it was fenced): the cluster took this machine for
                // dead, so the processes of the old epoch are let go (each gets NotInitialized once), as at a rejoin.
                _local.TakeHostDown(host);
            }

            _ = _local.InitializeHost(host, null, null);
            RepublishHost(host);
        }
    }

    /// <summary>A host that was up here before this agent started: bound again to this agent's lease.</summary>
    public void RepublishHost(string host)
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
                [(EtcdKeys.Host(host), EtcdJson.Write(new HostRecord(_machine, slot, 0)), _lease.Id), (EtcdKeys.Slot(slot), host, _lease.Id)]))
            {
                return;
            }
        }
    }

    /// <summary>Takes every host up here down (each a host leave); one that cannot be is logged and left.</summary>
    public void TakeHostsDown()
    {
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
    }

    /// <summary>
    /// Notes the epochs that ended since the last pass (a machine left, was taken for dead, or joined again under a new
    /// epoch) and hands them to the NIC, which refuses writes of an ended epoch from then on.
    /// </summary>
    public void TrackEpochs()
    {
        var live = _reading.List("machines/").Entries.Select(e => EtcdJson.Read<MachineRecord>(e).Epoch).Where(e => e != 0).ToHashSet();
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

    private static bool IsAlive(int pid) => System.IO.Directory.Exists($"/proc/{pid}");

    [LoggerMessage(Level = LogLevel.Information, Message = "machine '{Machine}' restarted with {Hosts} hosts up: its error counts rose " +
        "(writes toward them while no imcd ran here were lost)")]
    private static partial void RestartCounted(ILogger logger, string machine, int hosts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "host '{Host}' could not be taken down: {Reason}")]
    private static partial void HostNotTakenDown(ILogger logger, string host, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "epoch {Epoch:x} ended: writes of that epoch are refused here")]
    private static partial void EpochEnded(ILogger logger, long epoch);
}
