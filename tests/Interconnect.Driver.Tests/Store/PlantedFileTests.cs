using System.Security.Cryptography;
using Interconnect.Driver.Agent.Machine;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store;
using Interconnect.Driver.Store.Layout;
using Interconnect.Imc;
using Interconnect.Testing;

namespace Interconnect.Driver.Tests.Store;

/// <summary>
/// Another user (nobody) plants a link, a FIFO, a file or a folder of theirs where a root process or the machine's
/// agent (imcd) makes or opens one of the cluster's: each is refused with one line naming the path, its owner and what
/// to do, and a root-owned file outside the cluster that a link points at is left as it was (contents and mtime).
/// </summary>
[Category(DotnetProcess.AsAnotherUser)]
public sealed class PlantedFileTests
{
    private const string Planter = "nobody";
    private TemporaryCluster _root = null!;
    private string _outside = null!;
    private string _victim = null!;
    private (byte[] Hash, DateTime Modified, long Length) _before;

    [SetUp]
    public void SetUp()
    {
        AnotherUser.RequireRoot("plants files as another user before a root process uses the cluster");
        _root = TemporaryCluster.CreateEmpty();
        // A root-owned file outside every cluster, in a folder only root may write: what a planted link points at.
        _outside = Path.Combine(Path.GetDirectoryName(_root.Root)!, $"imc-outside-{Guid.NewGuid():N}"[..24]);
        System.IO.Directory.CreateDirectory(_outside);
        File.SetUnixFileMode(_outside, (UnixFileMode)0b111_101_101);
        _victim = Path.Combine(_outside, "root-owned");
        File.WriteAllBytes(_victim, RandomNumberGenerator.GetBytes(4096));
        File.SetLastWriteTimeUtc(_victim, new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        _before = Fingerprint();
    }

    [TearDown]
    public void TearDown()
    {
        _root?.Dispose();
        if (_outside is not null && System.IO.Directory.Exists(_outside))
        {
            System.IO.Directory.Delete(_outside, recursive: true);
        }
    }

    private ClusterPaths Paths => ClusterPaths.Resolve(_root.Root, "c");

    private static void Plant(string command) => AnotherUser.Shell(Planter, command);

    private (byte[] Hash, DateTime Modified, long Length) Fingerprint() =>
        (SHA256.HashData(File.ReadAllBytes(_victim)), File.GetLastWriteTimeUtc(_victim), new FileInfo(_victim).Length);

    private void AssertVictimUnchanged()
    {
        var after = Fingerprint();
        Assert.That(after.Hash, Is.EqualTo(_before.Hash), "the root-owned file outside the cluster was written");
        Assert.That(after.Modified, Is.EqualTo(_before.Modified), "the root-owned file outside the cluster was touched");
        Assert.That(after.Length, Is.EqualTo(_before.Length), "the root-owned file outside the cluster was resized");
    }

    /// <summary>A cluster folder that root owns but every user may add to (sticky, as /tmp): the files in it are then judged alone.</summary>
    private string OpenRootOwnedFolder()
    {
        var folder = Paths.ClusterDirectory;
        System.IO.Directory.CreateDirectory(folder);
        File.SetUnixFileMode(folder, (UnixFileMode)0b1_111_111_111);
        return folder;
    }

    private static DriverException Refused(TestDelegate open, params string[] mentions)
    {
        var e = Assert.Throws<DriverException>(open)!;
        Assert.That(e.Message.Split('\n'), Has.Length.EqualTo(1), e.Message);
        foreach (var mention in mentions)
        {
            Assert.That(e.Message, Does.Contain(mention));
        }

        return e;
    }

    [TestCase("ln -s {victim} {path}", "is a symbolic link")]
    [TestCase("mkfifo {path}", "is a FIFO, not a regular file")]
    [TestCase("head -c 32768 /dev/zero > {path}", "is owned by nobody (uid 65534), not by root (uid 0)")]
    public void ShouldRefuseWhatAnotherUserPutWhereTheAgentKeepsItsLockArena(string plant, string refusal)
    {
        var path = Path.Combine(OpenRootOwnedFolder(), "locks");
        Plant(plant.Replace("{victim}", _victim, StringComparison.Ordinal).Replace("{path}", path, StringComparison.Ordinal));
        var planted = NoFollowStatus(path);

        Refused(() => MachineLocks.OpenArenaFile(Paths.ForAgent()).Dispose(), path, refusal);

        AssertVictimUnchanged();
        Assert.That(NoFollowStatus(path), Is.EqualTo(planted), "the planted file was left as it was");
    }

    [TestCase("ln -s {victim} {path}", "is a symbolic link")]
    [TestCase("printf 0123456789abcdef0123456789abcdef > {path}", "is owned by nobody (uid 65534)")]
    public void ShouldRefuseAMachineInstanceFileAnotherUserPut(string plant, string refusal)
    {
        var path = Path.Combine(OpenRootOwnedFolder(), "machine-instance");
        Plant(plant.Replace("{victim}", _victim, StringComparison.Ordinal).Replace("{path}", path, StringComparison.Ordinal));

        Refused(() => Membership.ReadInstance(Paths.ForAgent()), path, refusal);

        AssertVictimUnchanged();
    }

    [Test]
    public void ShouldMakeTheLockArenaItselfWhenNothingIsThere()
    {
        OpenRootOwnedFolder();

        using (var arena = MachineLocks.OpenArenaFile(Paths.ForAgent()))
        {
            Assert.That(arena.Length, Is.EqualTo(MachineLocks.ArenaWords * sizeof(long)));
        }

        var made = NoFollowStatus(Path.Combine(Paths.ClusterDirectory, "locks"))!.Value;
        Assert.That((made.IsRegularFile, made.Uid, made.Permissions), Is.EqualTo((true, 0, 0b110_000_000)), "a regular file of root's, mode 0600");
        using var again = MachineLocks.OpenArenaFile(Paths.ForAgent());
    }

    [TestCase("ln -s {victim} {path}")]
    [TestCase("ln -s {folder}/nowhere {path}")]
    public void ShouldNotFollowAControlFileLinkThatAnotherUserPut(string plant)
    {
        var folder = OpenRootOwnedFolder();
        var path = Path.Combine(folder, "control");
        Plant(plant.Replace("{victim}", _victim, StringComparison.Ordinal).Replace("{path}", path, StringComparison.Ordinal)
            .Replace("{folder}", folder, StringComparison.Ordinal));

        Refused(() => ClusterAdmin.InitializeHost(Paths, "alpha", null, null, null, null, null), path, "is a symbolic link");
        Refused(() => ControlFileDirectory.OpenOrCreate(Paths.ForAgent()).Dispose(), path, "is a symbolic link");

        AssertVictimUnchanged();
        Assert.That(File.Exists(Path.Combine(folder, "nowhere")), Is.False, "nothing was made where the link points");
    }

    [Test]
    public void ShouldRefuseAClusterFolderAnotherUserOwnsBeforeMakingAnythingInIt()
    {
        var folder = Paths.ClusterDirectory;
        Plant($"mkdir -m 0777 {folder} && ln -s {_victim} {folder}/locks && ln -s {_victim} {folder}/control");

        Refused(() => ControlFileDirectory.OpenOrCreate(Paths.ForAgent()).Dispose(),
            $"cluster folder {folder} is owned by nobody (uid 65534)", "remove it", "start this program as nobody");
        Refused(() => ClusterAdmin.InitializeHost(Paths, "alpha", null, null, null, null, null),
            $"cluster folder {folder} is owned by nobody (uid 65534)");

        AssertVictimUnchanged();
        Assert.That(System.IO.Directory.GetFileSystemEntries(folder).Select(Path.GetFileName), Is.EquivalentTo(new[] { "locks", "control" }));
    }

    [Test]
    public void ShouldRefuseAnImcRootAnotherUserMadeAsImcInitRunAsRoot()
    {
        // The user report: another user made IMC_ROOT (1777) and a cluster folder in it before root came.
        var root = Path.Combine(_root.Root, "imc");
        Plant($"mkdir -m 1777 {root} && mkdir {root}/c && ln -s {_victim} {root}/c/locks");

        var result = Command.Run("imc_init", root, "c", "--host", "alpha");

        Assert.That(result.ExitCode, Is.EqualTo(1), result.Output + result.Error);
        Assert.That(result.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), result.Error);
        Assert.That(result.Error, Does.StartWith($"imc_init: IMC_ROOT {root} is owned by nobody (uid 65534), not by root (uid 0)")
            .And.Contain("start this program as nobody"));
        AssertVictimUnchanged();
        Assert.That(System.IO.Directory.GetFileSystemEntries(root), Has.Length.EqualTo(1), "nothing made beside the planted folder");
    }

    [Test]
    public void ShouldRefuseAFolderAboveTheClusterThatOthersMayWriteWithoutTheStickyBit()
    {
        var root = Path.Combine(_root.Root, "open");
        System.IO.Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, (UnixFileMode)0b111_111_111);

        var result = Command.Run("imc_init", root, "c", "--host", "alpha");

        Assert.That(result.ExitCode, Is.EqualTo(1), result.Output + result.Error);
        Assert.That(result.Error, Does.Contain($"IMC_ROOT {root} (mode 777) may be written by other users and is not sticky"));
    }

    [Test]
    public void ShouldWriteARegionOnlyIntoReceiveFilesOfUsersWhoMayReadIt()
    {
        using var cluster = TemporaryClusterAt("alpha", "beta");
        using var context = ImcContext.Open(_root.Options("alpha", "c"));
        using var secret = context.AllocateRegion(5, 8192, ImcPermissions.UserReadWrite);
        using var open = context.AllocateRegion(6, 8192, ImcPermissions.UserReadWrite | ImcPermissions.GroupReadWrite | ImcPermissions.OtherReadWrite);
        using var secretReceive = secret.AttachReceive();
        using var openReceive = open.AttachReceive();
        var ids = System.IO.Directory.GetFiles(Paths.RegionsDirectory)
            .Select(f => ReceiveFileName.TryParse(Path.GetFileName(f), out var n) ? n.RegionId : -1).Order().ToArray();
        Assert.That(ids, Has.Length.EqualTo(2));
        // Under the names host beta's receive files of both regions would take, as if beta had attached.
        var secretName = new ReceiveFileName(ids[0], 1, 1);
        var openName = new ReceiveFileName(ids[1], 1, 1);
        Plant($"cd {Paths.RegionsDirectory} && head -c 8192 /dev/zero > {secretName} && head -c 8192 /dev/zero > {openName} " +
            $"&& ln -s {_victim} r{ids[0]}.h2.e1");

        Refused(() => cluster.MapReceiveFile(secretName, 8192, writable: true).Dispose(),
            $"receive file {Path.Combine(Paths.RegionsDirectory, secretName.ToString())} is owned by nobody (uid 65534)",
            "may not read region key 5");
        Refused(() => cluster.MapReceiveFile(new ReceiveFileName(ids[0], 2, 1), 8192, writable: true).Dispose(), "is a symbolic link");
        using var allowed = cluster.MapReceiveFile(openName, 8192, writable: true); // anyone may read region 6

        AssertVictimUnchanged();
    }

    /// <summary>
    /// A root process uses a lock set's, a region's or a user's own file (lock words, window words, loss tally) only when
    /// root or the entry's owner owns it: files nobody put under their names, in place of root's, are refused, and a
    /// link is not followed.
    /// </summary>
    [Test]
    public void ShouldUseAnEntrysOwnFileOnlyWhenRootOrTheEntrysOwnerOwnsIt()
    {
        using var cluster = TemporaryClusterAt("alpha");
        using var context = ImcContext.Open(_root.Options("alpha", "c"));
        using var locks = context.AllocateLockSet(7, 2);
        using var region = context.AllocateRegion(8, 8192, ImcPermissions.UserReadWrite);
        var set = cluster.Control.LockSet(Enumerable.Range(0, ControlLayout.MaxLockSets)
            .Single(i => cluster.Control.LockSet(i).State == LockSetEntry.StateLive));
        var entry = cluster.Control.Region(Enumerable.Range(0, ControlLayout.MaxRegions)
            .Single(i => cluster.Control.Region(i).State == RegionEntry.StateLive));
        var lockWords = LockSetFile.PathOf(Paths, set.Id);
        var windows = RegionWindowsFile.PathOf(Paths, entry.Id);
        var tally = TallyFile.PathOf(Paths, 0);
        // Each folder opened to nobody for the plant, as a folder of the embedded default is (1777).
        foreach (var folder in new[] { Paths.LockSetsDirectory, Paths.WindowsDirectory, Paths.TalliesDirectory })
        {
            File.SetUnixFileMode(folder, (UnixFileMode)0b1_111_111_111);
        }

        File.Delete(lockWords);
        File.Delete(windows);
        Plant($"head -c {LockSetFile.Length(set.Count)} /dev/zero > {lockWords} && ln -s {_victim} {windows} && " +
            $"head -c {TallyFile.Length} /dev/zero > {tally}");

        Refused(() => LockSetFile.Open(Paths, set, writable: true).Dispose(),
            $"lock set file {lockWords} is owned by nobody (uid 65534)", "not the owner of lock set key 7");
        Refused(() => RegionWindowsFile.Open(Paths, entry, writable: true).Dispose(), "is a symbolic link");
        Refused(() => TallyFile.Open(Paths, 0, writable: false).Dispose(),
            $"loss tally {tally} is owned by nobody (uid 65534)", "not the owner of user 0's losses");

        AssertVictimUnchanged();
    }

    private Cluster TemporaryClusterAt(params string[] hosts)
    {
        foreach (var host in hosts)
        {
            _ = ClusterAdmin.InitializeHost(Paths, host, null, null, null, null, null);
        }

        return Cluster.Open(Paths);
    }

    /// <summary>What is at <paramref name="path"/> itself (a link is described, not followed).</summary>
    private static FileStatus? NoFollowStatus(string path) => NoFollow.LinkStatus(path);
}
