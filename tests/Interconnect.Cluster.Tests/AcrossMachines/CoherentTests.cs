using System.Globalization;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests.AcrossMachines;

/// <summary>
/// Coherent regions across machines: a late joiner on another machine gets exactly the current contents while a
/// writer races its join, and every write after it.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(600_000)]
public sealed class CoherentTests
{
    private ImcMachines _imc = null!;

    [OneTimeSetUp]
    public void StartMachines() => _imc = ImcMachines.Start(2);

    [OneTimeTearDown]
    public void StopMachines() => _imc?.Dispose();

    /// <summary>
    /// alpha (machine 1) hammers an 8 KiB coherent region: word (i % 512) + 1 takes i, then the last word (the counter)
    /// takes i. Midway, beta allocates it on machine 2, whose first copy is read from machine 1 while the writer goes
    /// on; then delta (machine 2, copying beta's copy while the writer is on the other machine) and gamma (machine 1)
    /// attach and detach over and over, each copy checked: no word older than its last write that the counter covers,
    /// none newer than the counter. At the end beta's copy, filled from the other machine, is exact.
    /// </summary>
    [Test]
    public void ShouldGiveLateJoinersOnEitherMachineExactlyTheCurrentContentsWhileAWriterRacesTheirJoins()
    {
        // Enough writes that the joins race them: 1,000 were done before any join began once (the writes went faster
        // with the emulated NIC), and "midway" below, which proves the race, read 0.
        const int Writes = 5_000;
        var writer = _imc.Peer(_imc[0], "alpha");
        var gamma = _imc.Peer(_imc[0], "gamma");
        var beta = _imc.Peer(_imc[1], "beta");
        var delta = _imc.Peer(_imc[1], "delta");
        writer.Send("alloc 3 8192 600 1");
        writer.Send("tx 3");
        gamma.Send("alloc 3 8192 600 1");
        gamma.Send("rx 3");

        writer.Post($"hammer 3 {Writes}");
        Assert.That(gamma.Send($"wait64-at-least 3 8184 {Writes / 10} 120000"), Is.Not.Empty, "the hammer to be under way");
        gamma.Send("detach 3");
        beta.Send("alloc 3 8192 600 1"); // machine 2's first copy, read from machine 1's while alpha writes
        delta.Send("alloc 3 8192 600 1");
        foreach (var joiner in new[] { beta, delta, gamma })
        {
            joiner.Post($"join-cycles 3 {Writes} 180000 50"); // a join holds the write lock until every machine applied it
        }

        var hammered = writer.Receive("hammer", TimeSpan.FromMinutes(4));
        var joins = new[] { beta, delta, gamma }.Select(j => (j.Host, Reply: j.Receive("join-cycles", TimeSpan.FromMinutes(4)))).ToList();

        Assert.That(hammered.Ok, Is.True, hammered.Text);
        foreach (var (host, reply) in joins)
        {
            TestContext.Out.WriteLine($"{host}: {reply.Text}");
            Assert.That(reply.Ok, Is.True, $"{host}: {reply.Text}");
            Assert.That(Fields(reply.Text)["violations"], Is.EqualTo("0"), $"{host}: {reply.Text}");
        }

        // The joins raced the writer: copies were taken while it was half-way, on both machines.
        Assert.That(joins.Sum(j => int.Parse(Fields(j.Reply.Text)["midway"], CultureInfo.InvariantCulture)), Is.GreaterThan(0));
        foreach (var joiner in new[] { beta, gamma })
        {
            joiner.Send("rx 3");
            var final = Fields(joiner.Send($"verify-hammer 3 {Writes}"));
            Assert.That(final["counter"], Is.EqualTo($"{Writes}"), joiner.Host);
            Assert.That(final["mismatches"], Is.EqualTo("0"), joiner.Host);
        }
    }

    /// <summary>
    /// The contents outlive the hosts that wrote them: a region written on machine 1 and deallocated there keeps its
    /// contents on machine 2, and a host coming to machine 1 again gets them from machine 2.
    /// </summary>
    [Test]
    public void ShouldKeepTheContentsOnAnotherMachineWhenTheirWriterLeaves()
    {
        var writer = _imc.Peer(_imc[0], "alpha");
        var keeper = _imc.Peer(_imc[1], "beta");
        writer.Send("alloc 5 4096 600 1");
        writer.Send("tx 5");
        writer.Send("write64 5 0 41");
        keeper.Send("alloc 5 4096 600 1");
        writer.Send("write64 5 8 42"); // after machine 2 joined: it reaches machine 2's copy
        writer.Send("detach 5");
        writer.Send("dealloc 5");       // machine 1 has no copy any more

        var again = _imc.Peer(_imc[0], "epsilon");
        again.Send("alloc 5 4096 600 1");
        again.Send("rx 5");
        Assert.That(again.Send("read64 5 0"), Is.EqualTo("41"), "written before machine 2 joined");
        Assert.That(again.Send("read64 5 8"), Is.EqualTo("42"), "written after machine 2 joined");
        keeper.Send("rx 5");
        Assert.That(keeper.Send("read64 5 8"), Is.EqualTo("42"));
    }

    /// <summary>
    /// The machine that made a coherent region (and holds its write lock) leaves: writers on the other machine go on
    /// (the lock moves to a word there), and a host joining there gets the contents written before and after.
    /// </summary>
    [Test]
    public void ShouldMoveTheWriteLockWhenTheMachineThatMadeTheRegionLeaves()
    {
        using var imc = ImcMachines.Start(2);
        var maker = imc.Peer(imc[0], "alpha");
        maker.Send("alloc 9 4096 600 1");
        maker.Send("tx 9");
        maker.Send("write64 9 0 1");
        var writer = imc.Peer(imc[1], "beta");
        writer.Send("alloc 9 4096 600 1");
        writer.Send("tx 9");
        writer.Send("rx 9");
        Assert.That(writer.Send("read64 9 0"), Is.EqualTo("1"));

        var (exitCode, output) = imc.StopAgent(imc[0]); // machine 1 leaves, and the word of the lock with it
        Assert.That(exitCode, Is.Zero, output);

        writer.Send("write64 9 8 2");
        Assert.That(writer.Send("read64 9 8"), Is.EqualTo("2"));
        var joiner = imc.Peer(imc[1], "gamma");
        joiner.Send("alloc 9 4096 600 1");
        joiner.Send("rx 9");
        Assert.That(joiner.Send("read64 9 0"), Is.EqualTo("1"), "written on the machine that left");
        Assert.That(joiner.Send("read64 9 8"), Is.EqualTo("2"), "written under the moved lock");
    }

    /// <summary>A key allocated coherent on one machine is refused non-coherent on another, as on one machine.</summary>
    [Test]
    public void ShouldRefuseTheOtherCoherencyOnAnotherMachine()
    {
        var maker = _imc.Peer(_imc[0], "alpha");
        var other = _imc.Peer(_imc[1], "beta");
        maker.Send("alloc 7 4096 600 1");
        var refused = other.Ask("alloc 7 4096 600 0");
        Assert.That(refused.Status, Is.EqualTo("CoherencyError"), refused.Text);
    }

    private static Dictionary<string, string> Fields(string text) =>
        text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(f => f.Contains('=', StringComparison.Ordinal))
            .Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1]);
}
