using Interconnect.Machines;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests.AcrossMachines;

/// <summary>
/// C programs through libimc.so (built with cc as in Interconnect.Imc.Native.Tests) with their hosts on two machines:
/// alpha on machine 1, beta on machine 2. The manual's Examples 10-1 to 10-5 store through their transmit pointers,
/// which only a direct region serves, and a direct region is one machine's: across machines <c>imc_asalloc</c>
/// refuses it with IMC_NOTSUPPORTED (the printed examples ignore that status and fault on the null pointer). So what
/// runs here is Example 10-6 unchanged, that refusal, and Example 10-3 with its stores written through
/// <c>imc_write32</c>/<c>imc_bcopy</c> into an <c>IMC_EMULATED</c> region (c/mc_ex3_bcopy.c).
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(600_000)]
public sealed class CExampleTests : AlphaBetaFixture
{
    private const string Ex3Bcopy = "tests/Interconnect.Cluster.Tests/c/mc_ex3_bcopy.c";
    private const string Ex6 = "examples/c/mc_ex6.c";
    private const string WriteAndExit = "tests/Interconnect.Cluster.Tests/c/write_and_exit.c";
    private const string Hold = "tests/Interconnect.Imc.Native.Tests/c/imc_hold.c";
    private const string ControlFile = "/dev/shm/imc/" + ImcMachines.ClusterName + "/control";
    private readonly List<ProgramProcess> _programs = [];

    [TearDown]
    public void StopPrograms()
    {
        _programs.ForEach(p => p.Dispose());
        _programs.Clear();
    }

    /// <summary>
    /// Example 10-3's message from a C transmitter on machine 1 to a C receiver on machine 2, written through the
    /// library: the receiver holds msg_arrived, the transmitter's error count (equal to its own: nothing was lost) and
    /// remainder[i] == i, and both exit 0, as Example3ShouldDeliverTheMessageToTheReceiverOnAnotherHost checks on one.
    /// </summary>
    [Test]
    public void Example3ThroughTheLibraryShouldDeliverItsMessageToAReceiverOnAnotherMachine()
    {
        var receiver = Start(Imc[1], Ex3Bcopy, [], "beta");
        receiver.WaitForLine("waiting for the message"); // its receive attach returned: every machine applied it

        var transmitter = Start(Imc[0], Ex3Bcopy, ["TRANSMIT"], "alpha");

        Assert.That(transmitter.WaitForExit(), Is.Zero, transmitter.Transcript);
        Assert.That(receiver.WaitForExit(), Is.Zero, receiver.Transcript);
        var received = receiver.Lines.Single(l => l.StartsWith("received:", StringComparison.Ordinal));
        Assert.That(received, Does.Contain("msg_arrived=1 ").And.EndWith(" remainder_ok=2046"), receiver.Transcript);
    }

    /// <summary>
    /// A C program that creates a region as Examples 10-1 to 10-5 do (flag 0: direct) in a cluster across machines is
    /// refused with IMC_NOTSUPPORTED and a message that says why and what to do, never given one machine's memory.
    /// </summary>
    [Test]
    public void ShouldRefuseADirectRegionFromCAcrossMachinesWithNotSupported()
    {
        var holder = Start(Imc[0], Hold, [], "alpha", "123");

        Assert.That(holder.WaitForExit(), Is.EqualTo(2), holder.Transcript); // imc_hold: a call failed
        Assert.That(holder.Lines, Is.Empty, holder.Transcript);
        Assert.That(holder.ErrorLines, Is.EqualTo(new[]
        {
            "imc_hold: IMC_NOTSUPPORTED: not supported: region key 123: direct regions (C transmit pointers) are one " +
            "machine's, and IMC_DIRECTORY is set: write through imc_bcopy, or use a cluster on one machine",
        }), holder.Transcript);
    }

    /// <summary>Example 10-6 on machine 1 returns (exit 0, no error printed) when a host joins on machine 2.</summary>
    [Test]
    public void Example6ShouldReturnWhenAHostJoinsOnTheOtherMachine()
    {
        var program = Start(Imc[0], Ex6, [], "alpha");
        Poll.Until(() => program.HasExited || program.HasMapped(ControlFile), "mc_ex6's imc_api_init", TimeSpan.FromSeconds(60));

        ImcMachines.InitHost(Imc[1], "gamma"); // a host join, on the other machine
        // Example 10-6 reads the cluster right after imc_api_init; a join before that read is not one it waits for.
        // If it has not returned after a while, another host joins there (one it cannot have read).
        for (var attempt = 0; attempt < 3 && !program.ExitsWithin(TimeSpan.FromSeconds(10)); attempt++)
        {
            ImcMachines.InitHost(Imc[1], $"delta{attempt}");
        }

        Assert.That(program.WaitForExit(), Is.Zero, program.Transcript);
        // It prints only on a failure, through imc_perror ("imc_getclusterinfo: ...", "imc_wait_cluster_event ...").
        Assert.That(program.Lines.Concat(program.ErrorLines), Has.None.StartsWith("imc_"), program.Transcript);
    }

    /// <summary>
    /// A C program on machine 1 writes to a receiver on machine 2, then a marker, and returns from main at once, ten
    /// times in turn: 4,000 words one <c>imc_write32</c> at a time, or 2,000 rounds of 16,000 words (128 MB) by
    /// <c>imc_bcopy</c>. Each time the receiver has the marker and every word of the last round, or its error count
    /// moved (API.md: a process that exits right after writing). Both passed with the exit flush taken out as well:
    /// what a write handed to UCX was on the connection already, which the kernel delivers after the process is gone.
    /// They hold the contract for C, not the flush's part in it.
    /// </summary>
    [TestCase(4000, 0)]
    [TestCase(16000, 2000)]
    public void ShouldLandEveryWriteOfACProgramThatExitsRightAfterWriting(int words, int rounds)
    {
        for (var run = 0; run < 10; run++)
        {
            var start = 1_000_000 * (run + 1);
            string[] arguments = rounds == 0 ? [$"{words}", $"{start}"] : [$"{words}", $"{start}", $"{rounds}"];
            var receiver = Start(Imc[1], WriteAndExit, [], "beta", arguments);
            receiver.WaitForLine("ready"); // its receive attach returned: every machine applied it
            var writer = Start(Imc[0], WriteAndExit, ["TRANSMIT"], "alpha", arguments);
            Assert.That(writer.WaitForExit(), Is.Zero, writer.Transcript);
            Assert.That(receiver.WaitForExit(), Is.Zero, receiver.Transcript);
            var seen = receiver.Lines.Single(l => l.StartsWith("marker=", StringComparison.Ordinal));
            var fields = seen.Split(' ').Select(f => f.Split('=')).ToDictionary(f => f[0], f => long.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture));
            TestContext.Out.WriteLine($"run {run}: {seen}");
            if (fields["marker"] != start + words || fields["missing"] > 0)
            {
                Assert.That(fields["count_after"], Is.GreaterThan(fields["count_before"]), $"run {run}: writes missing, count unmoved: {seen}");
            }

            Assert.That(fields["marker"], Is.EqualTo(start + words), $"run {run}: the writer's last write landed: {seen}");
            Assert.That(fields["missing"], Is.Zero, $"run {run}: every write landed: {seen}");
        }
    }

    /// <summary>
    /// A C program's exit flushes (libimc.so runs the flush from an atexit handler of its own: .NET raises no
    /// ProcessExit in a C host). The program writes toward a receiver on machine 2, says so, and returns from main once
    /// told to, while machine 2's imcd is stopped: it does not exit at once (its exit waits for machine 2 to confirm
    /// the writes, up to 2 s); once that imcd runs again, it has exited 0 and every write is there. Without the flush
    /// it exited at once, with nothing confirmed.
    /// </summary>
    [Test]
    public void ShouldWaitAtExitOfACProgramUntilItsWritesAreConfirmed()
    {
        string[] arguments = ["100", "7000000"];
        var receiver = Start(Imc[1], WriteAndExit, [], "beta", arguments);
        receiver.WaitForLine("ready");
        var writer = Start(Imc[0], WriteAndExit, ["TRANSMIT", "WAIT_BEFORE_EXIT"], "alpha", arguments);
        writer.WaitForLine("written");

        Imc.SignalAgent(Imc[1], Signals.Stop);
        try
        {
            writer.WriteLine("exit");
            Assert.That(writer.ExitsWithin(TimeSpan.FromSeconds(1)), Is.False,
                "the C program exited while the receiving machine could not have confirmed its writes");
        }
        finally
        {
            Imc.SignalAgent(Imc[1], Signals.Continue);
        }

        Assert.That(writer.WaitForExit(), Is.Zero, writer.Transcript);
        Assert.That(receiver.WaitForExit(), Is.Zero, receiver.Transcript);
        Assert.That(receiver.Lines.Single(l => l.StartsWith("marker=", StringComparison.Ordinal)),
            Does.StartWith("marker=7000100 missing=0 "));
    }

    /// <summary>Starts the C program <paramref name="source"/> (built with <paramref name="defines"/>) on host <paramref name="host"/> of <paramref name="machine"/>.</summary>
    private ProgramProcess Start(SimulatedMachine machine, string source, string[] defines, string host, params string[] args)
    {
        var path = CPrograms.Build(source, defines);
        var environment = ImcMachines.Environment();
        environment["IMC_HOST"] = host;
        foreach (var (name, value) in CPrograms.Environment)
        {
            environment[name] = value;
        }

        var program = ProgramProcess.Adopt(machine.Start(path, args, environment), Path.GetFileName(path), host);
        _programs.Add(program);
        return program;
    }
}
