using Interconnect.Driver.Fabric;
using Interconnect.Driver.Fabric.MemoryMapped;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// One process's view of one cluster: the mapped control file, the fabric, and the way into the directory.
/// </summary>
internal sealed partial class Cluster : IDisposable
{
    private static readonly TimeSpan s_directoryTimeout = TimeSpan.FromSeconds(30);

    // Threads of this process take turns here before they contend for the cross-process lock.
    private readonly Lock _processLock = new();

    private Cluster(ClusterPaths paths, ControlFile control)
    {
        Paths = paths;
        Control = control;
        Fabric = new MemoryMappedFabric(paths.RegionsDirectory);
        Events = new ClusterEventWatcher(this);
    }

    public ClusterEventWatcher Events { get; }

    public ClusterPaths Paths { get; }

    public ControlFile Control { get; }

    public IFabric Fabric { get; }

    public static bool Exists(ClusterPaths paths) => File.Exists(paths.ControlFile);

    /// <summary>Opens an existing cluster; <see cref="DriverStatus.NotInitialized"/> when there is none.</summary>
    public static Cluster Open(ClusterPaths paths, bool writable = true)
    {
        CheckRoot(paths);
        if (!File.Exists(paths.ControlFile))
        {
            throw new DriverException(DriverStatus.NotInitialized,
                $"no cluster '{paths.Cluster}' under {paths.Root}: run imc_init (or set IMC_AUTO_INIT=1)");
        }

        return new Cluster(paths, ControlFile.Open(paths.ControlFile, writable));
    }

    /// <summary>
    /// Opens the cluster, creating it first if it does not exist. The new cluster is built in a temporary folder and
    /// renamed into place, so another process sees either no cluster or a complete one.
    /// </summary>
    public static Cluster OpenOrCreate(ClusterPaths paths, ClusterConfiguration configuration)
    {
        CheckRoot(paths);
        if (!File.Exists(paths.ControlFile))
        {
            configuration.Validate();
            Create(paths, configuration);
        }

        return new Cluster(paths, ControlFile.Open(paths.ControlFile));
    }

    /// <summary>Removes the cluster's folder and everything in it.</summary>
    public static bool Destroy(ClusterPaths paths)
    {
        if (!System.IO.Directory.Exists(paths.ClusterDirectory))
        {
            return false;
        }

        // Rename first, so no process opens a half-removed cluster; then remove at leisure.
        var doomed = Path.Combine(paths.Root, $".{paths.Cluster}.destroyed-{Environment.ProcessId}-{Guid.NewGuid():N}");
        System.IO.Directory.Move(paths.ClusterDirectory, doomed);
        System.IO.Directory.Delete(doomed, recursive: true);
        return true;
    }

    public DirectoryScope EnterDirectory() => new(this);

    public void Dispose() => Control.Dispose();

    private static void CheckRoot(ClusterPaths paths)
    {
        if (File.Exists(paths.Root))
        {
            throw new DriverException(DriverStatus.OpenError,
                $"IMC_ROOT {paths.Root} is a file, not a folder: point IMC_ROOT at a folder (default /dev/shm/imc)");
        }

        if (File.Exists(paths.ClusterDirectory))
        {
            throw new DriverException(DriverStatus.OpenError,
                $"{paths.ClusterDirectory} is a file, not a cluster folder: remove it or choose another IMC_CLUSTER");
        }
    }

    private static void Create(ClusterPaths paths, ClusterConfiguration configuration)
    {
        try
        {
            if (!System.IO.Directory.Exists(paths.Root))
            {
                // Like /tmp: every user may make a cluster, none may remove another's.
                System.IO.Directory.CreateDirectory(paths.Root);
                TrySetMode(paths.Root, (UnixFileMode)0b1_111_111_111);
            }

            var staging = Path.Combine(paths.Root, $".{paths.Cluster}.creating-{Environment.ProcessId}-{Guid.NewGuid():N}");
            System.IO.Directory.CreateDirectory(staging);
            try
            {
                File.SetUnixFileMode(staging, (UnixFileMode)0b111_101_101);
                var regions = Path.Combine(staging, "regions");
                System.IO.Directory.CreateDirectory(regions);
                // Sticky and open to all, as /tmp: any user of the cluster creates receive files, none removes another's.
                File.SetUnixFileMode(regions, (UnixFileMode)0b1_111_111_111);
                using (ControlFile.Create(Path.Combine(staging, "control"), configuration))
                {
                }

                try
                {
                    System.IO.Directory.Move(staging, paths.ClusterDirectory);
                    staging = null;
                }
                catch (IOException) when (File.Exists(paths.ControlFile))
                {
                    // Another process created the cluster first: use theirs.
                }
            }
            finally
            {
                if (staging is not null && System.IO.Directory.Exists(staging))
                {
                    System.IO.Directory.Delete(staging, recursive: true);
                }
            }
        }
        catch (UnauthorizedAccessException e)
        {
            throw new DriverException(DriverStatus.InitError,
                $"cannot create cluster '{paths.Cluster}' under {paths.Root}: permission denied; " +
                "set IMC_ROOT to a folder you may write (default /dev/shm/imc)", e);
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new DriverException(DriverStatus.InitError,
                $"cannot create cluster '{paths.Cluster}' under {paths.Root}: {e.Message}", e);
        }
    }

    private static void TrySetMode(string path, UnixFileMode mode)
    {
        try
        {
            File.SetUnixFileMode(path, mode);
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// The directory held: this process's threads take turns, then the cross-process lock. Entering also reclaims
    /// what dead processes held, and repairs what a holder that died mid-change left half-done.
    /// </summary>
    internal readonly ref struct DirectoryScope
    {
        private readonly Cluster _cluster;
        private readonly long _me;

        public DirectoryScope(Cluster cluster)
        {
            _cluster = cluster;
            _me = ProcessIdentity.Current.LockValue;
            cluster._processLock.Enter();
            try
            {
                ref var header = ref cluster.Control.Header;
                var recovered = RobustLock.Enter(ref header.DirectoryOwner, _me, s_directoryTimeout,
                    $"the directory lock of cluster '{cluster.Paths.Cluster}'");
                if (recovered)
                {
                    header.Recoveries++;
                }

                try
                {
                    cluster.Reclaim(fullRepair: recovered);
                }
                catch
                {
                    header.DirectoryChanges++;
                    RobustLock.Exit(ref header.DirectoryOwner, _me);
                    throw;
                }
            }
            catch
            {
                cluster._processLock.Exit();
                throw;
            }
        }

        public void Dispose()
        {
            ref var header = ref _cluster.Control.Header;
            header.DirectoryChanges++;
            RobustLock.Exit(ref header.DirectoryOwner, _me);
            _cluster._processLock.Exit();
        }
    }
}
