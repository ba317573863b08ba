using Interconnect.Driver.Directory;
using Interconnect.Driver.Store;

namespace Interconnect.Driver;

/// <summary>What <c>imc_init</c> did.</summary>
internal sealed record HostInitResult(
    bool CreatedCluster, bool JoinedHost, string Host, long MaxAllocBytes, long MaxRecvBytes, int PhysicalRails,
    int RailStyle, int LogicalRails, int ErrorWindowMs);

/// <summary>
/// The administrative side of the driver, for the commands (<c>imc_init</c>, <c>imcs</c>, <c>imcctl</c>) and the API's
/// fault injection: each call opens the cluster's <see cref="IDirectory"/>, acts, and closes it.
/// </summary>
internal static class ClusterAdmin
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
        using var directory = Directories.Open(paths, create: true,
            configure: p => ControlFileDirectory.OpenOrCreate(p, physicalRails, railStyle, errorWindowMs));
        return directory.InitializeHost(host, maxAllocBytes, maxRecvBytes);
    }

    /// <summary>Takes <paramref name="host"/> out of the cluster (a host leave).</summary>
    public static void TakeHostDown(ClusterPaths paths, string host) => With(paths, d => d.TakeHostDown(host));

    /// <summary>
    /// Drops the next <paramref name="count"/> deliveries on <paramref name="logicalRail"/>, to <paramref name="host"/>
    /// or to any host (null): whole writes, never torn or reordered; the rail's error count rises before anything
    /// sent after a drop can be seen. A count of 0 disarms what is pending.
    /// </summary>
    public static void InjectErrors(ClusterPaths paths, int logicalRail, int count, string? host = null) =>
        With(paths, d => d.InjectDrops(logicalRail, count, host));

    /// <summary>Fails physical rail <paramref name="physicalRail"/>; false when it had failed already.</summary>
    public static bool FailRail(ClusterPaths paths, int physicalRail) => With(paths, d => d.FailRail(physicalRail));

    /// <summary>Repairs physical rail <paramref name="physicalRail"/>; false when it was up.</summary>
    public static bool RepairRail(ClusterPaths paths, int physicalRail) => With(paths, d => d.RepairRail(physicalRail));

    /// <summary>
    /// The whole cluster as <c>imcs</c> shows it, read through a read-only mapping: this never changes the cluster
    /// and never waits for a lock.
    /// </summary>
    public static Status.ClusterStatus ReadStatus(ClusterPaths paths) => With(paths, d => d.ReadStatus(), writable: false);

    /// <summary>
    /// Checks the cluster's invariants through a read-only mapping (imcs --check), from a reading taken while the
    /// directory was free and unchanged; <see cref="Status.CheckReport.Busy"/> when none could be had within
    /// <paramref name="patience"/> (default 2 s).
    /// </summary>
    public static Status.CheckReport Check(ClusterPaths paths, TimeSpan? patience = null) =>
        With(paths, d => d.Check(patience ?? TimeSpan.FromSeconds(2)), writable: false);

    /// <summary>Every rail's state, error count and traffic.</summary>
    public static RailStatus ReadRails(ClusterPaths paths) => With(paths, d => d.ReadRails(), writable: false);

    /// <summary>Removes the cluster and its files; false when there was none.</summary>
    public static bool Destroy(ClusterPaths paths) => ControlFileDirectory.Destroy(paths);

    private static void With(ClusterPaths paths, Action<IDirectory> action)
    {
        using var directory = Directories.Open(paths, create: false);
        action(directory);
    }

    private static T With<T>(ClusterPaths paths, Func<IDirectory, T> action, bool writable = true)
    {
        using var directory = Directories.Open(paths, create: false, writable);
        return action(directory);
    }
}
