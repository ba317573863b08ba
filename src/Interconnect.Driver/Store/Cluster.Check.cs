using Interconnect.Driver.Fabric;
using Interconnect.Driver.Status;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// The cluster's invariants, checked entry by entry without the directory lock (imcs --check). A reading counts only
/// when the directory was free and unchanged from its start to its end; otherwise it is taken again.
/// </summary>
internal sealed partial class Cluster
{
    public CheckReport Check(TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            ref var header = ref Control.Header;
            var owner = Volatile.Read(ref header.DirectoryOwner);
            var changes = Volatile.Read(ref header.DirectoryChanges);
            var busy = owner != 0 && ProcessIdentity.IsLockValueAlive(owner);
            if (!busy)
            {
                var report = CheckOnce();
                // Volatile: re-read after the whole scan; an unchanged count means nothing moved under it.
                if (Volatile.Read(ref header.DirectoryChanges) == changes && Volatile.Read(ref header.DirectoryOwner) == owner)
                {
                    return report;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                return new CheckReport([], [], Busy: true);
            }

            Thread.Sleep(1);
        }
    }

    private CheckReport CheckOnce()
    {
        var violations = new List<string>();
        var awaiting = new List<string>();
        ref var header = ref Control.Header;

        var owner = Volatile.Read(ref header.DirectoryOwner);
        if (owner != 0 && !ProcessIdentity.IsLockValueAlive(owner))
        {
            awaiting.Add($"the directory lock is held by process {owner >>> 32}, which died");
        }

        var liveProcess = new bool[ControlLayout.MaxProcesses];
        for (var p = 0; p < ControlLayout.MaxProcesses; p++)
        {
            ref var process = ref Control.Process(p);
            if (process.State == ProcessEntry.StateFree)
            {
                continue;
            }

            if (process.State != ProcessEntry.StateLive)
            {
                violations.Add($"process entry {p} has unknown state {process.State}");
                continue;
            }

            if (!IsHostUp(process.Host))
            {
                violations.Add($"process {process.Pid} (entry {p}) belongs to host entry {process.Host}, which is not up");
            }

            if (ProcessIdentity.IsAlive(process.Pid, process.StartTime))
            {
                liveProcess[p] = true;
            }
            else
            {
                awaiting.Add($"process {process.Pid} on host '{SafeHostName(process.Host)}' died; what it holds awaits reclamation");
            }
        }

        for (var h = 0; h < ControlLayout.MaxHosts; h++)
        {
            ref var host = ref Control.Host(h);
            if (host.State is HostEntry.StateUp or HostEntry.StateDown && !ClusterPaths.IsValidName(SafeHostName(h)))
            {
                violations.Add($"host entry {h} has an invalid name");
            }
            else if (host.State is not (HostEntry.StateFree or HostEntry.StateUp or HostEntry.StateDown))
            {
                violations.Add($"host entry {h} has unknown state {host.State}");
            }
        }

        CheckAttachments(violations, liveProcess);
        CheckRegions(violations);
        CheckLockSets(violations, awaiting);
        CheckFiles(violations);

        var allocated = TotalAllocated();
        if (allocated > header.MaxAllocBytes)
        {
            violations.Add($"{allocated} bytes are allocated, over maxalloc {header.MaxAllocBytes}");
        }

        return new CheckReport(violations, awaiting);
    }

    private string SafeHostName(int host) => (uint)host < ControlLayout.MaxHosts ? HostName(host) : $"#{host}";

    private void CheckAttachments(List<string> violations, bool[] liveProcess)
    {
        for (var i = 0; i < ControlLayout.MaxAttachments; i++)
        {
            ref var a = ref Control.Attachment(i);
            if (a.State == AttachmentEntry.StateFree)
            {
                continue;
            }

            if (a.State != AttachmentEntry.StateLive || a.Kind is < AttachmentEntry.KindAllocation or > AttachmentEntry.KindLockSet)
            {
                violations.Add($"attachment entry {i} has unknown state {a.State} or kind {a.Kind}");
                continue;
            }

            if ((uint)a.Process >= ControlLayout.MaxProcesses || Control.Process(a.Process).State != ProcessEntry.StateLive)
            {
                violations.Add($"attachment entry {i} belongs to process entry {a.Process}, which is not registered");
            }

            var targetLive = a.Kind == AttachmentEntry.KindLockSet
                ? (uint)a.Target < ControlLayout.MaxLockSets && IsLockSetLive(a.Target, a.TargetId)
                : (uint)a.Target < ControlLayout.MaxRegions && IsRegionLive(a.Target, a.TargetId);
            if (!targetLive)
            {
                violations.Add($"attachment entry {i} refers to {(a.Kind == AttachmentEntry.KindLockSet ? "lock set" : "region")} " +
                    $"id {a.TargetId}, which does not exist");
            }

            if (a.Kind == AttachmentEntry.KindTransmitPointToPoint && !IsHostUp(a.TargetHost))
            {
                violations.Add($"attachment entry {i} transmits point-to-point to host entry {a.TargetHost}, which is not up");
            }
        }
    }

    private void CheckRegions(List<string> violations)
    {
        var keys = new HashSet<int>();
        for (var slot = 0; slot < ControlLayout.MaxRegions; slot++)
        {
            ref var r = ref Control.Region(slot);
            if (r.State == RegionEntry.StateFree)
            {
                continue;
            }

            if (r.State != RegionEntry.StateLive)
            {
                violations.Add($"region entry {slot} has unknown state {r.State}");
                continue;
            }

            var name = $"region key {r.Key} (id {r.Id})";
            if (!keys.Add(r.Key))
            {
                violations.Add($"{name}: another live region has the same key");
            }

            if (r.RegionSize <= 0 || r.RegionSize > ControlFileDirectory.MaxRegionSize || (uint)r.LogicalRail >= (uint)Control.Header.LogicalRails)
            {
                violations.Add($"{name}: size {r.RegionSize} or logical rail {r.LogicalRail} is out of range");
            }

            if (!AttachmentsOf(slot, r.Id, static k => k == AttachmentEntry.KindAllocation).Any())
            {
                violations.Add($"{name} is allocated by no process");
            }

            var coherent = (r.Flags & RegionEntry.FlagCoherent) != 0;
            if (coherent && r.ReceiveFileMask == 0)
            {
                violations.Add($"{name} is coherent but no host keeps a copy of its contents");
            }

            for (var host = 0; host < ControlLayout.MaxHosts; host++)
            {
                var hasFile = (r.ReceiveFileMask & (1u << host)) != 0;
                var hasReceive = HostHasReceive(slot, r.Id, host);
                if (hasReceive && !hasFile)
                {
                    violations.Add($"{name} is attached for receive on host '{SafeHostName(host)}', which has no receive file");
                }
                else if (hasFile && !hasReceive && !coherent)
                {
                    violations.Add($"{name} has a receive file for host '{SafeHostName(host)}', which has no receive attach");
                }

                if (hasFile)
                {
                    CheckReceiveFile(violations, name, new ReceiveFileName(r.Id, host, FileEpoch(ref r, host)),
                        PageRounded(r.RegionSize), Credentials.FileMode(r.Permissions));
                }
            }
        }
    }

    private void CheckReceiveFile(List<string> violations, string region, ReceiveFileName file, long size, int mode)
    {
        if (Fabric.Inspect(file) is not { } info)
        {
            violations.Add($"{region}: receive file {Fabric.Where(file)} is missing");
            return;
        }

        if (info.Length != size)
        {
            violations.Add($"{region}: receive file {info.Where} is {info.Length} bytes, expected {size}");
        }

        if (info.Mode != mode)
        {
            violations.Add($"{region}: receive file {info.Where} has mode {Convert.ToString(info.Mode, 8)}, expected {Convert.ToString(mode, 8)}");
        }
    }

    private unsafe void CheckLockSets(List<string> violations, List<string> awaiting)
    {
        var locks = 0L;
        var keys = new HashSet<int>();
        for (var slot = 0; slot < ControlLayout.MaxLockSets; slot++)
        {
            ref var set = ref Control.LockSet(slot);
            if (set.State == LockSetEntry.StateFree)
            {
                continue;
            }

            var name = $"lock set key {set.Key} (id {set.Id})";
            if (set.State != LockSetEntry.StateLive || set.Count is < 1 or > ControlFileDirectory.MaxLocksPerSet)
            {
                violations.Add($"{name}: state {set.State}, {set.Count} locks");
                continue;
            }

            if (!keys.Add(set.Key))
            {
                violations.Add($"{name}: another live lock set has the same key");
            }

            var id = set.Id;
            if (!Enumerable.Range(0, ControlLayout.MaxAttachments).Any(i =>
                Control.Attachment(i).State == AttachmentEntry.StateLive && Control.Attachment(i).Kind == AttachmentEntry.KindLockSet &&
                Control.Attachment(i).Target == slot && Control.Attachment(i).TargetId == id))
            {
                violations.Add($"{name} is allocated by no process");
            }

            locks += set.Count;
            var words = LockWordsOf(slot, out var unreachable);
            if (unreachable is { Status: not DriverStatus.Permit })
            {
                violations.Add($"{name}: its words cannot be mapped: {unreachable.Message}");
            }

            for (var i = 0; words is not null && i < set.Count; i++)
            {
                var holder = Volatile.Read(ref words[i].Owner);
                if (holder == 0)
                {
                    continue;
                }

                var process = (int)(holder & 0xffff_ffff) - 1;
                if ((uint)process >= ControlLayout.MaxProcesses || Control.Process(process).State != ProcessEntry.StateLive ||
                    Control.Process(process).Incarnation != (int)(holder >>> 32))
                {
                    violations.Add($"{name}: lock {i} is held by {holder:x}, which is no registered process");
                }
                else if (!IsLockOwnerAlive(holder))
                {
                    awaiting.Add($"{name}: lock {i} is held by process {Control.Process(process).Pid}, which died");
                }
            }
        }

        if (locks > ControlLayout.MaxLocks)
        {
            violations.Add($"lock sets hold {locks} locks, over the cluster's {ControlLayout.MaxLocks}");
        }
    }

    private void CheckFiles(List<string> violations)
    {
        foreach (var (path, name) in Fabric.Inventory())
        {
            if (name is null)
            {
                violations.Add($"{path} is not a receive file");
            }
            else if (!IsKnownFile(name.Value))
            {
                violations.Add($"receive file {path} belongs to no region the directory knows");
            }
        }
    }
}
