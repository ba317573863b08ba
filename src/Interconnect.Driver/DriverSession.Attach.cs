using Interconnect.Driver.Fabric;
using Interconnect.Driver.Store;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver;

/// <summary>Attaching and detaching regions (<c>imc_asattach</c>, <c>imc_asattach_ptp</c>, <c>imc_asdetach</c>).</summary>
public sealed partial class DriverSession
{
    private static readonly TimeSpan s_writeLockTimeout = TimeSpan.FromSeconds(30);

    public ReceivePort AttachReceive(RegionHandle handle, bool nonShared)
    {
        ReceiveFileName file;
        using (var scope = EnterRegistered())
        {
            ref var region = ref CheckAllocated(handle);
            if (!_credentials.MayAccess(region.OwnerUid, region.OwnerGid, region.Permissions, Credentials.Read))
            {
                throw new DriverException(DriverStatus.Permit,
                    $"region key {handle.Key} (mode {ModeString(region.Permissions)}) may not be read by uid {_credentials.Uid}");
            }

            if (_cluster.FindAttachment(_slot, AttachmentEntry.KindReceive, handle.Slot, handle.Id) >= 0)
            {
                throw new DriverException(DriverStatus.ReceiveMapped,
                    $"region key {handle.Key} is already attached for receive by this process");
            }

            CheckShare(handle, transmit: false, nonShared);
            if ((region.ReceiveFileMask & (1u << Host)) == 0)
            {
                if (handle.Coherent)
                {
                    JoinCoherent(handle);
                }
                else
                {
                    var rounded = _cluster.PageRounded(handle.Size);
                    var used = _cluster.HostReceiveUsed(Host);
                    var limit = _cluster.Control.Host(Host).MaxRecvBytes;
                    if (used + rounded > limit)
                    {
                        throw new DriverException(DriverStatus.RxFull,
                            $"region key {handle.Key} ({handle.Size} bytes) does not fit in host '{HostName}''s receive " +
                            $"space ({used} of {limit} bytes attached): raise maxrecv with imc_init -r, or detach regions");
                    }

                    CreateReceiveFile(handle.Slot, Host, copyFrom: -1);
                }
            }

            _cluster.AddAttachment(_slot, AttachmentEntry.KindReceive, handle.Slot, handle.Id,
                shareMode: nonShared ? 1 : 0);
            file = _cluster.FileName(handle.Slot, Host);
        }

        try
        {
            return new ReceivePort(this, handle, _cluster.Fabric.MapForReceive(file, _cluster.PageRounded(handle.Size)));
        }
        catch
        {
            Detach(handle, receive: true, transmit: false);
            throw;
        }
    }

    public Transmitter AttachTransmit(RegionHandle handle, bool nonShared, bool loopback)
    {
        using var scope = EnterRegistered();
        CheckTransmit(handle, nonShared);
        var effectiveLoopback = loopback || handle.Coherent;
        if (!handle.Coherent)
        {
            foreach (var a in _cluster.AttachmentsOf(handle.Slot, handle.Id, static k => k == AttachmentEntry.KindTransmit, Host))
            {
                var hostLoopback = (_cluster.Control.Attachment(a).Flags & AttachmentEntry.FlagLoopback) != 0;
                if (hostLoopback != loopback)
                {
                    throw new DriverException(DriverStatus.LoopbackError,
                        $"region key {handle.Key} is attached for transmit on host '{HostName}' " +
                        $"{(hostLoopback ? "with" : "without")} loopback: the host's first transmit attach fixed it; " +
                        "attach with the same setting");
                }
            }
        }

        var attachment = _cluster.AddAttachment(_slot, AttachmentEntry.KindTransmit, handle.Slot, handle.Id,
            shareMode: nonShared ? 1 : 0, flags: effectiveLoopback ? AttachmentEntry.FlagLoopback : 0);
        return new Transmitter(this, handle, attachment, targetHost: -1, effectiveLoopback);
    }

    public Transmitter AttachTransmitTo(RegionHandle handle, string hostName, bool nonShared)
    {
        using var scope = EnterRegistered();
        var target = ClusterPaths.IsValidName(hostName) ? _cluster.FindHost(hostName) : -1;
        if (target < 0 || !_cluster.IsHostUp(target))
        {
            throw new DriverException(DriverStatus.BadHost,
                $"host '{ClusterPaths.Printable(hostName)}' is not up in cluster '{Paths.Cluster}' (see imcs -m)");
        }

        if (target == Host)
        {
            throw new DriverException(DriverStatus.PointToPointError,
                $"point-to-point attach of region key {handle.Key} to this process's own host '{HostName}': " +
                "point-to-point writes never loop back; attach for broadcast with loopback instead");
        }

        if (handle.Coherent)
        {
            throw new DriverException(DriverStatus.CoherencyError,
                $"region key {handle.Key} is coherent: its writes go to every host, so it cannot be attached point-to-point");
        }

        CheckTransmit(handle, nonShared);
        var attachment = _cluster.AddAttachment(_slot, AttachmentEntry.KindTransmitPointToPoint, handle.Slot, handle.Id,
            shareMode: nonShared ? 1 : 0, targetHost: target);
        return new Transmitter(this, handle, attachment, target, loopback: false);
    }

    /// <summary>Detaches this process from a region in the given directions; false when it was not attached so.</summary>
    public bool Detach(RegionHandle handle, bool receive, bool transmit)
    {
        using var scope = EnterRegistered();
        if (!_cluster.IsRegionLive(handle.Slot, handle.Id))
        {
            return false;
        }

        var detached = false;
        if (receive)
        {
            var a = _cluster.FindAttachment(_slot, AttachmentEntry.KindReceive, handle.Slot, handle.Id);
            if (a >= 0)
            {
                _cluster.RemoveAttachment(a);
                detached = true;
                _cluster.DropUnusedReceiveFiles(handle.Slot);
            }
        }

        if (transmit)
        {
            foreach (var kind in (ReadOnlySpan<int>)[AttachmentEntry.KindTransmit, AttachmentEntry.KindTransmitPointToPoint])
            {
                var a = _cluster.FindAttachment(_slot, kind, handle.Slot, handle.Id);
                if (a >= 0)
                {
                    _cluster.RemoveAttachment(a);
                    detached = true;
                }
            }
        }

        return detached;
    }

    internal ref RegionEntry CheckAllocated(RegionHandle handle)
    {
        if (!_cluster.IsRegionLive(handle.Slot, handle.Id) ||
            _cluster.FindAttachment(_slot, AttachmentEntry.KindAllocation, handle.Slot, handle.Id) < 0)
        {
            throw new DriverException(DriverStatus.NotAllocated,
                $"region key {handle.Key} is not allocated by this process");
        }

        return ref _cluster.Control.Region(handle.Slot);
    }

    private void CheckTransmit(RegionHandle handle, bool nonShared)
    {
        ref var region = ref CheckAllocated(handle);
        if (!_credentials.MayAccess(region.OwnerUid, region.OwnerGid, region.Permissions, Credentials.Write))
        {
            throw new DriverException(DriverStatus.Permit,
                $"region key {handle.Key} (mode {ModeString(region.Permissions)}) may not be written by uid {_credentials.Uid}");
        }

        if (_cluster.FindAttachment(_slot, AttachmentEntry.KindTransmit, handle.Slot, handle.Id) >= 0 ||
            _cluster.FindAttachment(_slot, AttachmentEntry.KindTransmitPointToPoint, handle.Slot, handle.Id) >= 0)
        {
            throw new DriverException(DriverStatus.TransmitMapped,
                $"region key {handle.Key} is already attached for transmit by this process");
        }

        CheckShare(handle, transmit: true, nonShared);
    }

    /// <summary>
    /// Share modes, per host and direction: a non-shared attach is the only one of its direction on its host.
    /// </summary>
    private void CheckShare(RegionHandle handle, bool transmit, bool nonShared)
    {
        Func<int, bool> kinds = transmit
            ? static k => k is AttachmentEntry.KindTransmit or AttachmentEntry.KindTransmitPointToPoint
            : static k => k == AttachmentEntry.KindReceive;
        var existing = _cluster.AttachmentsOf(handle.Slot, handle.Id, kinds, Host).ToList();
        var direction = transmit ? "transmit" : "receive";
        if (existing.Any(a => _cluster.Control.Attachment(a).ShareMode != 0))
        {
            throw new DriverException(DriverStatus.NonShareError,
                $"region key {handle.Key} is attached non-shared for {direction} on host '{HostName}': no other " +
                $"{direction} attach is possible there until it detaches");
        }

        if (nonShared && existing.Count > 0)
        {
            throw new DriverException(DriverStatus.ShareError,
                $"region key {handle.Key} is already attached shared for {direction} on host '{HostName}': " +
                "a non-shared attach must be the only one of its direction on its host");
        }
    }

    /// <summary>Makes this host's receive file of a region: zero-filled, or a copy of another host's.</summary>
    private void CreateReceiveFile(int slot, int host, int copyFrom)
    {
        ref var region = ref _cluster.Control.Region(slot);
        var epoch = Cluster.FileEpoch(ref region, host) + 1;
        var name = new ReceiveFileName(region.Id, host, epoch);
        ReceiveFileName? source = copyFrom >= 0 ? _cluster.FileName(slot, copyFrom) : null;
        _cluster.Fabric.Create(name, _cluster.PageRounded(region.RegionSize), Credentials.FileMode(region.Permissions),
            region.OwnerGid, source);
        Cluster.SetFileEpoch(ref region, host, epoch);
        region.ReceiveFileMask |= 1u << host;
        Cluster.BumpGeneration(ref region);
    }

    /// <summary>
    /// A host's first receive attach of a coherent region: its copy is made from another host's while no writer
    /// writes (the region's write lock), so it holds exactly the current contents and then every later write.
    /// </summary>
    private void JoinCoherent(RegionHandle handle)
    {
        ref var region = ref _cluster.Control.Region(handle.Slot);
        var source = -1;
        for (var h = 0; h < ControlLayout.MaxHosts && source < 0; h++)
        {
            if ((region.ReceiveFileMask & (1u << h)) != 0)
            {
                source = h;
            }
        }

        var me = ProcessIdentity.Current.LockValue;
        _ = RobustLock.Enter(ref region.WriteOwner, me, s_writeLockTimeout, $"the write lock of region key {handle.Key}");
        try
        {
            CreateReceiveFile(handle.Slot, Host, source);
        }
        finally
        {
            RobustLock.Exit(ref region.WriteOwner, me);
        }
    }
}
