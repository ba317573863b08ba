using System.Runtime.CompilerServices;
using Interconnect.Driver.Directory;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>Attaching and detaching regions (<c>imc_asattach</c>, <c>imc_asattach_ptp</c>, <c>imc_asdetach</c>).</summary>
internal sealed partial class ControlFileDirectory
{
    private static readonly TimeSpan s_writeLockTimeout = TimeSpan.FromSeconds(30);

    public (ReceiveFileName Memory, long MappedLength) AttachReceive(ProcessRegistration process, RegionHandle handle, bool nonShared)
    {
        using (var scope = EnterRegistered(process))
        {
            ref var region = ref CheckAllocated(process, handle);
            if (!process.Credentials.MayAccess(region.OwnerUid, region.OwnerGid, region.Permissions, Credentials.Read))
            {
                throw new DriverException(DriverStatus.Permit,
                    $"region key {handle.Key} (mode {ModeString(region.Permissions)}) may not be read by uid {process.Credentials.Uid}");
            }

            if (_cluster.FindAttachment(process.Slot, AttachmentEntry.KindReceive, handle.Slot, handle.Id) >= 0)
            {
                throw new DriverException(DriverStatus.ReceiveMapped,
                    $"region key {handle.Key} is already attached for receive by this process");
            }

            CheckShare(process, handle, transmit: false, nonShared);
            if (handle.Direct)
            {
                CheckDirectReceive(process, handle);
            }

            if ((region.ReceiveFileMask & (1u << process.Host)) == 0)
            {
                if (handle.Direct && handle.Coherent)
                {
                    CreateReceiveFile(handle.Slot, process.Host, copyFrom: -1);
                }
                else if (handle.Coherent)
                {
                    JoinCoherent(process, handle);
                }
                else
                {
                    var rounded = _cluster.PageRounded(handle.Size);
                    var used = _cluster.HostReceiveUsed(process.Host);
                    var limit = _cluster.Control.Host(process.Host).MaxRecvBytes;
                    if (used + rounded > limit)
                    {
                        throw new DriverException(DriverStatus.RxFull,
                            $"region key {handle.Key} ({handle.Size} bytes) does not fit in host '{process.HostName}''s receive " +
                            $"space ({used} of {limit} bytes attached): raise maxrecv with imc_init -r, or detach regions");
                    }

                    CreateReceiveFile(handle.Slot, process.Host, copyFrom: -1);
                }
            }

            _cluster.AddAttachment(process.Slot, AttachmentEntry.KindReceive, handle.Slot, handle.Id,
                shareMode: nonShared ? 1 : 0);
            return (_cluster.FileName(handle.Slot, process.Host), _cluster.PageRounded(handle.Size));
        }
    }

    public TransmitAttachment AttachTransmit(ProcessRegistration process, RegionHandle handle, bool nonShared, bool loopback,
        string? targetHost) => targetHost is null
            ? AttachBroadcast(process, handle, nonShared, loopback)
            : AttachPointToPoint(process, handle, targetHost, nonShared);

    private TransmitAttachment AttachBroadcast(ProcessRegistration process, RegionHandle handle, bool nonShared, bool loopback)
    {
        using var scope = EnterRegistered(process);
        CheckTransmit(process, handle, nonShared);
        if (handle.Direct)
        {
            CheckDirectTransmit(process, handle, loopback);
        }

        var effectiveLoopback = loopback || handle.Coherent;
        if (!handle.Coherent)
        {
            foreach (var a in _cluster.AttachmentsOf(handle.Slot, handle.Id, static k => k == AttachmentEntry.KindTransmit, process.Host))
            {
                var hostLoopback = (_cluster.Control.Attachment(a).Flags & AttachmentEntry.FlagLoopback) != 0;
                if (hostLoopback != loopback)
                {
                    throw new DriverException(DriverStatus.LoopbackError,
                        $"region key {handle.Key} is attached for transmit on host '{process.HostName}' " +
                        $"{(hostLoopback ? "with" : "without")} loopback: the host's first transmit attach fixed it; " +
                        "attach with the same setting");
                }
            }
        }

        var attachment = _cluster.AddAttachment(process.Slot, AttachmentEntry.KindTransmit, handle.Slot, handle.Id,
            shareMode: nonShared ? 1 : 0, flags: effectiveLoopback ? AttachmentEntry.FlagLoopback : 0);
        return new TransmitAttachment(attachment, TargetHost: -1, effectiveLoopback, NewWindowWords(handle, attachment));
    }

    private TransmitAttachment AttachPointToPoint(ProcessRegistration process, RegionHandle handle, string hostName, bool nonShared)
    {
        using var scope = EnterRegistered(process);
        var target = ClusterPaths.IsValidName(hostName) ? _cluster.FindHost(hostName) : -1;
        if (target < 0 || !_cluster.IsHostUp(target))
        {
            throw new DriverException(DriverStatus.BadHost,
                $"host '{ClusterPaths.Printable(hostName)}' is not up in cluster '{ClusterName}' (see imcs -m)");
        }

        if (target == process.Host)
        {
            throw new DriverException(DriverStatus.PointToPointError,
                $"point-to-point attach of region key {handle.Key} to this process's own host '{process.HostName}': " +
                "point-to-point writes never loop back; attach for broadcast with loopback instead");
        }

        if (handle.Direct)
        {
            throw DirectPointToPoint(handle, hostName);
        }

        if (handle.Coherent)
        {
            throw new DriverException(DriverStatus.CoherencyError,
                $"region key {handle.Key} is coherent: its writes go to every host, so it cannot be attached point-to-point");
        }

        CheckTransmit(process, handle, nonShared);
        var attachment = _cluster.AddAttachment(process.Slot, AttachmentEntry.KindTransmitPointToPoint, handle.Slot, handle.Id,
            shareMode: nonShared ? 1 : 0, targetHost: target);
        return new TransmitAttachment(attachment, target, Loopback: false, NewWindowWords(handle, attachment));
    }

    /// <summary>
    /// The words a new transmit attach answers with: a mapping of the window's own for a process that writes through
    /// them; imcd's held mapping when imcd answers for a process (<see cref="RegisteredUid"/> set), which writes nothing
    /// through them and so maps no file per attach it serves.
    /// </summary>
    private WindowWords NewWindowWords(RegionHandle handle, int attachment) =>
        RegisteredUid is null ? WordsOf(handle, attachment) : HeldWordsOf(handle, attachment);

    /// <summary>
    /// The hot words of a transmit attach, for the window that writes through it: its region's generation (in the
    /// control file: the data path only reads it), its rail's fault word (in the words file), its region's write lock and
    /// its own counters (in the region's windows file, which this maps for the window alone, so nothing the directory
    /// frees unmaps what a window still writes; the mapping lives as long as the words).
    /// </summary>
    internal unsafe WindowWords WordsOf(RegionHandle handle, int attachment)
    {
        var file = RegionWindowsFile.Open(_cluster.Paths, _cluster.Control.Region(handle.Slot), writable: true);
        return WordsOf(handle, attachment, file.Pointer, file);
    }

    /// <summary>
    /// The same words through the directory's own mapping of the region's windows: for the directory's holder answering
    /// for a window it does not write (imcd), which maps nothing more per request.
    /// </summary>
    internal unsafe WindowWords HeldWordsOf(RegionHandle handle, int attachment)
    {
        var windows = _cluster.WindowsOf(handle.Slot);
        if (windows is null)
        {
            throw new DriverException(DriverStatus.OpenError,
                $"the window words of region key {handle.Key} cannot be mapped: run imcctl check");
        }

        return WordsOf(handle, attachment, windows, mapping: null);
    }

    private unsafe WindowWords WordsOf(RegionHandle handle, int attachment, byte* windows, MappedFile? mapping)
    {
        var control = _cluster.Control;
        ref var region = ref control.Region(handle.Slot);
        ref var entry = ref RegionWindowsFile.Window(windows, attachment);
        return new WindowWords
        {
            Mapping = mapping,
            Generation = (int*)Unsafe.AsPointer(ref region.Generation),
            WriteLock = (long*)Unsafe.AsPointer(ref RegionWindowsFile.Region(windows).WriteOwner),
            Fault = (int*)Unsafe.AsPointer(ref control.Rail(handle.LogicalRail).FaultWord),
            Writes = (long*)Unsafe.AsPointer(ref entry.Writes),
            Bytes = (long*)Unsafe.AsPointer(ref entry.Bytes),
            SharedWrites = (long*)Unsafe.AsPointer(ref entry.SharedWrites),
            SharedBytes = (long*)Unsafe.AsPointer(ref entry.SharedBytes),
            Drops = (long*)Unsafe.AsPointer(ref entry.Drops),
        };
    }

    public RouteSet ReadRoutes(ProcessRegistration process, RegionHandle handle, TransmitAttachment attachment)
    {
        using var scope = EnterRegistered(process);
        ref var region = ref _cluster.Control.Region(handle.Slot);
        if (!_cluster.IsRegionLive(handle.Slot, handle.Id) ||
            _cluster.Control.Attachment(attachment.Entry).State != AttachmentEntry.StateLive)
        {
            throw new DriverException(DriverStatus.NotAllocated,
                $"region key {handle.Key} is no longer attached for transmit by this process");
        }

        var generation = Volatile.Read(ref region.Generation);
        if (handle.Direct)
        {
            return DirectRoute(process, handle, generation);
        }

        var mask = region.ReceiveFileMask;
        var receivers = new List<RouteReceiver>();
        for (var host = 0; host < ControlLayout.MaxHosts; host++)
        {
            if ((mask & (1u << host)) == 0)
            {
                continue;
            }

            var reaches = handle.Coherent ||
                (attachment.TargetHost >= 0 ? host == attachment.TargetHost : host != process.Host || attachment.Loopback);
            if (reaches)
            {
                receivers.Add(new RouteReceiver(host, _cluster.FileName(handle.Slot, host)));
            }
        }

        return new RouteSet(generation, receivers, _cluster.PageRounded(handle.Size));
    }

    public IFabric MemoryFabric => _cluster.Fabric;

    public MachineStanding? ProcessStanding => null;

    public void RecordDeliveryError(int logicalRail) => _cluster.RecordDeliveryError(logicalRail);

    /// <summary>Holds every logical rail in error processing until its count next rises (a fenced machine).</summary>
    internal void HoldErrorProcessing()
    {
        for (var rail = 0; rail < LogicalRails; rail++)
        {
            _cluster.HoldErrorProcessing(rail);
        }
    }

    /// <summary>Detaches this process from a region in the given directions; false when it was not attached so.</summary>
    public bool Detach(ProcessRegistration process, RegionHandle handle, bool receive, bool transmit)
    {
        using var scope = EnterRegistered(process);
        if (!_cluster.IsRegionLive(handle.Slot, handle.Id))
        {
            return false;
        }

        var detached = false;
        if (receive)
        {
            var a = _cluster.FindAttachment(process.Slot, AttachmentEntry.KindReceive, handle.Slot, handle.Id);
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
                var a = _cluster.FindAttachment(process.Slot, kind, handle.Slot, handle.Id);
                if (a >= 0)
                {
                    _cluster.RemoveAttachment(a);
                    detached = true;
                }
            }
        }

        return detached;
    }

    private ref RegionEntry CheckAllocated(ProcessRegistration process, RegionHandle handle)
    {
        if (!_cluster.IsRegionLive(handle.Slot, handle.Id) ||
            _cluster.FindAttachment(process.Slot, AttachmentEntry.KindAllocation, handle.Slot, handle.Id) < 0)
        {
            throw new DriverException(DriverStatus.NotAllocated,
                $"region key {handle.Key} is not allocated by this process");
        }

        return ref _cluster.Control.Region(handle.Slot);
    }

    private void CheckTransmit(ProcessRegistration process, RegionHandle handle, bool nonShared)
    {
        ref var region = ref CheckAllocated(process, handle);
        if (!process.Credentials.MayAccess(region.OwnerUid, region.OwnerGid, region.Permissions, Credentials.Write))
        {
            throw new DriverException(DriverStatus.Permit,
                $"region key {handle.Key} (mode {ModeString(region.Permissions)}) may not be written by uid {process.Credentials.Uid}");
        }

        if (_cluster.FindAttachment(process.Slot, AttachmentEntry.KindTransmit, handle.Slot, handle.Id) >= 0 ||
            _cluster.FindAttachment(process.Slot, AttachmentEntry.KindTransmitPointToPoint, handle.Slot, handle.Id) >= 0)
        {
            throw new DriverException(DriverStatus.TransmitMapped,
                $"region key {handle.Key} is already attached for transmit by this process");
        }

        CheckShare(process, handle, transmit: true, nonShared);
    }

    /// <summary>
    /// Share modes, per host and direction: a non-shared attach is the only one of its direction on its host.
    /// </summary>
    private void CheckShare(ProcessRegistration process, RegionHandle handle, bool transmit, bool nonShared)
    {
        Func<int, bool> kinds = transmit
            ? static k => k is AttachmentEntry.KindTransmit or AttachmentEntry.KindTransmitPointToPoint
            : static k => k == AttachmentEntry.KindReceive;
        var existing = _cluster.AttachmentsOf(handle.Slot, handle.Id, kinds, process.Host).ToList();
        var direction = transmit ? "transmit" : "receive";
        if (existing.Any(a => _cluster.Control.Attachment(a).ShareMode != 0))
        {
            throw new DriverException(DriverStatus.NonShareError,
                $"region key {handle.Key} is attached non-shared for {direction} on host '{process.HostName}': no other " +
                $"{direction} attach is possible there until it detaches");
        }

        if (nonShared && existing.Count > 0)
        {
            throw new DriverException(DriverStatus.ShareError,
                $"region key {handle.Key} is already attached shared for {direction} on host '{process.HostName}': " +
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
        if ((region.Flags & RegionEntry.FlagDirect) != 0)
        {
            _cluster.Fabric.Share(name, ReceiveFileName.Direct(region.Id)); // a direct region: one memory for all
        }
        else
        {
            _cluster.Fabric.Create(name, _cluster.PageRounded(region.RegionSize), Credentials.FileMode(region.Permissions),
                (region.OwnerUid, region.OwnerGid), source);
        }
        Cluster.SetFileEpoch(ref region, host, epoch);
        region.ReceiveFileMask |= 1u << host;
        Cluster.BumpGeneration(ref region);
    }

    /// <summary>
    /// A host's first receive attach of a coherent region: its copy is made from another host's while no writer
    /// writes (the region's write lock), so it holds exactly the current contents and then every later write.
    /// </summary>
    private unsafe void JoinCoherent(ProcessRegistration process, RegionHandle handle)
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
        var windows = _cluster.WindowsOf(handle.Slot);
        if (windows is null)
        {
            throw new DriverException(DriverStatus.OpenError,
                $"the write lock of coherent region key {handle.Key} cannot be mapped: run imcctl check");
        }

        ref var writeLock = ref RegionWindowsFile.Region(windows).WriteOwner;
        _ = RobustLock.Enter(ref writeLock, me, s_writeLockTimeout, $"the write lock of region key {handle.Key}");
        try
        {
            CreateReceiveFile(handle.Slot, process.Host, source);
        }
        finally
        {
            RobustLock.Exit(ref writeLock, me);
        }
    }
}
