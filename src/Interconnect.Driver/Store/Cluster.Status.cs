using Interconnect.Driver.Status;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// Reading the whole cluster for <c>imcs</c>: entry by entry, without the directory lock (so no writer or directory
/// operation ever waits for it) and, when the control file is mapped read-only, without any way to change it.
/// </summary>
internal sealed partial class Cluster
{
    public unsafe ClusterStatus ReadStatus()
    {
        ref var header = ref Control.Header;
        var names = new AccountNames();
        var processes = new Dictionary<int, (int Pid, int Host, bool Alive, int Uid)>();
        for (var p = 0; p < ControlLayout.MaxProcesses; p++)
        {
            ref var process = ref Control.Process(p);
            if (Volatile.Read(ref process.State) == ProcessEntry.StateLive)
            {
                processes[p] = (process.Pid, process.Host, ProcessIdentity.IsAlive(process.Pid, process.StartTime), process.Uid);
            }
        }

        string HostOf(int slot) => (uint)slot < ControlLayout.MaxHosts ? HostName(slot) : $"#{slot}";
        AttachStatus Attach(ref AttachmentEntry a)
        {
            var owner = processes.TryGetValue(a.Process, out var p) ? p : (Pid: 0, Host: -1, Alive: false, Uid: -1);
            return new AttachStatus(HostOf(owner.Host), owner.Pid, owner.Alive, (a.Flags & AttachmentEntry.FlagLoopback) != 0,
                a.Kind == AttachmentEntry.KindTransmitPointToPoint ? HostOf(a.TargetHost) : null, a.ShareMode != 0);
        }

        var attachments = new List<(int Kind, int Target, long Id, AttachStatus Status)>();
        for (var i = 0; i < ControlLayout.MaxAttachments; i++)
        {
            ref var a = ref Control.Attachment(i);
            if (Volatile.Read(ref a.State) == AttachmentEntry.StateLive)
            {
                attachments.Add((a.Kind, a.Target, a.TargetId, Attach(ref a)));
            }
        }

        List<AttachStatus> Of(int target, long id, params int[] kinds) =>
            [.. attachments.Where(a => a.Target == target && a.Id == id && kinds.Contains(a.Kind)).Select(a => a.Status)];

        var regions = new List<RegionStatus>();
        for (var slot = 0; slot < ControlLayout.MaxRegions; slot++)
        {
            ref var r = ref Control.Region(slot);
            if (Volatile.Read(ref r.State) != RegionEntry.StateLive)
            {
                continue;
            }

            regions.Add(new RegionStatus(r.Id, r.Key, r.RegionSize, ControlFileDirectory.ModeString(r.Permissions),
                names.User(r.OwnerUid), names.Group(r.OwnerGid), r.LogicalRail, (r.Flags & RegionEntry.FlagCoherent) != 0,
                Of(slot, r.Id, AttachmentEntry.KindAllocation),
                Of(slot, r.Id, AttachmentEntry.KindTransmit, AttachmentEntry.KindTransmitPointToPoint),
                Of(slot, r.Id, AttachmentEntry.KindReceive)));
        }

        var lockSets = new List<LockSetStatus>();
        for (var slot = 0; slot < ControlLayout.MaxLockSets; slot++)
        {
            ref var set = ref Control.LockSet(slot);
            if (Volatile.Read(ref set.State) != LockSetEntry.StateLive)
            {
                continue;
            }

            var held = new List<HeldLock>();
            var words = LockWordsOf(slot); // null when this user may not map the set's words: no holders shown
            for (var i = 0; words is not null && i < set.Count; i++)
            {
                var owner = Volatile.Read(ref words[i].Owner);
                if (owner != 0)
                {
                    var process = processes.TryGetValue((int)(owner & 0xffff_ffff) - 1, out var p) ? p : (Pid: 0, Host: -1, Alive: false, Uid: -1);
                    held.Add(new HeldLock(i, HostOf(process.Host), process.Pid, process.Alive));
                }
            }

            lockSets.Add(new LockSetStatus(set.Id, set.Key, set.Count, ControlFileDirectory.LockModeString(set.Permissions),
                names.User(set.OwnerUid), names.Group(set.OwnerGid), Of(slot, set.Id, AttachmentEntry.KindLockSet), held));
        }

        var hosts = new List<HostStatus>();
        for (var h = 0; h < ControlLayout.MaxHosts; h++)
        {
            ref var host = ref Control.Host(h);
            var state = Volatile.Read(ref host.State);
            if (state == HostEntry.StateFree)
            {
                continue;
            }

            hosts.Add(new HostStatus(HostName(h), state == HostEntry.StateUp ? "up" : "down", host.MaxRecvBytes,
                HostReceiveUsed(h), [.. processes.Values.Where(p => p.Host == h).Select(p => p.Pid).Order()]));
        }

        return new ClusterStatus(Paths.Cluster, Paths.ClusterDirectory, header.Version,
            DateTimeOffset.FromUnixTimeMilliseconds(header.CreatedUnixMs), header.MaxAllocBytes, TotalAllocated(),
            ControlLayout.FileSize + WordsLayout.FileSize, header.PhysicalRails, header.RailStyle, header.LogicalRails, header.ErrorWindowMs,
            hosts, [.. processes.Values.Select(p => new ProcessStatus(p.Pid, HostOf(p.Host), p.Uid, p.Alive))],
            regions, lockSets, ReadRails());
    }
}
