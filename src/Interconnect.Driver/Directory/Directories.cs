using Interconnect.Driver.Agent;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Driver.Store;

namespace Interconnect.Driver.Directory;

/// <summary>
/// Chooses the cluster's directory: this machine's control file (the embedded default); imcd when its socket is in the
/// cluster's folder (<c>imcd --local</c>: the mediated model on one machine); or etcd through this machine's imcd when
/// <c>IMC_DIRECTORY</c> names its endpoints and the cluster spans machines.
/// </summary>
internal static class Directories
{
    /// <summary>
    /// This process's UCX, made on its first use of another machine: one per process, since its writer id numbers the
    /// process's writes to each machine and its exit flush covers them all. Given to every directory across machines.
    /// </summary>
    internal static readonly Lazy<UcxFabric> ProcessFabric = new(() => new UcxFabric(), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Flushes what this process wrote to other machines, if it wrote any, before it exits (API.md).</summary>
    internal static void FlushAtExit()
    {
        if (ProcessFabric.IsValueCreated)
        {
            ProcessFabric.Value.FlushAtExit();
        }
    }

    /// <summary><c>IMC_DIRECTORY</c>: etcd's client URLs, or null for a cluster on one machine.</summary>
    public static string? Endpoints =>
        Environment.GetEnvironmentVariable("IMC_DIRECTORY") is { Length: > 0 } endpoints ? endpoints : null;

    /// <summary>This machine's name in the cluster: <c>IMC_MACHINE</c>, else the machine's host name.</summary>
    public static string MachineName =>
        Environment.GetEnvironmentVariable("IMC_MACHINE") is { Length: > 0 } machine ? machine : Environment.MachineName;

    /// <summary>
    /// Opens the cluster's directory. On one machine, <paramref name="create"/> makes the cluster if there is none
    /// (with <paramref name="configure"/>'s rails); across machines the machine's agent (imcd) has made it.
    /// </summary>
    public static IDirectory Open(ClusterPaths paths, bool create, bool writable = true,
        Func<ClusterPaths, ControlFileDirectory>? configure = null)
    {
        ClusterFolder.CheckMayEnter(paths);
        if (Endpoints is not null)
        {
            // Across machines: the machine's imcd reaches etcd, with its credentials; this process reaches imcd.
            return AgentDirectory.Open(paths, MachineName, ProcessFabric);
        }

        if (AgentDirectory.IsServed(paths))
        {
            // imcd serves the cluster (imcd --local): the admin chose the mediated model, so this process asks imcd, and
            // fails saying so when no imcd answers; it never changes the directory itself behind imcd's back.
            return AgentDirectory.Open(paths, MachineName, ProcessFabric, acrossMachines: false);
        }

        if (create)
        {
            return configure is null ? ControlFileDirectory.OpenOrCreate(paths) : configure(paths);
        }

        return ControlFileDirectory.Open(paths, writable ? ControlAccess.All : ControlAccess.Read);
    }
}
