using System.Runtime.CompilerServices;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Fabric.MemoryMapped;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// One process's view of one cluster: the mapped control file, the fabric, and the way into the directory.
/// </summary>
internal sealed unsafe partial class Cluster : IDisposable
{
    private static readonly TimeSpan s_directoryTimeout = TimeSpan.FromSeconds(30);

    // Threads of this process take turns here before they contend for the cross-process lock.
    private readonly Lock _processLock = new();
    private readonly MemoryMappedFabric _memory;

    private Cluster(ClusterPaths paths, ControlFile control)
    {
        Paths = paths;
        Control = control;
        _tallyCount = (int*)Unsafe.AsPointer(ref control.Words.TallyCount);
        _memory = new MemoryMappedFabric(paths.RegionsDirectory, CheckReceiveFile);
        Events = new ClusterEventWatcher(this);
    }

    public ClusterEventWatcher Events { get; }

    public ClusterPaths Paths { get; }

    public ControlFile Control { get; }

    public IFabric Fabric => _memory;

    /// <summary>True when the cluster's control file is there (as anything: a link in its place is refused when opened).</summary>
    public static bool Exists(ClusterPaths paths) => NoFollow.LinkStatus(paths.ControlFile) is not null;

    /// <summary>Maps a receive file of this machine as the fabric does (links refused, owner checked).</summary>
    public MappedFile MapReceiveFile(ReceiveFileName name, long length, bool writable) => _memory.Map(name, length, writable);

    /// <summary>Opens an existing cluster; <see cref="DriverStatus.NotInitialized"/> when there is none.</summary>
    public static Cluster Open(ClusterPaths paths, ControlAccess access = ControlAccess.All)
    {
        CheckRoot(paths);
        CheckOwners(paths);
        if (!Exists(paths))
        {
            throw new DriverException(DriverStatus.NotInitialized,
                $"no cluster '{paths.Cluster}' under {paths.Root}: run imc_init (or set IMC_AUTO_INIT=1)");
        }

        return new Cluster(paths, ControlFile.Open(paths, access));
    }

    /// <summary>
    /// Opens the cluster, creating it first if it does not exist. The new cluster is built in a temporary folder and
    /// renamed into place, so another process sees either no cluster or a complete one.
    /// </summary>
    public static Cluster OpenOrCreate(ClusterPaths paths, ClusterConfiguration configuration)
    {
        CheckRoot(paths);
        CheckOwners(paths);
        if (!Exists(paths))
        {
            configuration.Validate();
            Create(paths, configuration);
            CheckOwners(paths); // another process may have made it first
        }

        return new Cluster(paths, ControlFile.Open(paths, ControlAccess.All));
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

    public void Dispose()
    {
        Control.Dispose();
        DisposeEntryFiles();
        DisposeTallies();
    }

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

    /// <summary>
    /// As root or as the machine's agent (<see cref="FileOwners.Strict"/>): refuses a cluster whose folders another
    /// user owns or could replace (IMC_ROOT and every folder above it, the cluster's folder, <c>regions/</c>, <c>locksets/</c>,
    /// <c>windows/</c>, <c>tallies/</c>), saying
    /// which and what to do. An ordinary process trusts every user of the cluster and checks nothing here.
    /// </summary>
    private static void CheckOwners(ClusterPaths paths)
    {
        paths.Owners.CheckFolders(paths.RegionsDirectory,
            (paths.Root, "IMC_ROOT"), (paths.ClusterDirectory, "cluster folder"), (paths.RegionsDirectory, "folder of receive files"));
        paths.Owners.CheckFolders(paths.LockSetsDirectory,
            (paths.Root, "IMC_ROOT"), (paths.ClusterDirectory, "cluster folder"), (paths.LockSetsDirectory, "folder of lock set files"));
        paths.Owners.CheckFolders(paths.WindowsDirectory,
            (paths.Root, "IMC_ROOT"), (paths.ClusterDirectory, "cluster folder"), (paths.WindowsDirectory, "folder of region windows files"));
        paths.Owners.CheckFolders(paths.TalliesDirectory,
            (paths.Root, "IMC_ROOT"), (paths.ClusterDirectory, "cluster folder"), (paths.TalliesDirectory, "folder of loss tallies"));
    }

    /// <summary>
    /// A receive file of <c>regions/</c> (open to every user) that a strict process may use: one that root or its
    /// own user owns, or that a user who may read the region made (its owner, a member of its group where the group
    /// may read it, anyone where others may). A file someone else put under a receive file's name is refused, so no
    /// region's data is written into, or read from, a file of a user who has no right to it.
    /// </summary>
    private void CheckReceiveFile(ReceiveFileName name, string path, FileStatus status)
    {
        var owners = Paths.Owners;
        if (owners.Trusts(status.Uid))
        {
            return;
        }

        for (var slot = 0; slot < ControlLayout.MaxRegions; slot++)
        {
            ref var region = ref Control.Region(slot);
            // State is written last when an entry is made (and first when freed): live here means the rest is whole.
            if (Volatile.Read(ref region.State) == RegionEntry.StateLive && region.Id == name.RegionId)
            {
                var bits = status.Uid == region.OwnerUid ? region.Permissions >> 6
                    : status.Gid == region.OwnerGid ? region.Permissions >> 3
                    : region.Permissions;
                if ((bits & Credentials.Read) != 0)
                {
                    return;
                }

                throw owners.Untrusted(path, "receive file", status.Uid,
                    $" (one who may not read region key {region.Key}, whose file it names)");
            }
        }

        throw owners.Untrusted(path, "receive file", status.Uid, " (for a region the directory does not hold)");
    }

    private static void Create(ClusterPaths paths, ClusterConfiguration configuration)
    {
        try
        {
            if (!System.IO.Directory.Exists(paths.Root))
            {
                CreateRoot(paths.Root);
            }

            var staging = Path.Combine(paths.Root, $".{paths.Cluster}.creating-{Environment.ProcessId}-{Guid.NewGuid():N}");
            NoFollow.CreateDirectory(staging, 0b111_101_101, "new cluster folder");
            try
            {
                // Sticky and open to all, as /tmp: any user of the cluster creates receive files, none removes another's.
                NoFollow.CreateDirectory(Path.Combine(staging, "regions"), 0b1_111_111_111, "folder of receive files");
                NoFollow.CreateDirectory(Path.Combine(staging, "locksets"), 0b1_111_111_111, "folder of lock set files");
                NoFollow.CreateDirectory(Path.Combine(staging, "windows"), 0b1_111_111_111, "folder of region windows files");
                // Only imcd makes a loss tally (one per user it registers), so the folder is closed from the start.
                NoFollow.CreateDirectory(Path.Combine(staging, "tallies"), 0b111_101_101, "folder of loss tallies");
                ControlFile.Create(staging, configuration);

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
        catch (Exception e) when (e is UnauthorizedAccessException || e is DriverException { Status: DriverStatus.Permit })
        {
            throw new DriverException(DriverStatus.InitError,
                $"cannot create cluster '{paths.Cluster}' under {paths.Root}: permission denied; " +
                "set IMC_ROOT to a folder you may write (default /dev/shm/imc)", e);
        }
        catch (DriverException e) when (e.Status == DriverStatus.OpenError)
        {
            throw new DriverException(DriverStatus.InitError, $"cannot create cluster '{paths.Cluster}' under {paths.Root}: {e.Message}", e);
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new DriverException(DriverStatus.InitError,
                $"cannot create cluster '{paths.Cluster}' under {paths.Root}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Makes IMC_ROOT like /tmp (mode 1777): every user may make a cluster, none may remove another's. Its parents are
    /// made as any folder is; a process that checks owners checks them all before it uses the cluster.
    /// </summary>
    private static void CreateRoot(string root)
    {
        if (Path.GetDirectoryName(root) is { } parent)
        {
            System.IO.Directory.CreateDirectory(parent);
        }

        try
        {
            NoFollow.CreateDirectory(root, 0b1_111_111_111, "IMC_ROOT");
        }
        catch (DriverException) when (NoFollow.LinkStatus(root) is { IsDirectory: true })
        {
            // Another process made it first.
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
