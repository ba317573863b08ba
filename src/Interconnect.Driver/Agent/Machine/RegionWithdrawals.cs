using Interconnect.Driver.Directory.Etcd;
using Interconnect.Driver.Store;

namespace Interconnect.Driver.Agent.Machine;

/// <summary>
/// The machines a region's record names, kept true: this machine is taken out of the regions it no longer has
/// allocated (the deallocating process does so itself; this catches one that died first), and machines that left are
/// taken out of every region.
/// </summary>
internal sealed class RegionWithdrawals
{
    private readonly string _machine;
    private readonly EtcdStore _store;
    private readonly ControlFileDirectory _local;
    private readonly PassReading _reading;
    private HashSet<int>? _allocatedSeen; // the regions allocated here as last withdrawn from; null before the first

    public RegionWithdrawals(string machine, EtcdStore store, ControlFileDirectory local, PassReading reading)
    {
        _machine = machine;
        _store = store;
        _local = local;
        _reading = reading;
    }

    /// <summary>Takes this machine (and machines that left) out of the regions it no longer has allocated.</summary>
    public void Withdraw()
    {
        var (machines, _) = _reading.List("machines/");
        var live = machines.Select(m => EtcdKeys.Last(m.Key)).ToHashSet();
        var allocated = _local.AllocatedKeys();
        _allocatedSeen = allocated;
        var (regions, _) = _reading.List("regions/");
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

    /// <summary>True when the regions allocated here changed since <see cref="Withdraw"/> last looked, read from the control file alone.</summary>
    public bool AllocationChanged() => _allocatedSeen is not null && !_local.AllocatedKeys().SetEquals(_allocatedSeen);
}
