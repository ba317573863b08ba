using System.Globalization;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests.AcrossMachines;

/// <summary>Signals, host events and error counts across machines; imc_init and imcs there.</summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(600_000)]
public sealed class EventTests
{
    private const int SigUsr1 = 10;
    private ImcMachines _imc = null!;

    [OneTimeSetUp]
    public void StartMachines() => _imc = ImcMachines.Start(2);

    [OneTimeTearDown]
    public void StopMachines() => _imc?.Dispose();

    /// <summary>Kill of a process on a host of another machine runs its handler; a pid not registered there is NoSuchProcess.</summary>
    [Test]
    public void ShouldRunTheHandlerOfAProcessKilledFromAnotherMachine()
    {
        var sender = _imc.Peer(_imc[0], "ks");
        var target = _imc.Peer(_imc[1], "kt");
        target.Send($"on-signal {SigUsr1}");
        for (var i = 1; i <= 3; i++)
        {
            sender.Send($"kill kt {target.Pid} {SigUsr1}");
            Assert.That(target.Send($"wait-signals {i} 10000"), Is.EqualTo(i.ToString(CultureInfo.InvariantCulture)));
        }

        var refused = sender.Ask($"kill kt {sender.Pid} {SigUsr1}");
        Assert.That(refused.Status, Is.EqualTo("NoSuchProcess"), refused.Text);
        var invalid = sender.Ask($"kill kt {target.Pid} 99");
        Assert.That(invalid.Status, Is.EqualTo("InvalidSignal"), invalid.Text);
    }

    /// <summary>
    /// A host joining on machine 2 wakes a host-event waiter on machine 1 with both hosts; a host taken down on
    /// machine 2 (imc_init --down) has raised machine 1's error count by the time the command returns.
    /// </summary>
    [Test]
    public void ShouldRaiseHostEventsAndErrorCountsOnEveryMachine()
    {
        var waiter = _imc.Peer(_imc[0], "ew");
        waiter.Post("wait-host-event 30000");
        Assert.That(waiter.Receive("wait-host-event").Text, Is.EqualTo("waiting"));
        _ = _imc.Peer(_imc[1], "ej");
        var woken = waiter.Receive("wait-host-event", TimeSpan.FromSeconds(40));
        Assert.That(woken.Ok, Is.True, woken.Text);
        Assert.That(woken.Text, Does.StartWith("HostChange").And.Contain("ej").And.Contain("ew"));

        var before = ImcMachines.SettledErrorCount(waiter); // the join just raised it: it may still be in its error window
        var down = _imc[1].Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imc_init.dll"), "--host", "ej", "--down"],
            TimeSpan.FromSeconds(60), ImcMachines.Environment());
        Assert.That(down.ExitCode, Is.EqualTo(0), down.Stdout + down.Stderr);
        Assert.That(ImcMachines.ErrorCount(waiter), Is.Negative.Or.GreaterThan(before),
            "the leave raised the error count on the other machine before it returned (in its window, or past it)");
        Assert.That(ImcMachines.SettledErrorCount(waiter), Is.GreaterThan(before), "the leave raised the error count on the other machine");
        Assert.That(waiter.Send("hosts").Split(','), Does.Not.Contain("ej"));
    }

    /// <summary>
    /// imcctl fail-rail on machine 1 has raised machine 2's error count by the time it returns, and writes on the
    /// failed rail are lost everywhere; repair-rail brings it back everywhere.
    /// </summary>
    [Test]
    public void ShouldFailAndRepairARailOnEveryMachine()
    {
        var writer = _imc.Peer(_imc[1], "fw");
        var reader = _imc.Peer(_imc[0], "fr");
        writer.Send("alloc 81 4096");
        reader.Send("alloc 81 4096");
        reader.Send("rx 81");
        writer.Send("tx 81");
        var before = ImcMachines.SettledErrorCount(writer); // the peers' joins raised it: it may still be in its error window
        Assert.That(ImcCtl(_imc[0], "fail-rail", "0").ExitCode, Is.Zero);
        Assert.That(ImcMachines.ErrorCount(writer), Is.Negative.Or.GreaterThan(before),
            "the failure raised the error count on the other machine before imcctl returned (in its window, or past it)");
        Assert.That(ImcMachines.SettledErrorCount(writer), Is.GreaterThan(before), "the failure raised the error count on the other machine");
        writer.Send("write64 81 0 5");
        writer.Send("write64 81 8 6");
        Assert.That(ImcCtl(_imc[0], "repair-rail", "0").ExitCode, Is.Zero);
        writer.Send("write64 81 16 7");
        Assert.That(reader.Send("wait64 81 16 7 10000"), Is.EqualTo("7"), "the repaired rail delivers again");
        Assert.That(reader.Send("read64 81 0"), Is.EqualTo("0"), "a write on the failed rail was lost");
        Assert.That(reader.Send("read64 81 8"), Is.EqualTo("0"), "a write on the failed rail was lost");
    }

    private static (int ExitCode, string Stdout, string Stderr) ImcCtl(Machines.SimulatedMachine machine, params string[] args)
    {
        var result = machine.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imcctl.dll"), .. args], TimeSpan.FromSeconds(60),
            ImcMachines.Environment());
        TestContext.Out.WriteLine($"imcctl {string.Join(' ', args)}: {result.ExitCode} {result.Stdout} {result.Stderr}");
        return result;
    }

    /// <summary>
    /// imcctl inject-error on machine 2 toward a host there drops exactly that many deliveries of a writer on machine 1
    /// (the budget is clusterwide), and raises the error count on both machines before the writer goes on.
    /// </summary>
    [Test]
    public void ShouldDropTheDeliveriesOfAWriterOnAnotherMachineWhenImcctlInjectsErrors()
    {
        var writer = _imc.Peer(_imc[0], "dw");
        var reader = _imc.Peer(_imc[1], "dr");
        writer.Send("alloc 83 4096");
        reader.Send("alloc 83 4096");
        reader.Send("rx 83");
        writer.Send("tx 83");
        var readerBefore = ImcMachines.SettledErrorCount(reader);
        var writerBefore = ImcMachines.SettledErrorCount(writer);

        var inject = ImcCtl(_imc[1], "inject-error", "--rail", "0", "--count", "2", "--host", "dr");
        Assert.That(inject.ExitCode, Is.Zero, inject.Stdout + inject.Stderr);
        writer.Send("write64 83 0 1");
        // Right after the drop the count may still be in its error window (McError, -24): read it once settled.
        var writerAfter = ImcMachines.SettledErrorCount(writer);
        writer.Send("write64 83 8 2");
        writer.Send("write64 83 16 3");
        writer.Send("write64 83 24 4");

        Assert.That(reader.Send("wait64 83 24 4 10000"), Is.EqualTo("4"), "the deliveries after the budget arrive");
        Assert.That(reader.Send("read64 83 16"), Is.EqualTo("3"));
        Assert.That(reader.Send("read64 83 0"), Is.EqualTo("0"), "the first write was dropped");
        Assert.That(reader.Send("read64 83 8"), Is.EqualTo("0"), "the second write was dropped");
        Assert.That(writerAfter, Is.GreaterThan(writerBefore), "the writer's machine counted the drop before its write returned");
        Assert.That(ImcMachines.SettledErrorCount(reader), Is.GreaterThanOrEqualTo(readerBefore + 2),
            "the reader's machine counted both drops");

        // --count 0 on the other machine disarms what is left everywhere: the writer's next write arrives.
        Assert.That(ImcCtl(_imc[1], "inject-error", "--rail", "0", "--count", "5", "--host", "dr").ExitCode, Is.Zero);
        Assert.That(ImcCtl(_imc[0], "inject-error", "--rail", "0", "--count", "0").ExitCode, Is.Zero);
        writer.Send("write64 83 32 5");
        Assert.That(reader.Send("wait64 83 32 5 10000"), Is.EqualTo("5"), "nothing is dropped once disarmed");
    }

    /// <summary>imc_init brings a host up on a machine; imcs on either machine shows both machines and their hosts.</summary>
    [Test]
    public void ShouldShowEveryMachineAndHostInImcsOnAnyMachine()
    {
        var init = _imc[0].Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imc_init.dll"), "--host", "sa"],
            TimeSpan.FromSeconds(60), ImcMachines.Environment());
        Assert.That(init.ExitCode, Is.EqualTo(0), init.Stdout + init.Stderr);
        _ = _imc.Peer(_imc[1], "sb");
        foreach (var machine in new[] { _imc[0], _imc[1] })
        {
            var imcs = machine.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imcs.dll"), "-m"], TimeSpan.FromSeconds(60),
                ImcMachines.Environment());
            Assert.That(imcs.ExitCode, Is.EqualTo(0), imcs.Stderr);
            Assert.That(imcs.Stdout, Does.Contain("MACHINES"));
            var rows = imcs.Stdout.Split('\n');
            Assert.That(rows.Any(r => r.StartsWith(_imc[0].Name + " ", StringComparison.Ordinal) && r.Contains("sa")), imcs.Stdout);
            Assert.That(rows.Any(r => r.StartsWith(_imc[1].Name + " ", StringComparison.Ordinal) && r.Contains("sb")), imcs.Stdout);
        }

        // The whole cluster from either machine: a region only machine 2 has, with its receiver there; a lock set
        // across machines with a lock held on machine 2; and --check finds this machine agreeing with the directory.
        var other = _imc.Peer(_imc[1], "sb");
        other.Send("alloc 88 4096");
        other.Send("rx 88");
        other.Send("lkalloc 89 2");
        other.Send("acquire 89 1");
        foreach (var machine in new[] { _imc[0], _imc[1] })
        {
            var imcs = machine.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imcs.dll"), "-f"], TimeSpan.FromSeconds(60),
                ImcMachines.Environment());
            Assert.That(imcs.ExitCode, Is.EqualTo(0), imcs.Stderr);
            var rows = imcs.Stdout.Split('\n');
            Assert.That(rows.Any(r => Columns(r) is ["IMC", _, "88", ..] && r.Contains("sb", StringComparison.Ordinal)), imcs.Stdout);
            Assert.That(rows.Any(r => Columns(r) is ["IMC", _, "89", "2", ..] && r.Contains($"1:sb/{other.Pid}", StringComparison.Ordinal)),
                imcs.Stdout);
            var check = machine.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imcs.dll"), "--check"], TimeSpan.FromSeconds(60),
                ImcMachines.Environment());
            Assert.That(check.ExitCode, Is.EqualTo(0), check.Stdout + check.Stderr);
        }

        other.Send("release 89 1");
        var twice = _imc[1].Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imc_init.dll"), "--host", "sa"],
            TimeSpan.FromSeconds(60), ImcMachines.Environment());
        Assert.That(twice.ExitCode, Is.EqualTo(1), "a host is up on one machine only: " + twice.Stderr);
        Assert.That(twice.Stderr, Does.Contain("up on machine"));
    }

    private static string[] Columns(string row) => row.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}

/// <summary>
/// The manual's error patterns across machines: a sender on machine 1 drops chosen writes toward a receiver on
/// machine 2 (drops it injects itself); with Example 10-3 the receiver flags exactly the messages that lost a write,
/// with Example 10-4 the sender retransmits until its check succeeds and every message arrives whole.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(600_000)]
public sealed class ErrorPatternTests
{
    private const int Messages = 300;
    private ImcMachines _imc = null!;

    [OneTimeSetUp]
    public void StartMachines() => _imc = ImcMachines.Start(2);

    [OneTimeTearDown]
    public void StopMachines() => _imc?.Dispose();

    [Test]
    public void ShouldFlagExactlyTheMessagesThatLostAWriteAcrossMachines()
    {
        var (sender, receiver) = StartPair(1301);
        var points = DropPoints(seed: 5, howMany: 15);
        receiver.Post($"ex3-receive 1301 1302 {Messages} 240000");
        var sent = sender.Send($"ex3-send 1301 1302 {Messages} {Format(points)}", TimeSpan.FromMinutes(4));
        var reply = receiver.Receive("ex3-receive", TimeSpan.FromMinutes(4));
        TestContext.Out.WriteLine($"sender: {sent}; receiver: {reply.Text}");
        Assert.That(reply.Ok, Is.True, reply.Text);
        var fields = Fields(reply.Text);
        Assert.That(fields["corrupt_accepted"], Is.EqualTo("0"), "a message judged whole was not");
        var flagged = fields["flagged"].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(f => int.Parse(f, CultureInfo.InvariantCulture));
        Assert.That(flagged, Is.EqualTo(points.Select(p => p.Message)), "flagged messages differ from those that lost a write");
    }

    [Test]
    public void ShouldDeliverEveryMessageWholeWhenTheSenderRetransmitsAcrossMachines()
    {
        var (sender, receiver) = StartPair(1311);
        var points = DropPoints(seed: 6, howMany: 15);
        receiver.Post($"ex4-receive 1311 1312 {Messages} 240000");
        var sent = Fields(sender.Send($"ex4-send 1311 1312 {Messages} {Format(points)}", TimeSpan.FromMinutes(4)));
        var reply = receiver.Receive("ex4-receive", TimeSpan.FromMinutes(4));
        Assert.That(reply.Ok, Is.True, reply.Text);
        Assert.That(Fields(reply.Text)["received"], Is.EqualTo($"{Messages}"));
        Assert.That(int.Parse(sent["retransmissions"], CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(points.Count));
    }

    private (Testing.PeerProcess Sender, Testing.PeerProcess Receiver) StartPair(int key)
    {
        var sender = _imc.Peer(_imc[0], $"s{key}");
        var receiver = _imc.Peer(_imc[1], "beta"); // the peer's error patterns drop writes toward host beta
        foreach (var peer in new[] { sender, receiver })
        {
            peer.Send($"alloc {key} 8192");
            peer.Send($"alloc {key + 1} 8192");
        }

        receiver.Send($"rx {key}");
        receiver.Send($"tx {key + 1}");
        sender.Send($"rx {key + 1}");
        sender.Send($"tx {key}");
        return (sender, receiver);
    }

    private static List<(int Message, int Write)> DropPoints(int seed, int howMany)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, howMany * 4)
            .Select(_ => (Message: random.Next(1, Messages + 1), Write: random.Next(0, 3)))
            .DistinctBy(p => p.Message)
            .Take(howMany)
            .OrderBy(p => p.Message)];
    }

    private static string Format(List<(int Message, int Write)> points) =>
        string.Join(';', points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Message}:{p.Write}")));

    private static Dictionary<string, string> Fields(string text) =>
        text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(f => f.Split('=', 2))
            .ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
}
