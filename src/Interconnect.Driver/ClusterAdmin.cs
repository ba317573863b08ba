using Interconnect.Driver.Store;

namespace Interconnect.Driver;

/// <summary>What <c>imc_init</c> did.</summary>
public sealed record HostInitResult(
    bool CreatedCluster, bool JoinedHost, string Host, long MaxAllocBytes, long MaxRecvBytes, int PhysicalRails,
    int RailStyle, int LogicalRails, int ErrorWindowMs);

/// <summary>The administrative side of the driver: what <c>imc_init</c> and <c>imcctl destroy</c> do.</summary>
public static class ClusterAdmin
{
    /// <summary>
    /// Creates the cluster if needed and brings <paramref name="host"/> up (a host join), or reconfigures an up
    /// host's limits. Values left null keep their current setting (or the default, for a new cluster or host).
    /// </summary>
    public static HostInitResult InitializeHost(
        ClusterPaths paths, string host, long? maxAllocBytes = null, long? maxRecvBytes = null,
        int? physicalRails = null, int? railStyle = null, int? errorWindowMs = null)
    {
        ClusterPaths.ValidateName(host, "host name");
        var defaults = new ClusterConfiguration();
        var configuration = defaults with
        {
            MaxAllocBytes = maxAllocBytes ?? defaults.MaxAllocBytes,
            MaxRecvBytes = maxRecvBytes ?? defaults.MaxRecvBytes,
            PhysicalRails = physicalRails ?? defaults.PhysicalRails,
            RailStyle = railStyle ?? defaults.RailStyle,
            ErrorWindowMs = errorWindowMs ?? defaults.ErrorWindowMs,
        };
        configuration.Validate();

        var created = !Cluster.Exists(paths);
        using var cluster = Cluster.OpenOrCreate(paths, configuration);
        ref var header = ref cluster.Control.Header;
        if ((physicalRails is { } rails && rails != header.PhysicalRails) || (railStyle is { } style && style != header.RailStyle) ||
            (errorWindowMs is { } window && window != header.ErrorWindowMs))
        {
            throw new DriverException(DriverStatus.InitError,
                $"cluster '{paths.Cluster}' was created with --rails {header.PhysicalRails} --rail-style {header.RailStyle} " +
                $"--error-window {header.ErrorWindowMs}; rails are fixed when the cluster is created and every host must " +
                "agree: drop the rail options, " +
                "or recreate the cluster (imcctl destroy)");
        }

        using (cluster.EnterDirectory())
        {
            var slot = cluster.FindHost(host);
            var isUp = slot >= 0 && cluster.IsHostUp(slot);
            if (maxAllocBytes is { } alloc)
            {
                // A joining host raises the clusterwide value to the largest asked; a reconfiguration sets it.
                var wanted = isUp || created ? alloc : Math.Max(alloc, header.MaxAllocBytes);
                var used = cluster.TotalAllocated();
                if (wanted < used)
                {
                    throw new DriverException(DriverStatus.InitError,
                        $"-a {ToMebibytes(wanted)}: {ToMebibytes(used)} MiB of address space is allocated now; " +
                        "maxalloc cannot go below current use");
                }

                header.MaxAllocBytes = wanted;
            }

            if (isUp && maxRecvBytes is { } recv)
            {
                var used = cluster.HostReceiveUsed(slot);
                if (recv < used)
                {
                    throw new DriverException(DriverStatus.InitError,
                        $"-r {ToMebibytes(recv)}: host '{host}' has {ToMebibytes(used)} MiB attached for receive now; " +
                        "maxrecv cannot go below current use");
                }

                cluster.Control.Host(slot).MaxRecvBytes = recv;
            }

            var joined = false;
            if (!isUp)
            {
                slot = cluster.JoinHost(host, configuration.MaxRecvBytes, out joined);
            }

            return new HostInitResult(created, joined, host, header.MaxAllocBytes, cluster.Control.Host(slot).MaxRecvBytes,
                header.PhysicalRails, header.RailStyle, header.LogicalRails, header.ErrorWindowMs);
        }
    }

    /// <summary>Takes <paramref name="host"/> out of the cluster (a host leave).</summary>
    public static void TakeHostDown(ClusterPaths paths, string host)
    {
        ClusterPaths.ValidateName(host, "host name");
        using var cluster = Cluster.Open(paths);
        using (cluster.EnterDirectory())
        {
            var slot = cluster.FindHost(host);
            if (slot < 0 || !cluster.IsHostUp(slot))
            {
                throw new DriverException(DriverStatus.BadHost, $"host '{host}' is not up in cluster '{paths.Cluster}'");
            }

            cluster.TakeHostDown(slot);
        }
    }

    /// <summary>
    /// Drops the next <paramref name="count"/> deliveries on <paramref name="logicalRail"/>, to <paramref name="host"/>
    /// or to any host (null): whole writes, never torn or reordered; the rail's error count rises before anything
    /// sent after a drop can be seen. A count of 0 disarms what is pending.
    /// </summary>
    public static void InjectErrors(ClusterPaths paths, int logicalRail, int count, string? host = null)
    {
        if (count < 0)
        {
            throw new DriverException(DriverStatus.BadParameter, $"--count {count}: give 0 or more transmissions to drop");
        }

        using var cluster = Cluster.Open(paths);
        CheckLogicalRail(cluster, logicalRail);
        var slot = -1;
        if (host is not null)
        {
            using (cluster.EnterDirectory())
            {
                slot = ClusterPaths.IsValidName(host) ? cluster.FindHost(host) : -1;
                if (slot < 0 || !cluster.IsHostUp(slot))
                {
                    throw new DriverException(DriverStatus.BadHost,
                        $"--host {ClusterPaths.Printable(host)}: no such host is up in cluster '{paths.Cluster}'");
                }
            }
        }

        cluster.InjectDrops(logicalRail, count, slot);
    }

    /// <summary>Fails physical rail <paramref name="physicalRail"/>; false when it had failed already.</summary>
    public static bool FailRail(ClusterPaths paths, int physicalRail)
    {
        using var cluster = Cluster.Open(paths);
        CheckPhysicalRail(cluster, physicalRail);
        return cluster.FailPhysicalRail(physicalRail);
    }

    /// <summary>Repairs physical rail <paramref name="physicalRail"/>; false when it was up.</summary>
    public static bool RepairRail(ClusterPaths paths, int physicalRail)
    {
        using var cluster = Cluster.Open(paths);
        CheckPhysicalRail(cluster, physicalRail);
        return cluster.RepairPhysicalRail(physicalRail);
    }

    /// <summary>
    /// The whole cluster as <c>imcs</c> shows it, read through a read-only mapping: this never changes the cluster
    /// and never waits for a lock.
    /// </summary>
    public static Status.ClusterStatus ReadStatus(ClusterPaths paths)
    {
        using var cluster = Cluster.Open(paths, writable: false);
        return cluster.ReadStatus();
    }

    /// <summary>
    /// Checks the cluster's invariants through a read-only mapping (imcs --check), from a reading taken while the
    /// directory was free and unchanged; <see cref="Status.CheckReport.Busy"/> when none could be had within
    /// <paramref name="patience"/> (default 2 s).
    /// </summary>
    public static Status.CheckReport Check(ClusterPaths paths, TimeSpan? patience = null)
    {
        using var cluster = Cluster.Open(paths, writable: false);
        return cluster.Check(patience ?? TimeSpan.FromSeconds(2));
    }

    /// <summary>Every rail's state, error count and traffic.</summary>
    public static RailStatus ReadRails(ClusterPaths paths)
    {
        using var cluster = Cluster.Open(paths, writable: false);
        return cluster.ReadRails();
    }

    private static void CheckLogicalRail(Cluster cluster, int rail)
    {
        var rails = cluster.Control.Header.LogicalRails;
        if ((uint)rail >= (uint)rails)
        {
            throw new DriverException(DriverStatus.BadRail,
                $"logical rail {rail}: cluster '{cluster.Paths.Cluster}' has logical rails 0 to {rails - 1}");
        }
    }

    private static void CheckPhysicalRail(Cluster cluster, int rail)
    {
        var rails = cluster.Control.Header.PhysicalRails;
        if ((uint)rail >= (uint)rails)
        {
            throw new DriverException(DriverStatus.BadRail,
                $"physical rail {rail}: cluster '{cluster.Paths.Cluster}' has physical rails 0 to {rails - 1}");
        }
    }

    /// <summary>Removes the cluster and its files; false when there was none.</summary>
    public static bool Destroy(ClusterPaths paths) => Cluster.Destroy(paths);

    private static string ToMebibytes(long bytes) =>
        (bytes / (double)ClusterConfiguration.Mebibyte).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);
}
