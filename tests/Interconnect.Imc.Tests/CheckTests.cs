using Interconnect.Driver;
using Interconnect.Driver.Store;
using Interconnect.Driver.Store.Layout;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>
/// The integrity check (ClusterAdmin.Check, imcs --check) catches damage: a real cluster with regions, attachments and
/// a held lock is copied to a second folder, one thing is corrupted in the copy, and the check must name it.
/// </summary>
public sealed class CheckTests
{
    private const int RegionKey = 7;
    private const int LockKey = 40;
    private TemporaryCluster _cluster = null!;
    private TemporaryCluster _copy = null!;
    private ImcContext _alpha = null!;

    [SetUp]
    public void SetUp()
    {
        _cluster = TemporaryCluster.Create("alpha", "beta");
        _copy = TemporaryCluster.CreateEmpty();
        _alpha = _cluster.Open("alpha");
        var region = _alpha.AllocateRegion(RegionKey, 8192);
        _ = region.AttachTransmit();
        _ = _alpha.AllocateLockSet(LockKey, 2);
        var beta = _cluster.StartPeer("beta");
        beta.Send($"alloc {RegionKey} 8192");
        beta.Send($"rx {RegionKey}");
        beta.Send($"lkalloc {LockKey} 2");
        beta.Send($"acquire {LockKey} 1");

        // Every operation above has returned: the directory is at rest, and its copy is a consistent one.
        CopyDirectory(_cluster.Paths.ClusterDirectory, Path.Combine(_copy.Root, TemporaryCluster.ClusterName));
        Assert.That(ClusterAdmin.Check(_copy.Paths).Violations, Is.Empty, "the undamaged copy checks clean");
    }

    [TearDown]
    public void TearDown()
    {
        _alpha.Dispose();
        _copy.Dispose();
        _cluster.Dispose();
    }

    [Test]
    public void ShouldReportARegionWhoseAllocationEntriesAreGone()
    {
        long id = 0;
        Damage(c =>
        {
            var slot = RegionSlot(c);
            id = c.Control.Region(slot).Id;
            foreach (var i in Attachments(c, a => a.Kind == AttachmentEntry.KindAllocation && a.Target == slot))
            {
                c.Control.Attachment(i).State = AttachmentEntry.StateFree;
            }
        });

        ExpectViolation($"region key {RegionKey} (id {id}) is allocated by no process");
    }

    [Test]
    public void ShouldReportALockHeldByAnUnregisteredProcess()
    {
        Damage(c =>
        {
            ref var owner = ref c.LockWord(LockSetSlot(c), 1).Owner;
            Assert.That(owner, Is.Not.Zero, "the peer holds lock 1");
            owner = (owner & ~0xffff_ffffL) | (uint)(FreeProcessEntry(c) + 1); // the same incarnation, an empty process entry
        });

        ExpectViolation($"lock set key {LockKey}", "lock 1 is held by", "which is no registered process");
    }

    /// <summary>A live lock set whose words file was removed behind the directory's back: its locks cannot be checked or used.</summary>
    [Test]
    public void ShouldReportALockSetWhoseWordsFileIsGone()
    {
        Damage(c => File.Delete(LockSetFile.PathOf(c.Paths, c.Control.LockSet(LockSetSlot(c)).Id)));

        ExpectViolation($"lock set key {LockKey}", "its words cannot be mapped");
    }

    [Test]
    public void ShouldReportALockHeldByAStaleIncarnationOfALiveProcessEntry()
    {
        Damage(c =>
        {
            ref var owner = ref c.LockWord(LockSetSlot(c), 1).Owner;
            owner += 1L << 32; // the holder's entry, another incarnation: a process that reused the entry
        });

        ExpectViolation($"lock set key {LockKey}", "lock 1 is held by", "which is no registered process");
    }

    [Test]
    public void ShouldReportMoreAllocatedThanMaxAlloc()
    {
        Damage(c => c.Control.Header.MaxAllocBytes = 4096);

        ExpectViolation("8192 bytes are allocated, over maxalloc 4096");
    }

    [Test]
    public void ShouldReportARegionSizeThatNoLongerMatchesItsReceiveFile()
    {
        Damage(c => c.Control.Region(RegionSlot(c)).RegionSize = 3 * 8192);

        ExpectViolation($"region key {RegionKey}", "bytes, expected 24576");
    }

    [Test]
    public void ShouldReportAnAttachmentOfAnUnregisteredProcess()
    {
        var free = 0;
        Damage(c =>
        {
            var slot = RegionSlot(c);
            free = FreeProcessEntry(c);
            c.Control.Attachment(Attachments(c, a => a.Kind == AttachmentEntry.KindTransmit && a.Target == slot).Single()).Process = free;
        });

        ExpectViolation($"belongs to process entry {free}, which is not registered");
    }

    [Test]
    public void ShouldReportAnAttachmentToARegionThatDoesNotExist()
    {
        Damage(c =>
        {
            var slot = RegionSlot(c);
            c.Control.Attachment(Attachments(c, a => a.Kind == AttachmentEntry.KindTransmit && a.Target == slot).Single()).TargetId = 999_999;
        });

        ExpectViolation("refers to region id 999999, which does not exist");
    }

    [Test]
    public void ShouldReportAReceiveFileWhoseReceiveAttachmentIsGone()
    {
        Damage(c =>
        {
            var slot = RegionSlot(c);
            c.Control.Attachment(Attachments(c, a => a.Kind == AttachmentEntry.KindReceive && a.Target == slot).Single()).State =
                AttachmentEntry.StateFree;
        });

        ExpectViolation($"region key {RegionKey}", "has a receive file for host 'beta', which has no receive attach");
    }

    private void Damage(Action<Cluster> damage)
    {
        using var copy = Cluster.Open(_copy.Paths);
        damage(copy);
    }

    /// <summary>Both the check and the command find the violation, each reading the damaged copy.</summary>
    private void ExpectViolation(params string[] fragments)
    {
        var report = ClusterAdmin.Check(_copy.Paths);
        Assert.That(report.Busy, Is.False);
        Assert.That(report.Violations, Has.Some.Matches<string>(v => fragments.All(f => v.Contains(f, StringComparison.Ordinal))),
            $"expected a violation with \"{string.Join("\", \"", fragments)}\"; got: {string.Join(" | ", report.Violations)}");
        var imcs = Command.Run("imcs", _copy.Root, TemporaryCluster.ClusterName, "--check");
        Assert.That(imcs.ExitCode, Is.EqualTo(1), imcs.Output + imcs.Error);
        Assert.That(imcs.Output + imcs.Error, Does.Contain(fragments[^1]));
        Assert.That(ClusterAdmin.Check(_cluster.Paths).Violations, Is.Empty, "the original cluster is untouched");
    }

    private static int RegionSlot(Cluster c) =>
        Enumerable.Range(0, ControlLayout.MaxRegions).Single(i =>
            c.Control.Region(i).State == RegionEntry.StateLive && c.Control.Region(i).Key == RegionKey);

    private static int LockSetSlot(Cluster c) =>
        Enumerable.Range(0, ControlLayout.MaxLockSets).Single(i =>
            c.Control.LockSet(i).State == LockSetEntry.StateLive && c.Control.LockSet(i).Key == LockKey);

    private static int FreeProcessEntry(Cluster c) =>
        Enumerable.Range(0, ControlLayout.MaxProcesses).Last(i => c.Control.Process(i).State == ProcessEntry.StateFree);

    private static List<int> Attachments(Cluster c, Func<AttachmentEntry, bool> match)
    {
        var found = Enumerable.Range(0, ControlLayout.MaxAttachments)
            .Where(i => c.Control.Attachment(i).State == AttachmentEntry.StateLive && match(c.Control.Attachment(i)))
            .ToList();
        Assert.That(found, Is.Not.Empty, "the entry to damage exists");
        return found;
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        foreach (var folder in Directory.GetDirectories(from))
        {
            CopyDirectory(folder, Path.Combine(to, Path.GetFileName(folder)));
        }
    }
}
