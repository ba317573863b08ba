using System.Globalization;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests.AcrossMachines;

/// <summary>
/// API.md "Faults across machines", row by row, on namespace machines: what a reader may rely on when a connection
/// breaks, an agent restarts, memory is withdrawn under a stale writer, a process exits right after writing, and a
/// write is large. Each asserts the contract (whole words; every write there, or the count moved), never a time.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(600_000)]
public sealed class FaultTests
{
    /// <summary>
    /// Writes of 1 MiB, two whole-word patterns in turn, read concurrently on two other machines: every aligned word is
    /// one pattern or the other, never a mix (UCX's software RMA split such puts every 131,050 bytes, tearing words).
    /// </summary>
    [Test]
    public void ShouldLandEveryAlignedWordWholeInWritesOfAMegabyte()
    {
        const int Bytes = 1 << 20;
        using var imc = ImcMachines.Start(3);
        var writer = imc.Peer(imc[0], "w");
        PeerProcess[] readers = [imc.Peer(imc[1], "r1"), imc.Peer(imc[2], "r2")];
        foreach (var peer in readers.Prepend(writer))
        {
            peer.Send($"alloc 61 {Bytes}");
        }

        foreach (var reader in readers)
        {
            reader.Send("rx 61");
        }

        writer.Send("tx 61");
        foreach (var reader in readers)
        {
            reader.Post($"pattern-check 61 {Bytes} 6000");
        }

        Assert.That(writer.Send("pattern-write 61 1048576 40", TimeSpan.FromSeconds(120)), Is.EqualTo("40"));
        foreach (var reader in readers)
        {
            var seen = reader.Receive("pattern-check", TimeSpan.FromSeconds(60));
            Assert.That(seen.Ok, Is.True, seen.Text);
            var fields = Fields(seen.Text);
            Assert.That(fields["torn"], Is.EqualTo(0), $"{reader.Host}: words torn ({seen.Text})");
            Assert.That(fields["changes"], Is.GreaterThan(0), $"{reader.Host}: the writes were read while they landed ({seen.Text})");
        }
    }

    /// <summary>
    /// A writer's connections to one receiving machine are killed again and again (<c>ss -K</c> inside the writer's
    /// machine) while it broadcasts 100,000 writes: every <c>Write</c> returns, the receiver behind no broken connection
    /// gets every write, and the one behind them gets the last write again and every write, or its count moved.
    /// </summary>
    [Test]
    public void ShouldCountWhatABrokenConnectionLostAndDeliverLaterWritesAgain()
    {
        const int Count = 100_000;
        using var imc = ImcMachines.Start(3);
        var writer = imc.Peer(imc[0], "w");
        var behind = imc.Peer(imc[1], "behind");
        var clear = imc.Peer(imc[2], "clear");
        var size = 8 * (Count + 1);
        foreach (var peer in new[] { writer, behind, clear })
        {
            peer.Send($"alloc 62 {size}");
        }

        behind.Send("rx 62");
        clear.Send("rx 62");
        writer.Send("tx 62");
        writer.Send("write64 62 0 0"); // connections made before the kills
        var before = ImcMachines.SettledErrorCount(behind);

        writer.Post($"seq-write 62 {Count}");
        var killed = 0;
        PeerReply? done = null;
        for (var round = 0; round < 50 && !writer.TryReceive(out done, TimeSpan.FromMilliseconds(100)); round++)
        {
            var (code, stdout, stderr) = imc[0].Run("ss", ["-K", "-t", "dst", imc[1].Address], TimeSpan.FromSeconds(10));
            Assert.That(code, Is.EqualTo(0), stderr);
            killed += stdout.Split('\n').Count(l => l.StartsWith("ESTAB", StringComparison.Ordinal));
        }

        done ??= writer.Receive("seq-write", TimeSpan.FromSeconds(120));
        Assert.That(done.Ok, Is.True, $"a Write threw: {done.Text}");
        Assert.That(done.Text, Is.EqualTo($"{Count}"));
        Assert.That(killed, Is.GreaterThan(0), "ss -K found a connection to kill while the writes went on");

        Assert.That(clear.Send($"wait64 62 0 {Count} 30000"), Does.StartWith($"{Count}"));
        Assert.That(clear.Send($"seq-check 62 {Count}"), Is.EqualTo($"marker={Count} missing=0"),
            "the receiver behind no broken connection got every write");

        // The last write may itself have been lost: a flush (what a lock release or an exit does) gets it counted.
        Assert.That(behind.Send($"wait64 62 0 {Count} 30000"), Does.StartWith($"{Count}"),
            "later writes arrive again once the connection is back");
        var check = Fields(behind.Send($"seq-check 62 {Count}"));
        TestContext.Out.WriteLine($"killed {killed} connections; behind: missing {check["missing"]}");
        if (check["missing"] > 0)
        {
            Assert.That(ImcMachines.SettledErrorCount(behind), Is.GreaterThan(before),
                $"{check["missing"]} writes did not arrive: the receiver's error count moved");
        }
    }

    /// <summary>
    /// The writer's machine stalls (its imcd stopped), so its routes go stale; the receiving host detaches, and its
    /// memory is unmapped there while another region's stays mapped. The writer writes on to the withdrawn memory: the
    /// receiving machine refuses every write (its imcd runs on, the other region gets none of them), and the refusals
    /// are counted on the writer's rail.
    /// </summary>
    [Test]
    public void ShouldRefuseAStaleWriteToWithdrawnMemoryAndCountItOnTheWritersRail()
    {
        using var imc = ImcMachines.Start(2, leaseSeconds: 30);
        var writer = imc.Peer(imc[0], "w");
        var reader = imc.Peer(imc[1], "r");
        writer.Send("alloc 63 4096");
        reader.Send("alloc 63 4096");
        reader.Send("rx 63");
        writer.Send("tx 63");
        writer.Send("write64 63 0 1");
        Assert.That(reader.Send("wait64 63 0 1 30000"), Does.StartWith("1"));
        reader.Send("alloc 64 4096");
        reader.Send("rx 64"); // an attach waits for every machine: before the stall
        var before = ImcMachines.SettledErrorCount(writer);

        imc.SignalAgent(imc[0], Signals.Stop);
        try
        {
            reader.Send("detach 63");
            // Until the receiving imcd has withdrawn the memory from its NIC, a write is still applied there: write
            // until refusals come back (the event), not for a fixed time.
            Poll.Until(() =>
            {
                Assert.That(writer.Send("seq-write 63 500"), Is.EqualTo("500"));
                writer.Send("write64 63 0 9"); // progresses the writer's worker: the last refusals come back
                return !writer.Send("nic-stats").EndsWith("refused=0", StringComparison.Ordinal);
            }, "the receiving machine to refuse writes to the withdrawn memory", TimeSpan.FromSeconds(30));
            Assert.That(imc.AgentRunning(imc[1]), Is.True, "the receiving machine's imcd still runs: " + imc.AgentOutput());
            Assert.That(reader.Send("seq-check 64 500"), Is.EqualTo("marker=0 missing=500"),
                "nothing of the stale writes landed in the memory mapped after the detach");
            Assert.That(ImcMachines.SettledErrorCount(writer), Is.GreaterThan(before),
                $"the refused writes were counted on the writer's rail ({writer.Send("nic-stats")})");
        }
        finally
        {
            imc.SignalAgent(imc[0], Signals.Continue);
            TestContext.Out.WriteLine(imc.AgentOutput());
        }
    }

    /// <summary>
    /// Ten processes in turn write 400 words and exit at once, with no detach or flush of their own: every write
    /// lands on the other machine (exit flushes), or the receiver's count moved.
    /// </summary>
    [Test]
    public void ShouldLandEveryWriteOfAProcessThatExitsRightAfterWriting()
    {
        const int Count = 400;
        using var imc = ImcMachines.Start(2);
        var reader = imc.Peer(imc[1], "r");
        reader.Send("alloc 65 4096");
        reader.Send("rx 65");
        var before = ImcMachines.SettledErrorCount(reader);
        var lost = 0;
        for (var round = 1; round <= 10; round++)
        {
            var first = round * 1_000_000L;
            using (var writer = imc.Peer(imc[0], "w"))
            {
                writer.Send("alloc 65 4096");
                writer.Send("tx 65");
                Assert.That(writer.Send($"seq-write 65 {Count} {first}"), Is.EqualTo($"{Count}"));
            } // "exit": the process returns from Main at once

            var check = reader.Send($"seq-check 65 {Count} {first}");
            if (check != $"marker={first + Count} missing=0")
            {
                lost++;
                TestContext.Out.WriteLine($"round {round}: {check}");
            }
        }

        if (lost > 0)
        {
            Assert.That(ImcMachines.SettledErrorCount(reader), Is.GreaterThan(before), $"{lost} rounds lost writes: the count moved");
        }
    }

    /// <summary>
    /// The receiving machine's imcd is killed and started again while a writer goes on: the host there keeps
    /// receiving once the agent is back, and its error count rose (a restart is a leave and a join).
    /// </summary>
    [Test]
    public void ShouldRaiseTheCountOfAMachineWhoseAgentRestartedAndDeliverAgain()
    {
        using var imc = ImcMachines.Start(2);
        var writer = imc.Peer(imc[0], "w");
        var reader = imc.Peer(imc[1], "r");
        writer.Send("alloc 66 4096");
        reader.Send("alloc 66 4096");
        reader.Send("rx 66");
        writer.Send("tx 66");
        writer.Send("write64 66 0 1");
        Assert.That(reader.Send("wait64 66 0 1 30000"), Does.StartWith("1"));
        var before = ImcMachines.SettledErrorCount(reader);

        imc.KillAgent(imc[1]);
        writer.Send("seq-write 66 100 100"); // toward an agent that is gone: lost
        imc.StartAgent(imc[1]);

        var value = 1000UL;
        Poll.Until(() =>
        {
            writer.Send($"write64 66 0 {++value}");
            return reader.Send("read64 66 0") == value.ToString(CultureInfo.InvariantCulture);
        }, "a write after the restart to land on the machine", TimeSpan.FromSeconds(60));
        Assert.That(ImcMachines.SettledErrorCount(reader), Is.GreaterThan(before), "the restart raised the machine's count");
    }

    /// <summary>
    /// A second imcd started on another machine with the name of a live one exits non-zero within 10 s, naming the live
    /// one, which is unaffected: its host stays up and receives.
    /// </summary>
    [Test]
    public void ShouldRefuseASecondImcdWithTheNameOfALiveMachine()
    {
        using var imc = ImcMachines.Start(3);
        var writer = imc.Peer(imc[0], "w");
        var reader = imc.Peer(imc[1], "r");
        writer.Send("alloc 67 4096");
        reader.Send("alloc 67 4096");
        reader.Send("rx 67");
        writer.Send("tx 67");

        // On the third machine, in a folder of its own (its own imcd serves that machine's folder under its own name).
        var environment = ImcMachines.Environment();
        environment["IMC_ROOT"] = "/dev/shm/imc-twin";
        var twin = imc[2].Run("dotnet", [ImcMachines.ImcdPath, "--machine", imc[1].Name, "--progress", "wait"],
            TimeSpan.FromSeconds(30), environment);
        Assert.That(twin.ExitCode, Is.EqualTo(1), twin.Stdout + twin.Stderr);
        Assert.That(twin.Stderr, Does.Contain($"machine '{imc[1].Name}' is live").And.Contain(imc[1].Address), twin.Stderr);

        Assert.That(writer.Send("hosts").Split(','), Does.Contain("r"), "the live machine's host is still up");
        writer.Send("write64 67 0 5");
        Assert.That(reader.Send("wait64 67 0 5 30000"), Does.StartWith("5"), "and still receives");
        Assert.That(imc.AgentRunning(imc[1]), Is.True);
    }

    /// <summary>
    /// A writer lets go of its transmit window (detach) right after writing, while the receiving machine's imcd is
    /// stopped: the detach does not return before that machine confirmed the writes (a window's Dispose flushes), and
    /// once its imcd runs again and the detach has returned, every write is there.
    /// </summary>
    [Test]
    public void ShouldNotLetGoOfATransmitWindowBeforeItsWritesLanded()
    {
        const int Count = 100;
        using var imc = ImcMachines.Start(2);
        var writer = imc.Peer(imc[0], "w");
        var reader = imc.Peer(imc[1], "r");
        writer.Send("alloc 70 4096");
        reader.Send("alloc 70 4096");
        reader.Send("rx 70");
        writer.Send("tx 70");
        writer.Send("write64 70 0 1");
        Assert.That(reader.Send("wait64 70 0 1 30000"), Does.StartWith("1"));

        imc.SignalAgent(imc[1], Signals.Stop);
        try
        {
            Assert.That(writer.Send($"seq-write 70 {Count} 1000"), Is.EqualTo($"{Count}"));
            writer.Post("detach 70");
            Assert.That(writer.TryReceive(out var early, TimeSpan.FromSeconds(1)), Is.False,
                $"the detach returned while the receiving machine could not have applied the writes: {early?.Text}");
        }
        finally
        {
            imc.SignalAgent(imc[1], Signals.Continue);
        }

        Assert.That(writer.Receive("detach 70", TimeSpan.FromSeconds(30)).Ok, Is.True);
        Assert.That(reader.Send($"seq-check 70 {Count} 1000"), Is.EqualTo($"marker={1000 + Count} missing=0"));
    }

    /// <summary>
    /// A stalled machine delays writes to itself only: while a thread of a process on A is stuck in a write toward B
    /// (B's imcd stopped, its socket full), the same process's writes toward C, from another thread, go on and arrive,
    /// every one, before the stuck write has moved (it moves when the worker's deadline gives up B's connection, or
    /// when B runs again). Once B runs again, the writes toward it go on.
    /// </summary>
    [Test]
    public void ShouldDelayOnlyWritesToAStalledMachine()
    {
        const int Count = 500;
        using var imc = ImcMachines.Start(3);
        var writer = imc.Peer(imc[0], "ws");
        var onB = imc.Peer(imc[1], "rb");
        var onC = imc.Peer(imc[2], "rc");
        onB.Send("alloc 88 65536");
        onB.Send("rx 88");
        onC.Send("alloc 89 65536");
        onC.Send("rx 89");
        writer.Send("alloc 88 65536");
        writer.Send("tx 88");
        writer.Send("alloc 89 65536");
        writer.Send("tx 89");
        writer.Send("bg-write 88");
        Poll.Until(() => long.Parse(writer.Send("bg-count"), CultureInfo.InvariantCulture) > 100, "the writes toward B to flow");

        imc.SignalAgent(imc[1], Signals.Stop);
        string? stuckThroughout = null;
        try
        {
            // A stuck send gives up after the worker's deadline (5 s), and then the writes toward B move again until a
            // new connection's buffers are full: try a few stuck spells, so a deadline that falls in the middle of
            // the writes toward C is not taken for them waiting.
            for (var spell = 1; spell <= 3 && stuckThroughout is null; spell++)
            {
                var stuck = Poll.Until(() =>
                {
                    var before = writer.Send("bg-count");
                    Thread.Sleep(200);
                    return (Before: before, After: writer.Send("bg-count"));
                }, counts => counts.Before == counts.After, "the writes toward the stopped machine to be stuck", TimeSpan.FromSeconds(60)).After;

                var first = spell * 10_000L;
                Assert.That(writer.Send($"seq-write 89 {Count} {first}", TimeSpan.FromSeconds(60)), Is.EqualTo($"{Count}"));
                var arrived = Poll.Until(() => onC.Send($"seq-check 89 {Count} {first}"), r => r.StartsWith($"marker={first + Count} ", StringComparison.Ordinal),
                    "the writes toward C to arrive", TimeSpan.FromSeconds(60));
                Assert.That(arrived, Is.EqualTo($"marker={first + Count} missing=0"));
                var after = writer.Send("bg-count");
                TestContext.Out.WriteLine($"spell {spell}: {Count} writes toward C arrived; toward B: {stuck} writes before, {after} after");
                if (after == stuck)
                {
                    stuckThroughout = after;
                }
            }
        }
        finally
        {
            imc.SignalAgent(imc[1], Signals.Continue);
        }

        Assert.That(stuckThroughout, Is.Not.Null,
            "in three stuck spells toward B, the writes toward C never all arrived while the write toward B was stuck");
        var at = long.Parse(writer.Send("bg-count"), CultureInfo.InvariantCulture);
        Poll.Until(() => long.Parse(writer.Send("bg-count"), CultureInfo.InvariantCulture) > at + 10, "the writes toward B to go on once it runs again");
        writer.Send("bg-stop");
    }

    /// <summary>
    /// One write to several machines hands its bytes to each before it waits for any: while a write of a process on A
    /// toward B and C is stuck on B (B's imcd stopped, its socket full), C already holds that very write. The receivers'
    /// hosts are named so that B's comes first in the route (the directory lists them by name): a write that sent to
    /// its machines in turn would leave C one write behind until B's deadline (5 s) gave B up.
    /// </summary>
    [Test]
    public void ShouldHandAWriteToEveryOtherMachineWhileOneOfThemIsStalled()
    {
        using var imc = ImcMachines.Start(3);
        var writer = imc.Peer(imc[0], "ws");
        var onB = imc.Peer(imc[1], "ra");
        var onC = imc.Peer(imc[2], "rz");
        onB.Send("alloc 91 65536");
        onB.Send("rx 91");
        onC.Send("alloc 91 65536");
        onC.Send("rx 91");
        writer.Send("alloc 91 65536");
        writer.Send("tx 91");
        writer.Send("bg-write 91");
        Poll.Until(() => long.Parse(writer.Send("bg-count"), CultureInfo.InvariantCulture) > 100, "the writes to flow");

        imc.SignalAgent(imc[1], Signals.Stop);
        string? seen = null;
        try
        {
            // A stuck write gives B up after the worker's deadline, and then the writes move again until a new
            // connection's buffers are full: try a few stuck spells, so a deadline that falls between the looks at C
            // is not taken for C waiting.
            for (var spell = 1; spell <= 3 && seen is null; spell++)
            {
                var stuck = Poll.Until(() =>
                {
                    var before = writer.Send("bg-count");
                    Thread.Sleep(200);
                    return (Before: before, After: writer.Send("bg-count"));
                }, counts => counts.Before == counts.After, "the writes to be stuck on the stopped machine", TimeSpan.FromSeconds(60)).After;
                var inProgress = (long.Parse(stuck, CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture);

                var onCNow = onC.Send("read64 91 0");
                for (var look = 0; look < 30 && onCNow != inProgress; look++)
                {
                    Thread.Sleep(100); // C's imcd applies it when it runs next
                    onCNow = onC.Send("read64 91 0");
                }

                var after = writer.Send("bg-count");
                TestContext.Out.WriteLine($"spell {spell}: write {inProgress} under way; C holds write {onCNow}; returned before: {stuck}, after: {after}");
                if (after == stuck && onCNow == inProgress)
                {
                    seen = onCNow;
                }
            }
        }
        finally
        {
            imc.SignalAgent(imc[1], Signals.Continue);
        }

        Assert.That(seen, Is.Not.Null,
            "in three spells stuck on B, C never held the write under way: the write waited for B before it reached C");
        var at = long.Parse(writer.Send("bg-count"), CultureInfo.InvariantCulture);
        Poll.Until(() => long.Parse(writer.Send("bg-count"), CultureInfo.InvariantCulture) > at + 10, "the writes to go on once B runs again");
        var last = writer.Send("bg-stop");
        Poll.Until(() => onC.Send("read64 91 0") == last, $"C to hold the last write ({last})");
    }

    /// <summary>
    /// A machine that never comes back leaves no lock set behind: a set homed there (used from another machine too)
    /// fails while the machine is gone, and once it has been gone for ten leases (at least 30 s) the other machines'
    /// agents free it, with its users' keys and the machine's arena map, so its key is allocated afresh on a live
    /// machine; the old user's handle still fails (it names words on the machine that is gone).
    /// </summary>
    [Test]
    public void ShouldFreeTheLockSetsOfAMachineThatNeverComesBack()
    {
        using var imc = ImcMachines.Start(3);
        var onA = imc.Peer(imc[0], "la");
        var onB = imc.Peer(imc[1], "lb");
        var onC = imc.Peer(imc[2], "lc");
        Assert.That(onC.Send("lkcreate 77 2"), Is.EqualTo("created"));
        onC.Send("release 77 0");
        onB.Send("lkalloc 77 2");
        onB.Send("acquire 77 1");
        onB.Send("release 77 1");
        Assert.That(onA.Send("etcd-keys arenamap/").Split(','), Does.Contain($"arenamap/{imc[2].Name}"));

        onC.Dispose();
        imc.KillAgent(imc[2]);
        Poll.Until(() => !onA.Send("hosts").Split(',').Contains("lc"), "the dead machine's host to leave with its lease",
            TimeSpan.FromSeconds(30));
        var gone = onB.Ask("acquire 77 1", TimeSpan.FromSeconds(60));
        Assert.That(gone.Ok, Is.False, "a lock homed on a machine that is gone cannot be taken");

        // Ten leases (30 s) after the machine left, the set is freed: its key is made anew, homed on a live machine.
        var created = Poll.Until(() => onA.Send("lkcreate 77 2"), reply => reply == "created",
            "the lock set of the machine that never came back to be freed", TimeSpan.FromSeconds(90));
        Assert.That(created, Is.EqualTo("created"));
        Assert.That(onA.Send("etcd-keys arenamap/").Split(','), Does.Not.Contain($"arenamap/{imc[2].Name}"),
            "the gone machine's arena map went with its sets");
        var old = onB.Ask("acquire 77 1", TimeSpan.FromSeconds(60));
        Assert.That(old.Ok, Is.False, "the old set's handle does not take a lock");
        TestContext.Out.WriteLine($"the old user's acquire: {old.Status} {old.Text}");
        Assert.That(imc.AgentOutput(), Does.Contain("lock set key 77 is freed"));
    }

    /// <summary>
    /// Writers that made 100,000 broadcast writes to the other machines exit, three in turn: every receiving agent runs
    /// on (an agent died after writers of about 200,000 puts exited, when writes were software-RMA puts). With agents
    /// that sleep between events (wait: three machines) and agents that spin (two machines: this box has two cores).
    /// </summary>
    [TestCase("wait", 3)]
    [TestCase("spin", 2)]
    public void ShouldKeepTheReceivingAgentsRunningWhenBusyWritersExit(string progress, int machines)
    {
        const int Count = 100_000;
        using var imc = ImcMachines.Start(machines, progress);
        var readers = Enumerable.Range(1, machines - 1).Select(i => imc.Peer(imc[i], $"r{i}")).ToArray();
        foreach (var reader in readers)
        {
            reader.Send($"alloc 68 {8 * (Count + 1)}");
            reader.Send("rx 68");
        }

        for (var round = 1; round <= 3; round++)
        {
            var first = round * 1_000_000L;
            using (var writer = imc.Peer(imc[0], "w"))
            {
                writer.Send($"alloc 68 {8 * (Count + 1)}");
                writer.Send("tx 68");
                Assert.That(writer.Send($"seq-write 68 {Count} {first}", TimeSpan.FromSeconds(120)), Is.EqualTo($"{Count}"));
            }

            foreach (var reader in readers)
            {
                Assert.That(reader.Send($"seq-check 68 {Count} {first}"), Is.EqualTo($"marker={first + Count} missing=0"),
                    $"round {round}, {reader.Host}");
            }

            Assert.That(Enumerable.Range(1, machines - 1).All(i => imc.AgentRunning(imc[i])), Is.True, imc.AgentOutput());
        }
    }

    /// <summary>
    /// A machine cut off from the cluster (its link down) for longer than its lease fences itself once it has not
    /// reached etcd for its lease less a second: its readers read a negative error count ("error processing") while it
    /// is cut off, and a coherent write there returns and lands nowhere (API.md: its coherent writes after the fence
    /// land nowhere; a write does not fail because the interconnect lost it). Once it is back, a reader there reads a
    /// count above the one before, or learns once that its host was taken down (NotInitialized: the cluster took the
    /// machine for dead meanwhile, and it joined again).
    /// </summary>
    [Test]
    public void ShouldFenceAMachineCutOffPastItsLeaseAndRaiseItsCountsWhenItIsBack()
    {
        using var imc = ImcMachines.Start(2);
        var other = imc.Peer(imc[0], "o");
        var reader = imc.Peer(imc[1], "r");
        reader.Send("alloc 69 4096");
        reader.Send("rx 69");
        foreach (var peer in new[] { other, reader })
        {
            peer.Send("alloc 68 4096 600 1"); // coherent
            peer.Send("rx 68");
            peer.Send("tx 68");
        }

        reader.Send("write64 68 0 1");
        Assert.That(other.Send("wait64 68 0 1 10000"), Does.StartWith("1"));
        var before = ImcMachines.SettledErrorCount(reader);

        var down = imc[1].Run("ip", ["link", "set", imc[1].Device, "down"], TimeSpan.FromSeconds(10));
        Assert.That(down.ExitCode, Is.EqualTo(0), down.Stderr);
        try
        {
            Poll.Until(() => int.Parse(reader.Send("error-count 0"), CultureInfo.InvariantCulture) < 0,
                "the cut-off machine to fence itself (its readers read error processing)", TimeSpan.FromSeconds(30));
            // Past its lease, when the other machine has taken it for dead: still fenced.
            Poll.Until(() => !other.Send("hosts").Split(',').Contains("r"),
                "the other machine to take the cut-off one's host out", TimeSpan.FromSeconds(30));
            Assert.That(int.Parse(reader.Send("error-count 0"), CultureInfo.InvariantCulture), Is.LessThan(0),
                "still fenced while cut off");
            var fencedWrite = reader.Ask("write64 68 0 2", TimeSpan.FromSeconds(60));
            Assert.That(fencedWrite.Ok, Is.True, $"a coherent write on the fenced machine returns: {fencedWrite.Status} {fencedWrite.Text}");
            var status = imc[1].Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imcs.dll")], TimeSpan.FromSeconds(90),
                ImcMachines.Environment());
            Assert.That(status.ExitCode, Is.Not.Zero, status.Stdout);
            Assert.That(status.Stderr, Does.Contain($"machine '{imc[1].Name}' is fenced"), "imcs says the machine is fenced");
        }
        finally
        {
            _ = imc[1].Run("ip", ["link", "set", imc[1].Device, "up"], TimeSpan.FromSeconds(10));
        }

        var after = Poll.Until(() => reader.Ask("error-count 0"),
            reply => !reply.Ok || int.Parse(reply.Text, CultureInfo.InvariantCulture) >= 0,
            "the machine to be back in the cluster", TimeSpan.FromSeconds(60));
        TestContext.Out.WriteLine($"before {before}; back: {(after.Ok ? after.Text : after.Status)}");
        Assert.That(other.Send("read64 68 0"), Is.EqualTo("1"), "the fenced machine's coherent write landed nowhere else");
        if (after.Ok)
        {
            Assert.That(int.Parse(after.Text, CultureInfo.InvariantCulture), Is.GreaterThan(before), "its counts rose");
        }
        else
        {
            Assert.That(after.Status, Is.EqualTo("NotInitialized"), after.Text);
        }
    }

    /// <summary>
    /// Lock exclusion under a partition past the lease. Processes on machines A and B increment one counter under one
    /// lock whose home is machine C (the test peer's <c>count-for</c>: acquire, read, write plus one by
    /// broadcast, release). B's link goes down for twice its lease, then comes back. The counter, read on A and on C,
    /// equals the increments whose acquire, write and release all succeeded (up to the few whose release failed after
    /// their write was sent, which no protocol can settle for the writer: at most one per failed release). B's
    /// process, fenced, gets McError from its lock calls and lands nothing after; B comes back by itself with its host
    /// up and a new epoch, and a new process there counts on from the counter as it stands. (The counter is a word of a
    /// region that is not coherent, as in <see cref="LockCounterTests"/>; a coherent write across machines takes the
    /// region's write lock, which would make the fenced process's writes throw rather than its lock calls fail.)
    /// </summary>
    [Test]
    public void ShouldKeepOneLockHolderAndExactCountsAcrossAPartitionPastTheLease()
    {
        const int LeaseSeconds = 3;
        using var imc = ImcMachines.Start(3, leaseSeconds: LeaseSeconds);
        var home = imc.Peer(imc[2], "lc");
        var a = imc.Peer(imc[0], "la");
        var b = imc.Peer(imc[1], "lb");
        home.Send("lkalloc 72 1"); // first: the set's home is machine C
        PeerProcess[] all = [home, a, b];
        foreach (var peer in all)
        {
            peer.Send("alloc 71 4096");
            peer.Send("rx 71");
        }

        foreach (var peer in all)
        {
            peer.Send("tx 71 1");
        }

        a.Send("lkalloc 72 1");
        b.Send("lkalloc 72 1");

        var epochBefore = MachineEpoch(imc, 1);
        const int CountMs = 25_000;
        a.Post($"count-for 72 71 {CountMs}");
        b.Post($"count-for 72 71 {CountMs}");
        Thread.Sleep(3_000); // both counting
        var down = imc[1].Run("ip", ["link", "set", imc[1].Device, "down"], TimeSpan.FromSeconds(10));
        Assert.That(down.ExitCode, Is.EqualTo(0), down.Stderr);
        try
        {
            Poll.Until(() => !home.Send("hosts").Split(',').Contains("lb"),
                "machine C to take B's host out (B's lease expired)", TimeSpan.FromSeconds(30));
            Thread.Sleep(2 * LeaseSeconds * 1000); // A counts on alone, and B's process keeps trying, fenced
        }
        finally
        {
            _ = imc[1].Run("ip", ["link", "set", imc[1].Device, "up"], TimeSpan.FromSeconds(10));
        }

        var counted = new[] { a, b }.Select(p => (p.Host, Reply: p.Receive("count-for", TimeSpan.FromSeconds(120)))).ToList();
        foreach (var (host, reply) in counted)
        {
            TestContext.Out.WriteLine($"{host}: {reply.Text}");
            Assert.That(reply.Ok, Is.True, $"{host}: {reply.Text}");
        }

        var fields = counted.Select(c => Fields(c.Reply.Text.Replace(" last=", " last-", StringComparison.Ordinal)
            .Split(" last-")[0])).ToList();
        var ok = fields.Sum(f => f["ok"]);
        var inDoubt = fields.Sum(f => f["release-failed"]);
        Assert.That(fields[1]["acquire-failed"] + fields[1]["release-failed"], Is.GreaterThan(0),
            "B's process saw its lock calls fail while its machine was cut off and fenced");
        Assert.That(counted[1].Reply.Text, Does.EndWith("last=McError"), "B's process: the fence's McError, at the end");
        foreach (var reader in new[] { a, home })
        {
            var counter = long.Parse(reader.Send("read64 71 0"), CultureInfo.InvariantCulture);
            TestContext.Out.WriteLine($"{reader.Host}: counter {counter}, ok {ok}, in doubt {inDoubt}");
            Assert.That(counter, Is.InRange(ok, ok + inDoubt),
                $"{reader.Host}: the counter is the increments that succeeded (none lost, none made on a stale read)");
        }

        // B is back by itself: its host up again (nobody ran imc_init there), under a new epoch.
        Poll.Until(() => home.Send("hosts").Split(',').Contains("lb"), "B's host to be up again", TimeSpan.FromSeconds(60));
        Assert.That(MachineEpoch(imc, 1), Is.Not.EqualTo(epochBefore), "B joined again under a new epoch");
        var next = imc.Peer(imc[1], "lb");
        next.Send("alloc 71 4096");
        next.Send("rx 71");
        next.Send("tx 71 1");
        next.Send("lkalloc 72 1");
        // The region is not coherent: B's new receive memory holds the counter once a write after its attach brings it.
        var start = long.Parse(a.Send("count-under-lock 72 71 1"), CultureInfo.InvariantCulture);
        Assert.That(next.Send("count-under-lock 72 71 100", TimeSpan.FromSeconds(120)), Is.EqualTo((start + 100).ToString(CultureInfo.InvariantCulture)),
            "a new process on B counts on from the counter as it stands");
        Assert.That(long.Parse(a.Send("read64 71 0"), CultureInfo.InvariantCulture), Is.EqualTo(start + 100), "and A sees it");
    }

    /// <summary>
    /// Every key has an owner that removes it: a machine's count of the errors it raised (<c>raises/</c>) goes with the
    /// machine's lease, and the other machines' acknowledgements of it with it; when the machine joins again and drops
    /// a write again, its new count starts again from 1 and still raises the other machine's count.
    /// </summary>
    [Test]
    public void ShouldRemoveAMachinesRaisedCountWhenItLeavesAndCountAnewWhenItIsBack()
    {
        using var imc = ImcMachines.Start(2);
        var writer = imc.Peer(imc[0], "kw");
        var reader = imc.Peer(imc[1], "kr");
        writer.Send("alloc 73 4096");
        reader.Send("alloc 73 4096");
        reader.Send("rx 73");
        writer.Send("tx 73");
        DropOne(imc, writer);
        var origin = imc[0].Name;
        Poll.Until(() => reader.Send("etcd-keys raiseacks/").Split(',').Any(k => k.Contains($"/{origin}/", StringComparison.Ordinal)),
            "the reader's machine to acknowledge the drop", TimeSpan.FromSeconds(30));
        Assert.That(reader.Send("etcd-keys raises/").Split(','), Has.Some.EndsWith($"/{origin}"));

        writer.Dispose();
        imc.SignalAgent(imc[0], Signals.SigTerm); // leaves: its lease revoked
        Poll.Until(() => !reader.Send("etcd-keys raises/").Contains($"/{origin}", StringComparison.Ordinal) &&
                !reader.Send("etcd-keys raiseacks/").Contains($"/{origin}/", StringComparison.Ordinal),
            "the machine's raised count and the acknowledgements of it to go", TimeSpan.FromSeconds(30));

        imc.StartAgent(imc[0]);
        var again = imc.Peer(imc[0], "kw2");
        again.Send("alloc 73 4096");
        again.Send("tx 73");
        var before = ImcMachines.SettledErrorCount(reader);
        DropOne(imc, again);
        Assert.That(ImcMachines.SettledErrorCount(reader), Is.GreaterThan(before), "the new count raised the reader's");
    }

    /// <summary>Arms one drop toward host kr from <paramref name="writer"/>'s machine and writes: the write is dropped.</summary>
    private static void DropOne(ImcMachines imc, PeerProcess writer)
    {
        var inject = imc[0].Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imcctl.dll"), "inject-error", "--rail", "0",
            "--count", "1", "--host", "kr"], TimeSpan.FromSeconds(60), ImcMachines.Environment());
        Assert.That(inject.ExitCode, Is.Zero, inject.Stdout + inject.Stderr);
        writer.Send("write64 73 0 1");
    }

    /// <summary>Machine <paramref name="index"/>'s epoch as <c>imcs --json</c> on machine C shows it.</summary>
    private static string MachineEpoch(ImcMachines imc, int index)
    {
        var status = imc[2].Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imcs.dll"), "--json"], TimeSpan.FromSeconds(60),
            ImcMachines.Environment());
        Assert.That(status.ExitCode, Is.EqualTo(0), status.Stderr);
        using var json = System.Text.Json.JsonDocument.Parse(status.Stdout);
        return json.RootElement.GetProperty("machines").EnumerateArray()
            .Single(m => m.GetProperty("name").GetString() == imc[index].Name).GetProperty("epoch").GetRawText();
    }

    /// <summary>"a=1 b=2" as a map of numbers.</summary>
    private static Dictionary<string, long> Fields(string text) =>
        text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(f => f.Split('='))
            .ToDictionary(f => f[0], f => long.Parse(f[1], CultureInfo.InvariantCulture));
}
