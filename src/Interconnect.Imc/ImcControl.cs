using Interconnect.Driver;
using Interconnect.Imc.Internal;

namespace Interconnect.Imc;

/// <summary>
/// The emulator's own controls, what <c>imcctl</c> does, for programs that test their recovery code against faults
/// that real hardware could never produce on demand: dropped transmissions, a physical rail failing and coming back,
/// and removing a cluster. Each call acts on the cluster that the <see cref="ImcOptions"/> given (or the environment) names
/// and needs no <see cref="ImcContext"/>.
/// </summary>
public static class ImcControl
{
    /// <summary>
    /// Drops the next <paramref name="count"/> transmissions on <paramref name="logicalRail"/>, toward
    /// <paramref name="hostName"/> or toward any host (null) (<c>imcctl inject-error</c>). One write toward one
    /// receiving host is one transmission. A dropped transmission is a whole write, never torn or reordered, and the
    /// rail's error count rises before anything sent after it can be seen. A count of 0 disarms what is pending.
    /// </summary>
    /// <exception cref="ImcException">
    /// <see cref="ImcStatus.BadRail"/>, <see cref="ImcStatus.BadHost"/> (no such host is up),
    /// <see cref="ImcStatus.BadParameter"/> (a negative count), <see cref="ImcStatus.NotInitialized"/> (no cluster).
    /// </exception>
    public static void InjectErrors(int logicalRail, int count, string? hostName = null, ImcOptions? options = null) =>
        Boundary.Run(() => ClusterAdmin.InjectErrors(ResolvePaths(options), logicalRail, count, hostName));

    /// <summary>
    /// Fails physical rail <paramref name="physicalRail"/> (<c>imcctl fail-rail</c>): in a failover pair traffic moves
    /// to the other physical rail, in single-rail style the logical rail goes down; either way a
    /// <see cref="ImcClusterEventKind.RailChange"/>. Returns false when the rail had failed already.
    /// </summary>
    /// <exception cref="ImcException"><see cref="ImcStatus.BadRail"/>, <see cref="ImcStatus.NotInitialized"/>.</exception>
    public static bool FailRail(int physicalRail, ImcOptions? options = null) =>
        Boundary.Run(() => ClusterAdmin.FailRail(ResolvePaths(options), physicalRail));

    /// <summary>
    /// Repairs physical rail <paramref name="physicalRail"/> (<c>imcctl repair-rail</c>). Returns false when it was up.
    /// </summary>
    /// <exception cref="ImcException"><see cref="ImcStatus.BadRail"/>, <see cref="ImcStatus.NotInitialized"/>.</exception>
    public static bool RepairRail(int physicalRail, ImcOptions? options = null) =>
        Boundary.Run(() => ClusterAdmin.RepairRail(ResolvePaths(options), physicalRail));

    /// <summary>
    /// Removes the cluster and its files (<c>imcctl destroy</c>). Returns false when there was none. Processes still
    /// registered in it keep what they mapped but can make no further directory operation.
    /// </summary>
    public static bool DestroyCluster(ImcOptions? options = null) =>
        Boundary.Run(() => ClusterAdmin.Destroy(ResolvePaths(options)));

    private static ClusterPaths ResolvePaths(ImcOptions? options) =>
        ClusterPaths.Resolve(options?.Root, options?.Cluster);
}
