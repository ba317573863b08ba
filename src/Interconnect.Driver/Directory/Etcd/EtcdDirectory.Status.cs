using Interconnect.Driver.Status;
using Interconnect.Driver.Store;

namespace Interconnect.Driver.Directory.Etcd;

/// <summary>
/// <c>imcs</c> across machines: this machine's control file completed from the directory, and <c>imcs --check</c>'s
/// comparison of the two.
/// </summary>
internal sealed partial class EtcdDirectory
{
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The whole cluster as seen from this machine: its control file (its hosts, processes, rails, and the attaches of
    /// its processes), every machine and its hosts, for each region the other machines that have it allocated and its
    /// receivers there, the regions that only other machines have, and the lock sets across machines with their users
    /// and held locks (read from the home machine's words).
    /// </summary>
    public ClusterStatus ReadStatus()
    {
        var local = _local.ReadStatus();
        var names = new AccountNames();
        IReadOnlyList<EtcdEntry> machines;
        try
        {
            (machines, _) = _store.List("machines/");
        }
        catch (DriverException e) when (_local.IsFenced)
        {
            throw FencedFailure(_machine, e);
        }

        var (hosts, _) = _store.List("hosts/");
        var (regions, _) = _store.List("regions/");
        var (memories, _) = _store.List("memory/");

        var elsewhere = new List<(int Key, AttachStatus Receiver)>();
        foreach (var entry in memories)
        {
            var memory = EtcdJson.Read<MemoryRecord>(entry);
            if (memory.Machine != _machine && EtcdKeys.TryParseKeyHost(entry.Key, out var key, out var host))
            {
                elsewhere.Add((key, new AttachStatus(host, 0, true, false, null, false) { Machine = memory.Machine }));
            }
        }

        var receivers = elsewhere.ToLookup(r => r.Key, r => r.Receiver);
        var records = regions.Select(e => (Key: int.Parse(EtcdKeys.Last(e.Key), System.Globalization.CultureInfo.InvariantCulture),
            Record: EtcdJson.Read<RegionRecord>(e))).ToDictionary(r => r.Key, r => r.Record);
        var statuses = local.Regions.Select(r => r with
        {
            Allocations = [.. r.Allocations, .. MachinesOf(records.GetValueOrDefault(r.Key))],
            Receive = [.. r.Receive, .. receivers[r.Key]],
        }).ToList();
        foreach (var (key, record) in records.Where(r => local.Regions.All(l => l.Key != r.Key)))
        {
            statuses.Add(new RegionStatus(0, key, record.Size, ControlFileDirectory.ModeString(record.Permissions), names.User(record.Uid),
                names.Group(record.Gid), record.Rail, record.Coherent, MachinesOf(record), [], [.. receivers[key]]));
        }

        var byMachine = hosts.Select(h => (Host: EtcdKeys.Last(h.Key), Record: EtcdJson.Read<HostRecord>(h)))
            .OrderBy(h => h.Record.Slot).ToLookup(h => h.Record.Machine, h => h.Host);
        return local with
        {
            Regions = statuses,
            LockSets = [.. local.LockSets, .. ReadLockSets(names)],
            Machines = [.. machines.Select(m => (Name: EtcdKeys.Last(m.Key), Record: EtcdJson.Read<MachineRecord>(m)))
                .OrderBy(m => m.Name, StringComparer.Ordinal)
                .Select(m => new MachineStatus(m.Name, m.Record.Address, m.Name == _machine && _local.IsFenced ? "fenced" : "up",
                    [.. byMachine[m.Name]], m.Record.Epoch))],
        };

        List<AttachStatus> MachinesOf(RegionRecord? record) =>
            record is null ? [] : [.. record.Machines.Where(m => m != _machine).Select(m => new AttachStatus("", 0, true, false, null, false) { Machine = m })];
    }

    /// <summary>The lock sets across machines: users from the directory, held locks from the words in their home's arena.</summary>
    private List<LockSetStatus> ReadLockSets(AccountNames names)
    {
        var (sets, _) = _store.List("locksets/");
        if (sets.Count == 0)
        {
            return [];
        }

        var (users, _) = _store.List("lockusers/");
        var (owners, _) = _store.List("owners/");
        var byOwner = owners.ToDictionary(o => EtcdKeys.Last(o.Key), o => EtcdJson.Read<OwnerRecord>(o));
        var statuses = new List<LockSetStatus>();
        foreach (var entry in sets)
        {
            var key = int.Parse(EtcdKeys.Last(entry.Key), System.Globalization.CultureInfo.InvariantCulture);
            var record = EtcdJson.Read<LockSetRecord>(entry);
            var setUsers = users.Where(u => EtcdKeys.TryParseKeyHost(u.Key, out var k, out _) && k == key)
                .Select(u => byOwner.TryGetValue(EtcdKeys.Last(u.Key), out var owner)
                    ? new AttachStatus(owner.Host, owner.Pid, true, false, null, false) { Machine = owner.Machine }
                    : new AttachStatus("?", 0, false, false, null, false) { Machine = u.Value })
                .ToList();
            var held = new List<HeldLock>();
            var unknown = false;
            try
            {
                var words = new long[record.Count];
                using (var arena = OpenWords(record.Home))
                {
                    arena.Read(record.First, words);
                }

                for (var i = 0; i < words.Length; i++)
                {
                    if (words[i] != 0)
                    {
                        held.Add(byOwner.TryGetValue(EtcdKeys.Owner(words[i]), out var owner)
                            ? new HeldLock(i, owner.Host, owner.Pid, true)
                            : new HeldLock(i, "?", 0, false)); // its holder is gone: the next acquirer takes it over
                    }
                }
            }
            catch (DriverException)
            {
                unknown = true;
            }

            statuses.Add(new LockSetStatus(0, key, record.Count, ControlFileDirectory.LockModeString(record.Permissions),
                names.User(record.Uid), names.Group(record.Gid), setUsers, held) { Home = record.Home, HeldUnknown = unknown });
        }

        return statuses;
    }

    /// <summary>
    /// This machine's control file checked as on one machine, then against the directory: this machine and its hosts,
    /// its regions, its receive memories and what it has applied of every machine's. A difference is reported only
    /// when it is still there after a moment (an operation under way is not a violation).
    /// </summary>
    public CheckReport Check(TimeSpan patience)
    {
        var local = _local.Check(patience);
        if (local.Busy)
        {
            return local;
        }

        var differences = Differences();
        if (differences.Count > 0)
        {
            Thread.Sleep(patience < s_settle ? patience : s_settle);
            differences = [.. differences.Intersect(Differences())];
        }

        return local with { Violations = [.. local.Violations, .. differences] };
    }

    /// <summary>Where this machine's control file and the directory disagree now.</summary>
    private List<string> Differences()
    {
        var found = new List<string>();
        if (_store.Get(EtcdKeys.Machine(_machine)) is null)
        {
            found.Add($"machine '{_machine}' is not in the directory: its imcd is not running");
        }

        var (localHosts, allocated, localMemories) = _local.ReadHoldings();
        var (hosts, _) = _store.List("hosts/");
        var mine = hosts.Select(h => (Host: EtcdKeys.Last(h.Key), Record: EtcdJson.Read<HostRecord>(h)))
            .Where(h => h.Record.Machine == _machine).ToList();
        found.AddRange(localHosts.Where(h => mine.All(m => m.Host != h))
            .Select(h => $"host '{h}' is up in this machine's control file but not in the directory on this machine"));
        found.AddRange(mine.Where(m => !localHosts.Contains(m.Host))
            .Select(m => $"host '{m.Host}' is in the directory on this machine but not up in its control file"));
        foreach (var (host, record) in mine)
        {
            if (_store.Get(EtcdKeys.Slot(record.Slot))?.Value != host)
            {
                found.Add($"host '{host}' has number {record.Slot}, but the directory's slot {record.Slot} does not name it");
            }
        }

        var (regions, _) = _store.List("regions/");
        var inDirectory = regions.ToDictionary(r => int.Parse(EtcdKeys.Last(r.Key), System.Globalization.CultureInfo.InvariantCulture),
            r => EtcdJson.Read<RegionRecord>(r));
        foreach (var key in allocated)
        {
            if (!inDirectory.TryGetValue(key, out var record) || !record.Machines.Contains(_machine))
            {
                found.Add($"region key {key} is allocated here but the directory does not list this machine for it");
            }
            else if (record.Coherent && record.WriteLock is null)
            {
                found.Add($"coherent region key {key} has no write lock in the directory");
            }

            foreach (var ((_, host), name) in localMemories.Where(m => m.Key.Key == key))
            {
                var receiver = _store.Get(EtcdKeys.Receiver(key, host));
                var published = _store.Get(EtcdKeys.Memory(key, host));
                if (receiver is null || EtcdJson.Read<ReceiverRecord>(receiver).Memory != name ||
                    published is null || EtcdJson.Read<MemoryRecord>(published).Memory != name)
                {
                    found.Add($"host '{host}''s receive memory {name} of region key {key} is not published in the directory " +
                        "(other machines' writes do not reach it)");
                }
            }
        }

        found.AddRange(inDirectory.Where(r => r.Value.Machines.Contains(_machine) && !allocated.Contains(r.Key))
            .Select(r => $"the directory lists this machine for region key {r.Key}, which is not allocated here"));

        var (memories, _) = _store.List("memory/");
        foreach (var entry in memories)
        {
            if (EtcdKeys.TryParseKeyHost(entry.Key, out var key, out var host) &&
                !(_store.Get(EtcdKeys.Ack(key, host, _machine)) is { } ack && Acknowledges(ack, entry)))
            {
                found.Add($"host '{host}''s receive memory of region key {key} is not applied on this machine (writers here miss it)");
            }
        }

        return found;
    }
}
