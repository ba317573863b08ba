using Interconnect.Driver.Directory;

namespace Interconnect.Driver.Store;

/// <summary>
/// The control file as imcd serves it on one machine (<c>imcd --local</c>, Agent.LocalAgent): one directory per
/// connected process, registering only the process the socket names, with the kernel's credentials. What only a
/// cluster across machines has (lock arenas, moving write locks, a clusterwide drop budget) is answered as a cluster on
/// one machine must: there is none.
/// </summary>
internal sealed partial class ControlFileDirectory
{
    /// <summary>
    /// The directory imcd --local serves one connected process with: the cluster's control file, opened now, which
    /// signals only the processes <paramref name="registeredHere"/> says registered through imcd's socket.
    /// </summary>
    internal static ControlFileDirectory Serve(ClusterPaths paths, Func<int, long, bool> registeredHere)
    {
        var local = Open(paths, writable: true);
        local.SignalsOnly = registeredHere;
        return local;
    }

    /// <summary>Nothing to publish: on one machine a lock's owner is its process entry, which <see cref="IsLockOwnerAlive"/> reads.</summary>
    public void PublishOwner(ProcessRegistration process)
    {
    }

    public (byte[] Worker, int Words) LockArena(string machine) =>
        throw new DriverException(DriverStatus.NotSupported,
            $"cluster '{ClusterName}' runs on one machine (imcd --local): it has no lock arena of machine " +
            $"'{ClusterPaths.Printable(machine)}'; its lock words are in its control file");

    public LockSetHome RehomeWriteLock(int key, LockSetHome failed) =>
        throw new DriverException(DriverStatus.NotSupported,
            $"cluster '{ClusterName}' runs on one machine (imcd --local): the write lock of coherent region key {key} is in " +
            "its control file and never moves");

    /// <summary>The up hosts, in slot order: on one machine, every host of the cluster.</summary>
    public IReadOnlyList<string> ClusterHosts() => _cluster.ReadInfo().Hosts;

    public bool ClaimBudgetedDrop(int logicalRail, int host) =>
        throw new DriverException(DriverStatus.NotSupported,
            $"cluster '{ClusterName}' runs on one machine (imcd --local): it has no clusterwide drop budget; a writer " +
            "claims its drops in the control file");
}
