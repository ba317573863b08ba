using Interconnect.Driver.Directory;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// What a directory across machines (<see cref="Directory.Etcd.EtcdDirectory"/>) and the machine's agent (imcd) need
/// of this machine's control file, which mirrors the cluster for the local fast path.
/// </summary>
internal sealed partial class ControlFileDirectory
{
    /// <summary>
    /// A point-to-point transmit attach toward a host on another machine, numbered <paramref name="remoteHost"/> by the
    /// cluster: recorded here like any other (its counters and hot words are this machine's), its route found elsewhere.
    /// </summary>
    internal TransmitAttachment AttachTransmitToRemote(ProcessRegistration process, RegionHandle handle, bool nonShared, int remoteHost)
    {
        using var scope = EnterRegistered(process);
        if (_cluster.IsHostUp(remoteHost))
        {
            throw new DriverException(DriverStatus.BadHost,
                $"host number {remoteHost} is up on this machine, not on another: attach to it by name");
        }

        if (handle.Coherent)
        {
            throw new DriverException(DriverStatus.CoherencyError,
                $"region key {handle.Key} is coherent: its writes go to every host, so it cannot be attached point-to-point");
        }

        CheckTransmit(process, handle, nonShared);
        var attachment = _cluster.AddAttachment(process.Slot, AttachmentEntry.KindTransmitPointToPoint, handle.Slot, handle.Id,
            shareMode: nonShared ? 1 : 0, targetHost: remoteHost);
        return new TransmitAttachment(attachment, remoteHost, Loopback: false, HeldWordsOf(handle, attachment));
    }

    /// <summary>
    /// Moves the generation of the region of <paramref name="key"/>, if it is allocated on this machine, so that its
    /// writers re-read their routes; false when it is not.
    /// </summary>
    internal bool BumpRegionGeneration(int key)
    {
        using (_cluster.EnterDirectory())
        {
            var slot = _cluster.FindRegionByKey(key);
            if (slot < 0)
            {
                return false;
            }

            Cluster.BumpGeneration(ref _cluster.Control.Region(slot));
            return true;
        }
    }

    /// <summary>The logical rail of region <paramref name="key"/> on this machine, or -1 when it is not allocated here.</summary>
    internal int LogicalRailOf(int key)
    {
        using (_cluster.EnterDirectory())
        {
            var slot = _cluster.FindRegionByKey(key);
            return slot < 0 ? -1 : _cluster.Control.Region(slot).LogicalRail;
        }
    }

    /// <summary>The receive memory that <paramref name="host"/> has on this machine for region <paramref name="key"/>, if any.</summary>
    internal (ReceiveFileName Memory, long Length)? ReceiveMemoryOf(int key, string host)
    {
        using (_cluster.EnterDirectory())
        {
            var slot = _cluster.FindRegionByKey(key);
            var hostSlot = _cluster.FindHost(host);
            if (slot < 0 || hostSlot < 0 || (_cluster.Control.Region(slot).ReceiveFileMask & (1u << hostSlot)) == 0)
            {
                return null;
            }

            return (_cluster.FileName(slot, hostSlot), _cluster.PageRounded(_cluster.Control.Region(slot).RegionSize));
        }
    }

    /// <summary>The keys of the regions allocated on this machine now.</summary>
    internal HashSet<int> AllocatedKeys()
    {
        using (_cluster.EnterDirectory())
        {
            var keys = new HashSet<int>();
            for (var slot = 0; slot < ControlLayout.MaxRegions; slot++)
            {
                ref var region = ref _cluster.Control.Region(slot);
                if (region.State == RegionEntry.StateLive)
                {
                    keys.Add(region.Key);
                }
            }

            return keys;
        }
    }

    /// <summary>The number of host <paramref name="host"/> when it is up on this machine; -1 otherwise.</summary>
    internal int UpHostSlot(string host)
    {
        using (_cluster.EnterDirectory())
        {
            var slot = _cluster.FindHost(host);
            return slot >= 0 && _cluster.IsHostUp(slot) ? slot : -1;
        }
    }

    /// <summary>The names of the hosts up on this machine.</summary>
    internal List<string> UpHostNames()
    {
        using (_cluster.EnterDirectory())
        {
            return [.. _cluster.UpHosts().Select(_cluster.HostName)];
        }
    }

    /// <summary>
    /// What this machine holds, read entry by entry without the directory lock, as <c>imcs</c> reads (the control file
    /// may be mapped read-only): its up hosts, the keys allocated here, and each host's receive memory by key and host.
    /// </summary>
    internal (HashSet<string> Hosts, HashSet<int> Keys, Dictionary<(int Key, string Host), string> Memories) ReadHoldings()
    {
        var up = _cluster.UpHosts().ToList();
        var keys = new HashSet<int>();
        var memories = new Dictionary<(int Key, string Host), string>();
        for (var slot = 0; slot < ControlLayout.MaxRegions; slot++)
        {
            ref var region = ref _cluster.Control.Region(slot);
            if (Volatile.Read(ref region.State) != RegionEntry.StateLive)
            {
                continue;
            }

            keys.Add(region.Key);
            var mask = region.ReceiveFileMask;
            foreach (var host in up.Where(h => (mask & (1u << h)) != 0))
            {
                memories[(region.Key, _cluster.HostName(host))] = _cluster.FileName(slot, host).ToString();
            }
        }

        return ([.. up.Select(_cluster.HostName)], keys, memories);
    }

    /// <summary>
    /// Maps this machine's receive memory <paramref name="name"/> for writing, for its agent to register it (or to fill
    /// a coherent copy): as every receive file is opened, never through a link and only from an owner the cluster trusts.
    /// </summary>
    internal MappedFile MapReceiveMemory(ReceiveFileName name, long length) => _cluster.MapReceiveFile(name, length, writable: true);

    /// <summary>Across machines (imcd): this machine is in <paramref name="epoch"/> from now on, and not fenced.</summary>
    internal void JoinEpoch(long epoch) => _cluster.JoinEpoch(epoch);

    /// <summary>Across machines (imcd): this machine fenced itself.</summary>
    internal void Fence() => _cluster.Fence();

    /// <summary>Across machines: the epoch this machine is in (0: none yet).</summary>
    internal long MachineEpoch => Volatile.Read(ref _cluster.Control.Header.MachineEpoch);

    /// <summary>Across machines: whether this machine is fenced now.</summary>
    internal bool IsFenced => Volatile.Read(ref _cluster.Control.Header.FencedUnixMs) != 0;

    /// <summary>
    /// Across machines: the standing of a process that opens the cluster on <paramref name="machine"/> now, which
    /// presents the key <paramref name="clusterKey"/> gives (on first need) to other machines' NICs.
    /// </summary>
    internal MachineStanding Standing(string machine, Func<byte[]>? clusterKey = null) => _cluster.Standing(machine, clusterKey);
}
