using Interconnect.Driver.Directory;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>Allocating and deallocating regions (<c>imc_asalloc</c>, <c>imc_asdealloc</c>).</summary>
internal sealed partial class ControlFileDirectory
{
    /// <summary>Largest region: the address space of one mapping we are willing to make.</summary>
    public const long MaxRegionSize = 1L << 40;

    public RegionHandle AllocateRegion(ProcessRegistration process, int key, long size, int permissions, bool coherent, int logicalRail,
        bool direct = false) => AllocateRegion(process, key, size, permissions, coherent, logicalRail, direct, owner: null);

    /// <summary>
    /// Allocates as <see cref="AllocateRegion(ProcessRegistration, int, long, int, bool, int, bool)"/>; a region made
    /// here is owned by <paramref name="owner"/> (uid, gid) when given (a region another machine made: its maker's),
    /// else by the process.
    /// </summary>
    internal RegionHandle AllocateRegion(ProcessRegistration process, int key, long size, int permissions, bool coherent,
        int logicalRail, bool direct, (int Uid, int Gid)? owner)
    {
        if (size <= 0 || size > MaxRegionSize)
        {
            throw new DriverException(size <= 0 ? DriverStatus.BadSize : DriverStatus.McFull,
                $"region size {size} for key {key}: a region is 1 byte to {MaxRegionSize} bytes");
        }

        if (key < 0)
        {
            throw new DriverException(DriverStatus.BadParameter, $"key {key}: keys are 0 to {int.MaxValue}");
        }

        if ((permissions & ~0b110_110_110) != 0 || permissions == 0)
        {
            throw new DriverException(DriverStatus.BadParameter,
                $"permissions {Convert.ToString(permissions, 8)} for key {key}: give read and/or write for user, group or other");
        }

        using var scope = EnterRegistered(process);
        ref var header = ref _cluster.Control.Header;
        if ((uint)logicalRail >= (uint)header.LogicalRails)
        {
            throw new DriverException(DriverStatus.BadRail,
                $"logical rail {logicalRail} for key {key}: cluster '{ClusterName}' has logical rails 0 to {header.LogicalRails - 1}");
        }

        var existing = _cluster.FindRegionByKey(key);
        if (existing >= 0)
        {
            return AllocateExisting(process, existing, key, size, coherent, logicalRail);
        }

        var rounded = _cluster.PageRounded(size);
        var allocated = _cluster.TotalAllocated();
        if (allocated + rounded > header.MaxAllocBytes)
        {
            throw new DriverException(DriverStatus.McFull,
                $"region key {key} of {size} bytes does not fit: {allocated} of {header.MaxAllocBytes} bytes of address " +
                "space are allocated; raise maxalloc with imc_init -a, or deallocate regions");
        }

        if (coherent)
        {
            // A coherent region is receive memory on every host.
            foreach (var host in _cluster.UpHosts())
            {
                var used = _cluster.HostReceiveUsed(host);
                if (used + rounded > _cluster.Control.Host(host).MaxRecvBytes)
                {
                    throw new DriverException(DriverStatus.RxFull,
                        $"coherent region key {key} of {size} bytes does not fit in the receive space of host " +
                        $"'{_cluster.HostName(host)}' ({used} of {_cluster.Control.Host(host).MaxRecvBytes} bytes used): " +
                        "raise maxrecv with imc_init -r on that host");
                }
            }
        }

        var slot = -1;
        for (var i = 0; i < ControlLayout.MaxRegions && slot < 0; i++)
        {
            if (_cluster.Control.Region(i).State == RegionEntry.StateFree)
            {
                slot = i;
            }
        }

        if (slot < 0)
        {
            throw new DriverException(DriverStatus.NoResources,
                $"all {ControlLayout.MaxRegions} region entries of cluster '{ClusterName}' are in use");
        }

        _ = _cluster.FreeAttachmentSlot(); // fail now, before anything is made, if the allocation could not be recorded
        ref var region = ref _cluster.Control.Region(slot);
        region.Key = key;
        region.Id = header.NextRegionId++;
        region.RegionSize = size;
        region.LogicalRail = logicalRail;
        region.Flags = (coherent ? RegionEntry.FlagCoherent : 0) | (direct ? RegionEntry.FlagDirect : 0);
        region.Permissions = permissions;
        region.OwnerUid = owner?.Uid ?? process.Credentials.Uid;
        region.OwnerGid = owner?.Gid ?? process.Credentials.Gid;
        region.ReceiveFileMask = 0;
        region.CreatedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        _cluster.CreateWindowsFile(region);
        if (direct)
        {
            CreateDirectMemory(slot);
        }

        if (coherent)
        {
            // The first copy of a coherent region's contents lives with its allocator's host from the start.
            CreateReceiveFile(slot, process.Host, copyFrom: -1);
        }

        Volatile.Write(ref region.State, RegionEntry.StateLive); // release: the entry is complete before it counts
        _cluster.AddAttachment(process.Slot, AttachmentEntry.KindAllocation, slot, region.Id);
        return Handle(slot);
    }

    /// <summary>Deallocates strictly: <see cref="DriverStatus.Attached"/> while this process is still attached.</summary>
    public void DeallocateRegion(ProcessRegistration process, RegionHandle handle)
    {
        using var scope = EnterRegistered(process);
        var allocation = _cluster.FindAttachment(process.Slot, AttachmentEntry.KindAllocation, handle.Slot, handle.Id);
        if (allocation < 0)
        {
            throw new DriverException(DriverStatus.NotAllocated,
                $"region key {handle.Key} is not allocated by this process");
        }

        if (_cluster.AttachmentsOf(handle.Slot, handle.Id, AttachmentEntry.IsRegionAttach)
            .Any(a => _cluster.Control.Attachment(a).Process == process.Slot))
        {
            throw new DriverException(DriverStatus.Attached,
                $"region key {handle.Key} is still attached by this process: detach it first");
        }

        _cluster.RemoveAttachment(allocation);
        if (!_cluster.AttachmentsOf(handle.Slot, handle.Id, static k => k == AttachmentEntry.KindAllocation).Any())
        {
            _cluster.FreeRegion(handle.Slot);
        }
    }

    /// <summary>Permit unless the process may read or write a region of that owner and mode (allocating an existing region).</summary>
    internal static void CheckMayAllocate(ProcessRegistration process, int key, int ownerUid, int ownerGid, int permissions)
    {
        if (!process.Credentials.MayAccess(ownerUid, ownerGid, permissions, Credentials.Read) &&
            !process.Credentials.MayAccess(ownerUid, ownerGid, permissions, Credentials.Write))
        {
            throw new DriverException(DriverStatus.Permit,
                $"region key {key} (mode {ModeString(permissions)}, owner uid {ownerUid}) gives this user " +
                $"(uid {process.Credentials.Uid}) no access");
        }
    }

    private RegionHandle AllocateExisting(ProcessRegistration process, int slot, int key, long size, bool coherent, int logicalRail)
    {
        ref var region = ref _cluster.Control.Region(slot);
        if (region.LogicalRail != logicalRail)
        {
            throw new DriverException(DriverStatus.WrongRail,
                $"region key {key} exists on logical rail {region.LogicalRail}, not {logicalRail}");
        }

        var isCoherent = (region.Flags & RegionEntry.FlagCoherent) != 0;
        if (isCoherent != coherent)
        {
            throw new DriverException(DriverStatus.CoherencyError,
                $"region key {key} exists as a {(isCoherent ? "coherent" : "non-coherent")} region: allocate it with the same coherency");
        }

        if (region.RegionSize != size)
        {
            throw new DriverException(DriverStatus.BadSize,
                $"region key {key} exists with size {region.RegionSize}, not {size}: allocate it with its size");
        }

        CheckMayAllocate(process, key, region.OwnerUid, region.OwnerGid, region.Permissions);

        if (_cluster.FindAttachment(process.Slot, AttachmentEntry.KindAllocation, slot, region.Id) >= 0)
        {
            throw new DriverException(DriverStatus.Prior, $"region key {key} is already allocated by this process");
        }

        _cluster.AddAttachment(process.Slot, AttachmentEntry.KindAllocation, slot, region.Id);
        return Handle(slot);
    }

    private RegionHandle Handle(int slot)
    {
        ref var region = ref _cluster.Control.Region(slot);
        return new RegionHandle(slot, region.Id, region.Key, region.RegionSize, region.LogicalRail,
            (region.Flags & RegionEntry.FlagCoherent) != 0, region.Permissions)
        {
            Direct = (region.Flags & RegionEntry.FlagDirect) != 0,
        };
    }

    /// <summary>"rw-rw----" for 0660.</summary>
    public static string ModeString(int permissions) => string.Create(9, permissions, static (span, p) =>
    {
        const string Letters = "rwxrwxrwx";
        for (var i = 0; i < 9; i++)
        {
            span[i] = (p & (1 << (8 - i))) != 0 ? Letters[i] : '-';
        }
    });
}
