using System.Globalization;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests.AcrossMachines;

/// <summary>
/// Writes across machines: three simulated machines, an imcd on each, hosts on each; every write from a host on one
/// machine reaches exactly the hosts it would reach on one machine, in order and in whole words.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(600_000)]
public sealed class DataPathTests
{
    private ImcMachines _imc = null!;

    [OneTimeSetUp]
    public void StartMachines() => _imc = ImcMachines.Start(3);

    [OneTimeTearDown]
    public void StopMachines() => _imc?.Dispose();

    /// <summary>
    /// Host alpha (machine 1) writes: broadcast without loopback reaches beta (machine 1), gamma (machine 2) and delta
    /// (machine 3) but not alpha; point-to-point to delta reaches delta only; with loopback alpha sees its own write.
    /// A last broadcast marker, written after the others, proves by per-writer order that a host which has the marker
    /// and not a value was never sent it.
    /// </summary>
    [Test]
    public void ShouldReachExactlyTheHostsABroadcastPointToPointOrLoopbackWriteReaches()
    {
        var alpha = _imc.Peer(_imc[0], "alpha");
        var beta = _imc.Peer(_imc[0], "beta");
        var gamma = _imc.Peer(_imc[1], "gamma");
        var delta = _imc.Peer(_imc[2], "delta");
        PeerProcess[] receivers = [alpha, beta, gamma, delta];
        foreach (var peer in receivers)
        {
            peer.Send("alloc 21 4096");
            peer.Send("alloc 22 4096");
            peer.Send("rx 21");
            peer.Send("rx 22");
        }

        alpha.Send("tx 21");          // broadcast, no loopback
        alpha.Send("tx 22 1");        // broadcast with loopback
        var pointToPoint = _imc.Peer(_imc[0], "alpha");
        pointToPoint.Send("alloc 21 4096");
        pointToPoint.Send("ptp 21 delta");

        alpha.Send("write64 21 0 11");
        pointToPoint.Send("write64 21 8 22");
        alpha.Send("write64 22 0 33");
        pointToPoint.Send("write64 21 16 44"); // the marker travels the point-to-point way too: after 22
        alpha.Send("write64 21 24 55");        // and the broadcast marker after 11

        foreach (var peer in new[] { beta, gamma, delta })
        {
            Assert.That(peer.Send("wait64 21 24 55 30000"), Does.StartWith("55"), $"{peer.Host}: broadcast marker");
            Assert.That(peer.Send("read64 21 0"), Is.EqualTo("11"), $"{peer.Host}: broadcast reaches every other host");
        }

        Assert.That(delta.Send("wait64 21 16 44 30000"), Does.StartWith("44"));
        Assert.That(delta.Send("read64 21 8"), Is.EqualTo("22"), "point-to-point reaches its host");
        Assert.That(beta.Send("read64 21 8"), Is.EqualTo("0"), "point-to-point reaches no other host (same machine)");
        Assert.That(gamma.Send("read64 21 8"), Is.EqualTo("0"), "point-to-point reaches no other host (other machine)");
        Assert.That(alpha.Send("read64 21 0"), Is.EqualTo("0"), "no loopback: the writer's host does not see it");
        Assert.That(alpha.Send("wait64 22 0 33 30000"), Does.StartWith("33"), "loopback: the writer's host sees it");
        foreach (var peer in new[] { beta, gamma, delta })
        {
            Assert.That(peer.Send("wait64 22 0 33 30000"), Does.StartWith("33"), $"{peer.Host}: loopback region");
        }
    }

    /// <summary>
    /// A stranger on machine 3 (a process that never asked its imcd for anything, so it has no cluster key) reads from
    /// etcd where machine 1's NIC is and which memory it publishes for alpha, and sends well-formed messages there with
    /// raw UCX: a write, a read, lock-word operations, a flush; first with no hello, then with a hello of a random key.
    /// Nothing lands in alpha's memory, no byte and no flush's answer comes back; a real process's writes from machine
    /// 2 keep landing.
    /// </summary>
    [Test]
    public void ShouldApplyNothingFromAStrangerWithoutTheClusterKey()
    {
        var receiver = _imc.Peer(_imc[0], "alpha");
        var writer = _imc.Peer(_imc[1], "gamma");
        receiver.Send("alloc 41 4096");
        receiver.Send("rx 41");
        writer.Send("alloc 41 4096");
        writer.Send("tx 41");
        writer.Send("write64 41 8 1");
        Assert.That(receiver.Send("wait64 41 8 1 30000"), Does.StartWith("1"), "a real process's write lands");

        var round = 1;
        foreach (var hello in new[] { "none", "wrong" })
        {
            var stranger = _imc.Stranger(_imc[2]);
            var answers = stranger.Send($"ucx-stranger {hello} {_imc[0].Name} 41 alpha");
            Assert.That(answers, Does.Contain(" bytes=0 ").And.EndWith("flushed=0"),
                $"hello {hello}: the stranger got bytes or a flush's answer back ({answers})");

            round++;
            writer.Send($"write64 41 8 {round}");
            Assert.That(receiver.Send($"wait64 41 8 {round} 30000"), Does.StartWith(round.ToString(CultureInfo.InvariantCulture)),
                $"hello {hello}: a real process's writes keep landing");
            Assert.That(receiver.Send("read64 41 0"), Is.EqualTo("0"), $"hello {hello}: the stranger's write landed");
        }
    }

    /// <summary>
    /// 100,000 messages from a host on machine 1 to hosts on machines 2 and 3, each a payload (one span write) then a
    /// flag, no barrier between: a reader that sees a flag never finds an older payload word or a torn one, and it
    /// saw many of the messages (acked flow control keeps the writer at most a few messages ahead).
    /// </summary>
    [Test]
    public void ShouldNeverShowAFlagBeforeItsPayloadAcrossMachines()
    {
        const int Messages = 100_000;
        const int AckWindow = 8;
        var writer = _imc.Peer(_imc[0], "w1");
        var readers = new[] { _imc.Peer(_imc[1], "r2"), _imc.Peer(_imc[2], "r3") };
        foreach (var peer in readers.Append(writer))
        {
            peer.Send("alloc 31 8192");
            peer.Send("alloc 32 8192");
        }

        writer.Send("rx 32");
        for (var r = 0; r < readers.Length; r++)
        {
            readers[r].Send("rx 31");
            readers[r].Send("tx 32");
            readers[r].Post($"words-read 31 {Messages} 8 1 0 32 {r} 400000");
        }

        writer.Send("tx 31");
        writer.Post($"words-write 31 {Messages} 8 1 0 32 {readers.Length} {AckWindow} 400000");
        var written = writer.Receive("words-write", TimeSpan.FromMinutes(8));
        Assert.That(written.Ok, Is.True, written.Text);
        foreach (var reader in readers)
        {
            var reply = reader.Receive("words-read", TimeSpan.FromMinutes(8));
            TestContext.Out.WriteLine($"{reader.Host}: {reply.Text}");
            Assert.That(reply.Ok, Is.True, reply.Text);
            var fields = Fields(reply.Text);
            Assert.That(fields["torn"], Is.EqualTo("0"), $"{reader.Host}: {reply.Text}");
            Assert.That(fields["violations"], Is.EqualTo("0"), $"{reader.Host}: {reply.Text}");
            Assert.That(long.Parse(fields["observed"], CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(Messages / (AckWindow + 1)),
                $"{reader.Host}: {reply.Text}");
        }
    }

    /// <summary>
    /// Once a receive attach returns on a host of machine 2, the very next write of a writer on machine 1, whose route
    /// was made before the attach, reaches it: the attach returned only after machine 1's agent applied it.
    /// </summary>
    [Test]
    public void ShouldDeliverTheFirstWriteAfterAReceiveAttachOnAnotherMachineReturns()
    {
        var writer = _imc.Peer(_imc[0], "early");
        writer.Send("alloc 41 4096");
        writer.Send("tx 41");
        writer.Send("write64 41 0 1"); // a route with no receiver yet
        for (var round = 2; round < 12; round++)
        {
            var late = _imc.Peer(_imc[round % 2 + 1], $"late{round}");
            late.Send("alloc 41 4096");
            late.Send("rx 41");
            writer.Send($"write64 41 0 {round}");
            Assert.That(late.Send($"wait64 41 0 {round} 10000"), Does.StartWith(round.ToString(CultureInfo.InvariantCulture)),
                $"round {round}: the first write after the attach returned");
            late.Send("detach 41");
        }
    }

    private static Dictionary<string, string> Fields(string text) =>
        text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(f => f.Split('=', 2)).Where(f => f.Length == 2)
            .ToDictionary(f => f[0], f => f[1]);
}
