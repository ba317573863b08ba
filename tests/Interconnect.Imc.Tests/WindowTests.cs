using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>The windows' data path: bounds, whole values, and no allocation.</summary>
public sealed class WindowTests
{
    private TemporaryCluster _cluster = null!;
    private ImcContext _writer = null!;
    private ImcContext _reader = null!;
    private ImcRegion _txRegion = null!;
    private ImcRegion _rxRegion = null!;
    private ImcTransmitWindow _tx = null!;
    private ImcReceiveWindow _rx = null!;

    [SetUp]
    public void SetUp()
    {
        _cluster = TemporaryCluster.Create("alpha", "beta");
        _writer = _cluster.Open("alpha");
        _reader = _cluster.Open("beta");
        _txRegion = _writer.AllocateRegion(1, 5000);
        _rxRegion = _reader.AllocateRegion(1, 5000);
        _rx = _rxRegion.AttachReceive();
        _tx = _txRegion.AttachTransmit();
    }

    [TearDown]
    public void TearDown()
    {
        _tx.Dispose();
        _rx.Dispose();
        _txRegion.Dispose();
        _rxRegion.Dispose();
        _writer.Dispose();
        _reader.Dispose();
        _cluster.Dispose();
    }

    [TestCase(-1L, 8)]
    [TestCase(4993L, 8)]
    [TestCase(5000L, 1)]
    [TestCase(long.MaxValue, 1)]
    [TestCase(long.MinValue, 1)]
    [TestCase(4999L, 2)]
    public void ShouldRefuseWritesOutsideTheWindow(long offset, int length)
    {
        var bytes = new byte[length];

        Assert.Throws<ArgumentOutOfRangeException>(() => _tx.Write(offset, bytes));
        if (length == 8)
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => _tx.Write(offset, 1UL));
        }

        Assert.That(_rx.AsSpan(0, 5000).ToArray(), Is.All.Zero);
    }

    [TestCase(-1L, 4)]
    [TestCase(4997L, 4)]
    [TestCase(long.MaxValue, 4)]
    [TestCase(0L, -1)]
    [TestCase(0L, 5001)]
    public void ShouldRefuseReadsOutsideTheWindow(long offset, int length)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _rx.AsSpan(offset, length).ToArray());
        if (length == 4)
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => _rx.Read<int>(offset));
        }
    }

    [Test]
    public void ShouldReportTheRequestedSizeAsLength()
    {
        Assert.That(_tx.Length, Is.EqualTo(5000));
        Assert.That(_rx.Length, Is.EqualTo(5000));
    }

    [Test]
    public void ShouldWriteTheLastBytesOfTheWindow()
    {
        _tx.Write(4992, 0xabcdef0123456789UL);
        _tx.Write(4999, (byte)7);

        Assert.That(_rx.Read<byte>(4999), Is.EqualTo(7));
        Assert.That(_rx.Read<uint>(4992), Is.EqualTo(0x23456789u));
    }

    [Test]
    public void ShouldCarryValuesOfEverySize()
    {
        _tx.Write(0, (short)-2);
        _tx.Write(8, 3.5);
        _tx.Write(16, new Guid("0f8fad5b-d9cb-469f-a165-70867728950e"));
        _tx.Write(33, 0x0102030405060708UL); // unaligned

        Assert.That(_rx.Read<short>(0), Is.EqualTo(-2));
        Assert.That(_rx.Read<double>(8), Is.EqualTo(3.5));
        Assert.That(_rx.Read<Guid>(16), Is.EqualTo(new Guid("0f8fad5b-d9cb-469f-a165-70867728950e")));
        Assert.That(_rx.Read<ulong>(33), Is.EqualTo(0x0102030405060708UL));
    }

    [Test]
    public void ShouldAllocateNothingPerWriteOrRead()
    {
        var payload = new byte[4096];
        var buffer = new byte[4096];
        for (var i = 0; i < 1000; i++)
        {
            Exercise(i);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            Exercise(i);
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);

        void Exercise(int i)
        {
            _tx.Write(0, (ulong)i);
            _tx.Write(8, i);
            _tx.Write(64, payload);
            _ = _rx.Read<ulong>(0);
            _ = _rx.Read<int>(8);
            _rx.Read(64, buffer);
        }
    }

    [Test]
    public void ShouldAllocateNothingPerCoherentWrite()
    {
        using var region = _writer.AllocateRegion(2, 8192, flags: ImcRegionFlags.Coherent);
        using var tx = region.AttachTransmit();
        using var rx = region.AttachReceive();
        for (var i = 0; i < 1000; i++)
        {
            tx.Write(0, (ulong)i);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            tx.Write(0, (ulong)i);
            tx.Write(8, i);
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
        Assert.That(rx.Read<ulong>(0), Is.EqualTo(9999UL));
    }

    [Test]
    public void ShouldStopWindowsWhenTheContextIsDisposed()
    {
        _writer.Dispose();

        Assert.Throws<ObjectDisposedException>(() => _tx.Write(0, 1UL));
        Assert.That(_rx.Read<ulong>(0), Is.Zero);
    }

    [Test]
    public void ShouldThrowAnImcExceptionFromAWriteWhenTheWritersHostWentDown()
    {
        _tx.Write(0, 1UL);
        Assert.That(_rx.Read<ulong>(0), Is.EqualTo(1UL));

        Driver.ClusterAdmin.TakeHostDown(_cluster.Paths, "alpha");

        var e = Assert.Throws<ImcException>(() => _tx.Write(0, 1UL))!;

        Assert.That(e.Status, Is.EqualTo(ImcStatus.NotInitialized));
    }
}
