using Interconnect.Driver.Status;

namespace Interconnect.Driver.Store;

/// <summary>Error counts, faults and rails: atomic operations on the words file and tallies, outside the directory lock.</summary>
internal sealed partial class ControlFileDirectory
{
    // The error-count reads are made on every message: the caller (the API) has validated the rail once already.
    public int ReadErrorCount(int logicalRail) => _cluster.ReadErrorCount(logicalRail);

    public DriverStatus CheckErrorCount(ref int errorCount, int logicalRail) => _cluster.CheckErrorCount(ref errorCount, logicalRail);

    public bool TryClaimDrop(int logicalRail, int host)
    {
        if (!TryClaimArmedDrop(logicalRail, host))
        {
            return false;
        }

        _cluster.RecordDeliveryError(logicalRail); // the count rises before the writer delivers anything else
        return true;
    }

    /// <summary>
    /// Raises the error count of <paramref name="logicalRail"/> <paramref name="times"/> times, for errors another
    /// machine of the cluster made (drops toward its receivers).
    /// </summary>
    internal void RaiseRemoteErrors(int logicalRail, long times)
    {
        for (var i = 0L; i < times; i++)
        {
            _cluster.RecordDeliveryError(logicalRail);
        }
    }

    /// <summary>
    /// Arms drops of <paramref name="count"/> deliveries toward host number <paramref name="host"/> (-1: any), which
    /// may be up on another machine, for the writers of this machine (a directory across machines: its agent arms
    /// every machine with what is left of the clusterwide budget).
    /// </summary>
    internal void ArmDrops(int logicalRail, int count, int host)
    {
        CheckLogicalRail(logicalRail);
        _cluster.InjectDrops(logicalRail, Math.Max(count, 0), host);
    }

    /// <summary>
    /// Claims one of the drops armed on this machine, without raising the error count (the caller decides). Asked only
    /// while drops are armed, and by imcd for a process's request: the rail is checked here (BadRail).
    /// </summary>
    internal bool TryClaimArmedDrop(int logicalRail, int host)
    {
        CheckLogicalRail(logicalRail);
        return _cluster.TryClaimDrop(logicalRail, host);
    }

    /// <summary>Maps the loss tally of this process's user, which imcd made when it registered the process, to write.</summary>
    internal Interop.MappedFile OpenOwnTally() => _cluster.OpenOwnTally(Interop.Libc.GetEuid());

    /// <summary>A delivery of this process's on <paramref name="logicalRail"/> was lost: counted in its user's tally.</summary>
    internal void RecordTalliedError(Interop.MappedFile tally, int logicalRail) => _cluster.RaiseTalliedError(tally, logicalRail);

    public void InjectDrops(int logicalRail, int count, string? host)
    {
        if (count < 0)
        {
            throw new DriverException(DriverStatus.BadParameter, $"--count {count}: give 0 or more transmissions to drop");
        }

        CheckLogicalRail(logicalRail);
        if (count > 0)
        {
            CheckNoDirectRegion(logicalRail);
        }

        var slot = -1;
        if (host is not null)
        {
            using (_cluster.EnterDirectory())
            {
                slot = ClusterPaths.IsValidName(host) ? _cluster.FindHost(host) : -1;
                if (slot < 0 || !_cluster.IsHostUp(slot))
                {
                    throw new DriverException(DriverStatus.BadHost,
                        $"--host {ClusterPaths.Printable(host)}: no such host is up in cluster '{ClusterName}'");
                }
            }
        }

        _cluster.InjectDrops(logicalRail, count, slot);
    }

    public bool FailRail(int physicalRail)
    {
        CheckPhysicalRail(physicalRail);
        return _cluster.FailPhysicalRail(physicalRail);
    }

    public bool RepairRail(int physicalRail)
    {
        CheckPhysicalRail(physicalRail);
        return _cluster.RepairPhysicalRail(physicalRail);
    }

    public RailStatus ReadRails() => _cluster.ReadRails();

    public ClusterStatus ReadStatus() => _cluster.ReadStatus();

    public CheckReport Check(TimeSpan patience) => _cluster.Check(patience);

    /// <summary>Throws <see cref="DriverStatus.BadRail"/> for a logical rail the cluster does not have.</summary>
    internal void CheckLogicalRail(int rail)
    {
        var rails = _cluster.Control.Header.LogicalRails;
        if ((uint)rail >= (uint)rails)
        {
            throw new DriverException(DriverStatus.BadRail,
                $"logical rail {rail}: cluster '{ClusterName}' has logical rails 0 to {rails - 1}");
        }
    }

    private void CheckPhysicalRail(int rail)
    {
        var rails = _cluster.Control.Header.PhysicalRails;
        if ((uint)rail >= (uint)rails)
        {
            throw new DriverException(DriverStatus.BadRail,
                $"physical rail {rail}: cluster '{ClusterName}' has physical rails 0 to {rails - 1}");
        }
    }
}
