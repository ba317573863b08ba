using System.Globalization;
using Interconnect.Machines;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests.AcrossMachines;

/// <summary>
/// Writes between machines really cross the machines' link: the kernel's byte counters of the receiving machine's
/// veth link (read inside that machine) move by at least what was written, and do not when the receiver is on the
/// writer's own machine. On one box nothing else would show that the data did not take a shortcut (shared memory
/// on the one kernel, which UCX would use if it were allowed other transports than tcp).
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(600_000)]
public sealed class LinkTests
{
    private const int WriteBytes = 1 << 20;
    private const int Rounds = 32;                            // pattern-write: two writes of WriteBytes a round
    private const long Payload = 2L * Rounds * WriteBytes;    // 64 MiB
    private const ulong LastPattern = 0x0202020202020202;     // the pattern of the second write of a round
    private ImcMachines _imc = null!;

    [OneTimeSetUp]
    public void StartMachines() => _imc = ImcMachines.Start(2);

    [OneTimeTearDown]
    public void StopMachines() => _imc?.Dispose();

    [Test]
    public void ShouldMoveAtLeastTheBytesWrittenOverTheLinksWhenTheReceiverIsOnAnotherMachine()
    {
        var (outOfWriters, intoReceivers) = WriteAndCount(key: 61, writerMachine: _imc[0], receiverMachine: _imc[1]);

        Assert.That(intoReceivers, Is.GreaterThanOrEqualTo(Payload), $"bytes received on {_imc[1].Name}'s link");
        Assert.That(outOfWriters, Is.GreaterThanOrEqualTo(Payload), $"bytes sent on {_imc[0].Name}'s link");
    }

    /// <summary>The control: the same writes to a receiver on the writer's machine stay there (the local fast path).</summary>
    [Test]
    public void ShouldKeepWritesOffTheLinkWhenTheReceiverIsOnTheWritersMachine()
    {
        var (outOfWriters, intoReceivers) = WriteAndCount(key: 62, writerMachine: _imc[0], receiverMachine: _imc[0]);

        Assert.That(outOfWriters, Is.LessThan(Payload / 16), $"bytes sent on {_imc[0].Name}'s link");
        Assert.That(intoReceivers, Is.LessThan(Payload / 16), $"bytes received on {_imc[0].Name}'s link");
    }

    /// <summary>
    /// A host on <paramref name="receiverMachine"/> attaches region <paramref name="key"/> for receive; a host on
    /// <paramref name="writerMachine"/> writes <see cref="Payload"/> bytes to it (1 MiB writes) and flushes (every
    /// machine confirmed it applied them); the receiver holds the last write. Returns how many bytes the writer's
    /// machine's link sent and the receiver's machine's link received meanwhile.
    /// </summary>
    private (long OutOfWriters, long IntoReceivers) WriteAndCount(int key, SimulatedMachine writerMachine, SimulatedMachine receiverMachine)
    {
        var receiver = _imc.Peer(receiverMachine, $"r{key}");
        var writer = _imc.Peer(writerMachine, $"w{key}");
        foreach (var peer in new[] { receiver, writer })
        {
            peer.Send($"alloc {key} {WriteBytes}");
        }

        receiver.Send($"rx {key}");
        writer.Send($"tx {key}");
        var before = (Out: writerMachine.LinkBytes().Transmitted, In: receiverMachine.LinkBytes().Received);

        Assert.That(writer.Send($"pattern-write {key} {WriteBytes} {Rounds}", TimeSpan.FromMinutes(5)),
            Is.EqualTo(Rounds.ToString(CultureInfo.InvariantCulture)));
        var flushed = writer.Send("nic-flush", TimeSpan.FromMinutes(2));
        var last = receiver.Send($"wait64 {key} {WriteBytes - 8} {LastPattern} 30000");

        var after = (Out: writerMachine.LinkBytes().Transmitted, In: receiverMachine.LinkBytes().Received);
        var moved = (Out: after.Out - before.Out, In: after.In - before.In);
        TestContext.Out.WriteLine($"{Payload} bytes written from {writerMachine.Name} to {receiverMachine.Name} ({flushed}): " +
            $"{moved.Out} bytes out of {writerMachine.Name}'s link, {moved.In} into {receiverMachine.Name}'s");
        Assert.That(last, Is.EqualTo(LastPattern.ToString(CultureInfo.InvariantCulture)), "the receiver holds the last write");
        return moved;
    }
}
