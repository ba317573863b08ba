using Interconnect.Driver.Store;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>What a killed process held is reclaimed by the next directory operation of any live process.</summary>
public sealed class ReclamationTests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    [Test]
    public void ShouldFreeARegionWhoseLastAllocatorWasKilled()
    {
        var victim = _cluster.StartPeer("beta");
        victim.Send("alloc 21 8192");
        victim.Send("rx 21");
        victim.Send("tx 21 1");
        Assert.That(_cluster.ReceiveFiles(), Has.Length.EqualTo(1));

        victim.Kill();
        using var survivor = _cluster.Open("alpha");
        // The same key with another size only succeeds on a new region: the old one is gone, with its file.
        using var region = survivor.AllocateRegion(21, 4096);

        Assert.That(region.Size, Is.EqualTo(4096));
        Assert.That(_cluster.ReceiveFiles(), Is.Empty);
    }

    [Test]
    public void ShouldDropAKilledProcesssAttachmentsButKeepARegionOthersUse()
    {
        using var survivor = _cluster.Open("alpha");
        using var region = survivor.AllocateRegion(22, 8192);
        using var tx = region.AttachTransmit();
        var victim = _cluster.StartPeer("beta");
        victim.Send("alloc 22 8192");
        victim.Send("rx 22", TimeSpan.FromSeconds(30));
        victim.Send("tx 22 0 1");

        victim.Kill();
        tx.Write(0, 5UL); // writing to a receiver that died is harmless
        var other = _cluster.StartPeer("beta");
        other.Send("alloc 22 8192");
        other.Send("tx 22 0 1"); // the dead process's non-shared transmit attach no longer blocks this host
        other.Send("rx 22");

        tx.Write(8, 6UL);
        Assert.That(other.Send("wait64 22 8 6 10000"), Is.EqualTo("6"));
        Assert.That(other.Send("read64 22 0"), Is.EqualTo("0"), "the new receive memory starts zeroed");
    }

    [Test]
    public void ShouldNotBeBlockedByAProcessKilledWhileHoldingTheDirectoryLock()
    {
        var victim = _cluster.StartPeer("beta");
        victim.Send("alloc 23 8192");
        victim.Send("hold-directory");
        using var directory = Cluster.Open(_cluster.Paths, ControlAccess.Read);
        var recoveries = directory.Control.Header.Recoveries;

        victim.Kill();
        using var survivor = _cluster.Open("alpha");
        Assert.That(directory.Control.Header.Recoveries, Is.EqualTo(recoveries + 1), "the lock was taken over from its dead holder, once");
        using var region = survivor.AllocateRegion(24, 8192);
        using var rx = region.AttachReceive();

        Assert.That(rx.Length, Is.EqualTo(8192));
    }

    [Test]
    public void ShouldReclaimAProcessThatExitedWithoutCleaningUp()
    {
        var quitter = _cluster.StartPeer("beta");
        quitter.Send("alloc 25 8192");
        quitter.Send("rx 25");
        quitter.Dispose(); // "exit" without detach, deallocate or close

        using var survivor = _cluster.Open("alpha");
        using var region = survivor.AllocateRegion(25, 16384);

        Assert.That(region.Size, Is.EqualTo(16384));
    }

    [Test]
    public void ShouldReleaseEverythingWhenTheContextIsDisposed()
    {
        var context = _cluster.Open("alpha");
        var region = context.AllocateRegion(26, 8192);
        _ = region.AttachReceive();
        _ = region.AttachTransmit();

        context.Dispose();
        using var other = _cluster.Open("beta");
        using var again = other.AllocateRegion(26, 4096);

        Assert.That(again.Size, Is.EqualTo(4096));
        Assert.That(_cluster.ReceiveFiles(), Is.Empty);
    }
}
