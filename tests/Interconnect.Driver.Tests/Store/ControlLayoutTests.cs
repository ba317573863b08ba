using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Tests.Store;

/// <summary>
/// The layouts of the control file and the words file are a contract between processes (and versions): every struct's
/// size and every field's offset is pinned here, as documented beside the structs.
/// </summary>
public sealed class ControlLayoutTests
{
    [TestCase(typeof(ControlHeader), 4096)]
    [TestCase(typeof(LogicalRailEntry), 128)]
    [TestCase(typeof(PhysicalRailEntry), 128)]
    [TestCase(typeof(HostEntry), 128)]
    [TestCase(typeof(ProcessEntry), 64)]
    [TestCase(typeof(RegionEntry), 192)]
    [TestCase(typeof(AttachmentEntry), 64)]
    [TestCase(typeof(LockSetEntry), 64)]
    [TestCase(typeof(WordsHeader), 128)]
    [TestCase(typeof(TallyEntry), 64)]
    [TestCase(typeof(WindowCounters), 128)]
    [TestCase(typeof(RegionWords), 64)]
    [TestCase(typeof(LockWord), 64)]
    public void ShouldHaveTheDocumentedSize(Type type, int size)
    {
        var actual = (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;

        Assert.That(actual, Is.EqualTo(size));
    }

    [TestCase(typeof(ControlHeader), nameof(ControlHeader.Magic), 0)]
    [TestCase(typeof(ControlHeader), nameof(ControlHeader.Version), 8)]
    [TestCase(typeof(ControlHeader), nameof(ControlHeader.FileSize), 16)]
    [TestCase(typeof(ControlHeader), nameof(ControlHeader.PageSize), 48)]
    [TestCase(typeof(ControlHeader), nameof(ControlHeader.DirectoryOwner), 64)]
    [TestCase(typeof(ControlHeader), nameof(ControlHeader.MaxAllocBytes), 128)]
    [TestCase(typeof(ControlHeader), nameof(ControlHeader.LogicalRails), 144)]
    [TestCase(typeof(ControlHeader), nameof(ControlHeader.MachineEpoch), 192)]
    [TestCase(typeof(WordsHeader), nameof(WordsHeader.Version), 8)]
    [TestCase(typeof(WordsHeader), nameof(WordsHeader.FileSize), 16)]
    [TestCase(typeof(WordsHeader), nameof(WordsHeader.EventSequence), 64)]
    [TestCase(typeof(WordsHeader), nameof(WordsHeader.RailSequence), 72)]
    [TestCase(typeof(WordsHeader), nameof(WordsHeader.TallyCount), 76)]
    [TestCase(typeof(LogicalRailEntry), nameof(LogicalRailEntry.TalliedErrors), 28)]
    [TestCase(typeof(TallyEntry), nameof(TallyEntry.ErrorCount), 0)]
    [TestCase(typeof(TallyEntry), nameof(TallyEntry.ProcessingUntilMs), 8)]
    [TestCase(typeof(LogicalRailEntry), nameof(LogicalRailEntry.FaultWord), 0)]
    [TestCase(typeof(LogicalRailEntry), nameof(LogicalRailEntry.ErrorCount), 4)]
    [TestCase(typeof(LogicalRailEntry), nameof(LogicalRailEntry.RetiredWrites), 64)]
    [TestCase(typeof(HostEntry), nameof(HostEntry.MaxRecvBytes), 8)]
    [TestCase(typeof(ProcessEntry), nameof(ProcessEntry.StartTime), 8)]
    [TestCase(typeof(ProcessEntry), nameof(ProcessEntry.Incarnation), 28)]
    [TestCase(typeof(RegionEntry), nameof(RegionEntry.RegionSize), 16)]
    [TestCase(typeof(RegionEntry), nameof(RegionEntry.Generation), 44)]
    [TestCase(typeof(RegionEntry), nameof(RegionEntry.ReceiveFileMask), 48)]
    [TestCase(typeof(RegionEntry), nameof(RegionEntry.FileEpoch), 64)]
    [TestCase(typeof(AttachmentEntry), nameof(AttachmentEntry.TargetId), 16)]
    [TestCase(typeof(AttachmentEntry), nameof(AttachmentEntry.TargetHost), 32)]
    [TestCase(typeof(WindowCounters), nameof(WindowCounters.Drops), 16)]
    [TestCase(typeof(WindowCounters), nameof(WindowCounters.SharedWrites), 64)]
    [TestCase(typeof(WindowCounters), nameof(WindowCounters.SharedBytes), 72)]
    [TestCase(typeof(PhysicalRailEntry), nameof(PhysicalRailEntry.ErrorCursor), 16)]
    [TestCase(typeof(PhysicalRailEntry), nameof(PhysicalRailEntry.ErrorTimesMs), 24)]
    [TestCase(typeof(LockWord), nameof(LockWord.Waiters), 8)]
    [TestCase(typeof(LockWord), nameof(LockWord.Sequence), 12)]
    [TestCase(typeof(LockSetEntry), nameof(LockSetEntry.Permissions), 24)]
    [TestCase(typeof(LockSetEntry), nameof(LockSetEntry.CreatedUnixMs), 40)]
    public void ShouldPlaceFieldsAtTheDocumentedOffsets(Type type, string field, int offset)
    {
        Assert.That((int)Marshal.OffsetOf(type, field), Is.EqualTo(offset));
    }

    [Test]
    public void ShouldLayTablesOutAsTheDiagramSays()
    {
        Assert.That(ControlLayout.HostsOffset, Is.EqualTo(4096));
        Assert.That(ControlLayout.ProcessesOffset, Is.EqualTo(8192));
        Assert.That(ControlLayout.RegionsOffset, Is.EqualTo(24576));
        Assert.That(ControlLayout.AttachmentsOffset, Is.EqualTo(122880));
        Assert.That(ControlLayout.LockSetsOffset, Is.EqualTo(385024));
        Assert.That(ControlLayout.FileSize, Is.EqualTo(401408));
        Assert.That(WordsLayout.RailsOffset, Is.EqualTo(128));
        Assert.That(WordsLayout.PhysicalRailsOffset, Is.EqualTo(640));
        Assert.That(WordsLayout.TalliesOffset, Is.EqualTo(1664));
        Assert.That(WordsLayout.FileSize, Is.EqualTo(1920));
        Assert.That(Interconnect.Driver.Store.TallyFile.Length, Is.EqualTo(256));
        Assert.That(WindowsLayout.CountersOffset, Is.EqualTo(64));
        Assert.That(WindowsLayout.FileSize, Is.EqualTo(524352));
    }

    [Test]
    public void ShouldStartEveryTableOnACacheLine()
    {
        int[] offsets =
        [
            ControlLayout.HostsOffset, ControlLayout.ProcessesOffset, ControlLayout.RegionsOffset,
            ControlLayout.AttachmentsOffset, ControlLayout.LockSetsOffset, WordsLayout.RailsOffset,
            WordsLayout.PhysicalRailsOffset, WordsLayout.TalliesOffset, WindowsLayout.CountersOffset,
        ];

        Assert.That(offsets.Select(o => o % 64), Is.All.EqualTo(0));
    }

    [Test]
    public void ShouldSpellTheMagicAsText()
    {
        Assert.That(BitConverter.GetBytes(ControlLayout.Magic), Is.EqualTo("IMCCTRL1"u8.ToArray()));
        Assert.That(BitConverter.GetBytes(WordsLayout.Magic), Is.EqualTo("IMCWORD1"u8.ToArray()));
    }
}
