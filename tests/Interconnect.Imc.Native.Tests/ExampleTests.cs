namespace Interconnect.Imc.Native.Tests;

/// <summary>
/// The manual's Examples 10-1 to 10-6 in C (examples/c), built with cc against libimc.so and run as processes of two
/// emulated hosts. They print only what the manual's programs print, so the tests check that, their exit codes, and
/// what another host sees.
/// </summary>
public sealed class ExampleTests : NativeTest
{
    private const string Ex1 = "examples/c/mc_ex1.c";
    private const string Ex2 = "examples/c/mc_ex2.c";
    private const string Ex3 = "examples/c/mc_ex3.c";
    private const string Ex4 = "examples/c/mc_ex4.c";
    private const string Ex6 = "examples/c/mc_ex6.c";
    private const string Hold = "tests/Interconnect.Imc.Native.Tests/c/imc_hold.c";

    [Test]
    public void Example1ShouldPrintTheMastersPidOnTheSlaveOnAnotherHost()
    {
        var slave = Start(Ex1, "beta", "0");
        WaitForReceiveFiles(2, slave);
        Assert.That(slave.HasExited, Is.False, slave.Transcript);

        var master = Start(Ex1, "alpha", "1");
        Assert.That(master.WaitForExit(), Is.Zero, master.Transcript);

        Assert.That(slave.WaitForLine("pid of master process is"), Is.EqualTo($"pid of master process is {master.Pid}"), slave.Transcript);
        Assert.That(slave.WaitForExit(), Is.Zero, slave.Transcript);
    }

    [Test]
    public void Example1ShouldPrintItsUsageWithoutItsArgument()
    {
        var program = Start(Ex1, "alpha");

        Assert.That(program.WaitForExit(), Is.EqualTo(255), program.Transcript);
        Assert.That(program.Lines, Has.Some.Contains("usage:").And.Some.Contains("0|1"), program.Transcript);
    }

    [Test]
    public void Example2ShouldSayTheLastProcessIsExitingWhenItRunsAlone()
    {
        var program = Start(Ex2, "alpha");

        Assert.That(program.WaitForExit(), Is.Zero, program.Transcript);
        Assert.That(program.Lines, Is.EqualTo(new[] { "The last process is exiting" }), program.Transcript);
    }

    [Test]
    public void Example2ShouldCountAProcessOfAnotherHostAndNotBeTheLast()
    {
        var holder = Start(Hold, "alpha", "123");
        Assert.That(holder.WaitForLine("count"), Is.EqualTo("count 1"), holder.Transcript);
        holder.WaitForLine("holding");

        var program = Start(Ex2, "beta");
        Assert.That(program.WaitForExit(), Is.Zero, program.Transcript);
        Assert.That(program.Lines, Is.Empty, program.Transcript); // the count went 1, 2, 1: alpha's process is still in

        holder.WriteLine("count?");
        Assert.That(holder.WaitForLine("count"), Is.EqualTo("count 1"), holder.Transcript);
        holder.CloseInput();
        Assert.That(holder.WaitForLine("count"), Is.EqualTo("count 0"), holder.Transcript);
        holder.WaitForLine("The last process is exiting");
        Assert.That(holder.WaitForExit(), Is.Zero, holder.Transcript);
    }

    [Test]
    public void Example3ShouldDeliverTheMessageToTheReceiverOnAnotherHost()
    {
        var receiver = Start(Ex3, "beta");
        WaitForReceiveFiles(2, receiver);
        Assert.That(receiver.HasExited, Is.False, receiver.Transcript); // it waits for the message
        // The manual's receiver prints nothing and checks only the count: what it received is read here, on its host.
        using var beta = Cluster.Open("beta");
        using var region = beta.AllocateRegion(1234, 8192);
        using var rx = region.AttachReceive();
        var count = Testing.Poll.Until(() => beta.ReadErrorCount(0), c => c >= 0, "rail 0's error processing window to end");

        var transmitter = Start(Ex3, ["TRANSMIT"], "alpha");

        Assert.That(transmitter.WaitForExit(), Is.Zero, transmitter.Transcript);
        Assert.That(receiver.WaitForExit(), Is.Zero, receiver.Transcript);
        Assert.That(rx.Read<int>(0), Is.EqualTo(1), "msg_arrived");
        Assert.That(rx.Read<int>(4), Is.EqualTo(count), "send_count: the transmitter's error count, unchanged since");
        Assert.That(Enumerable.Range(0, 2046).Select(i => rx.Read<int>(8 + (4L * i))), Is.EqualTo(Enumerable.Range(0, 2046)),
            "remainder[i] == i");
    }

    [Test]
    public void Example4ShouldSendToExample3sReceiverAndPassTheErrorCheck()
    {
        var receiver = Start(Ex3, "beta");
        WaitForReceiveFiles(2, receiver);

        var transmitter = Start(Ex4, "alpha");

        Assert.That(transmitter.WaitForExit(), Is.Zero, transmitter.Transcript);
        Assert.That(receiver.WaitForExit(), Is.Zero, receiver.Transcript);
    }

    [Test]
    public void Example6ShouldReturnWhenAHostJoins()
    {
        var program = Start(Ex6, "alpha");
        WaitForApiInit(program);

        using var gamma = ImcContext.Open(Cluster.Options("gamma", autoInitialize: true)); // a host join

        WaitForExitOrChangeAgain(program);
        Assert.That(program.WaitForExit(), Is.Zero, program.Transcript);
    }

    [Test]
    public void Example6ShouldReturnWhenARailFails()
    {
        var program = Start(Ex6, "alpha");
        WaitForApiInit(program);

        ImcControl.FailRail(0, Cluster.Options("alpha"));

        WaitForExitOrChangeAgain(program);
        Assert.That(program.WaitForExit(), Is.Zero, program.Transcript);
    }

    /// <summary>Waits until the program has mapped the cluster's control file (imc_api_init has run).</summary>
    private void WaitForApiInit(Testing.ProgramProcess program)
    {
        var control = Path.Combine(Cluster.Root, Testing.TemporaryCluster.ClusterName, "control");
        WaitUntil(() => program.HasExited || program.HasMapped(control), "imc_api_init");
    }

    /// <summary>
    /// Example 10-6 reads the cluster right after imc_api_init; a change made before that read is not one it waits
    /// for. If it has not returned after a while, make another change (a host leave: it cannot have read that one).
    /// </summary>
    private void WaitForExitOrChangeAgain(Testing.ProgramProcess program)
    {
        for (var attempt = 0; attempt < 3 && !program.HasExited; attempt++)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            while (!program.HasExited && watch.Elapsed < TimeSpan.FromSeconds(10))
            {
                Thread.Sleep(20);
            }

            if (!program.HasExited)
            {
                using var delta = ImcContext.Open(Cluster.Options($"delta{attempt}", autoInitialize: true));
            }
        }
    }
}
