using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Tests.Store;

/// <summary>
/// The control file layout is a contract between processes (and versions): every struct's size and every field's
/// offset is pinned here, as documented beside the structs.
/// </summary>
public sealed class ControlLayoutTests
{
    [TestCase(typeof(ControlHeader), 4096)]
    [TestCase(typeof(LogicalRailEntry), 128)]
    [TestCase(typeof(PhysicalRailEntry), 128)]
    [TestCase(typeof(HostEntry), 128)]
    [TestCase(typeof(ProcessEntry), 64)]
    [TestCase(typeof(RegionEntry), 256)]
    [TestCase(typeof(AttachmentEntry), 128)]
    [TestCase(typeof(LockSetEntry), 64)]
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
    [TestCase(typeof(ControlHeader), nameof(ControlHeader.EventSequence), 192)]
    [TestCase(typeof(LogicalRailEntry), nameof(LogicalRailEntry.FaultWord), 0)]
    [TestCase(typeof(LogicalRailEntry), nameof(LogicalRailEntry.ErrorCount), 4)]
    [TestCase(typeof(LogicalRailEntry), nameof(LogicalRailEntry.RetiredWrites), 64)]
    [TestCase(typeof(HostEntry), nameof(HostEntry.MaxRecvBytes), 8)]
    [TestCase(typeof(ProcessEntry), nameof(ProcessEntry.StartTime), 8)]
    [TestCase(typeof(ProcessEntry), nameof(ProcessEntry.Incarnation), 28)]
    [TestCase(typeof(RegionEntry), nameof(RegionEntry.RegionSize), 16)]
    [TestCase(typeof(RegionEntry), nameof(RegionEntry.Generation), 44)]
    [TestCase(typeof(RegionEntry), nameof(RegionEntry.ReceiveFileMask), 48)]
    [TestCase(typeof(RegionEntry), nameof(RegionEntry.WriteOwner), 64)]
    [TestCase(typeof(AttachmentEntry), nameof(AttachmentEntry.TargetId), 16)]
    [TestCase(typeof(AttachmentEntry), nameof(AttachmentEntry.Writes), 40)]
    [TestCase(typeof(AttachmentEntry), nameof(AttachmentEntry.Drops), 56)]
    [TestCase(typeof(AttachmentEntry), nameof(AttachmentEntry.SharedWrites), 64)]
    [TestCase(typeof(AttachmentEntry), nameof(AttachmentEntry.SharedBytes), 72)]
    [TestCase(typeof(PhysicalRailEntry), nameof(PhysicalRailEntry.ErrorCursor), 16)]
    [TestCase(typeof(PhysicalRailEntry), nameof(PhysicalRailEntry.ErrorTimesMs), 24)]
    [TestCase(typeof(LockWord), nameof(LockWord.Waiters), 8)]
    [TestCase(typeof(LockWord), nameof(LockWord.Sequence), 12)]
    [TestCase(typeof(LockSetEntry), nameof(LockSetEntry.FirstLock), 20)]
    [TestCase(typeof(LockSetEntry), nameof(LockSetEntry.CreatedUnixMs), 40)]
    public void ShouldPlaceFieldsAtTheDocumentedOffsets(Type type, string field, int offset)
    {
        Assert.That((int)Marshal.OffsetOf(type, field), Is.EqualTo(offset));
    }

    [Test]
    public void ShouldLayTablesOutAsTheDiagramSays()
    {
        Assert.That(ControlLayout.RailsOffset, Is.EqualTo(4096));
        Assert.That(ControlLayout.PhysicalRailsOffset, Is.EqualTo(4608));
        Assert.That(ControlLayout.HostsOffset, Is.EqualTo(5632));
        Assert.That(ControlLayout.ProcessesOffset, Is.EqualTo(9728));
        Assert.That(ControlLayout.RegionsOffset, Is.EqualTo(26112));
        Assert.That(ControlLayout.AttachmentsOffset, Is.EqualTo(157184));
        Assert.That(ControlLayout.LockSetsOffset, Is.EqualTo(681472));
        Assert.That(ControlLayout.LockWordsOffset, Is.EqualTo(697856));
        Assert.That(ControlLayout.FileSize, Is.EqualTo(960000));
    }

    [Test]
    public void ShouldStartEveryTableOnACacheLine()
    {
        int[] offsets =
        [
            ControlLayout.RailsOffset, ControlLayout.PhysicalRailsOffset, ControlLayout.HostsOffset,
            ControlLayout.ProcessesOffset, ControlLayout.RegionsOffset, ControlLayout.AttachmentsOffset,
            ControlLayout.LockSetsOffset, ControlLayout.LockWordsOffset,
        ];

        Assert.That(offsets.Select(o => o % 64), Is.All.EqualTo(0));
    }

    [Test]
    public void ShouldSpellTheMagicAsText()
    {
        Assert.That(BitConverter.GetBytes(ControlLayout.Magic), Is.EqualTo("IMCCTRL1"u8.ToArray()));
    }
}
