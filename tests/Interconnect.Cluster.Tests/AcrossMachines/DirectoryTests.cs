using System.Text.Json;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests.AcrossMachines;

/// <summary>The directory across machines: keyed allocation, hosts and machines joining and leaving, etcd away.</summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(600_000)]
public sealed class DirectoryTests
{
    /// <summary>A lease longer than etcd is kept away in the tests that stop it, so no machine fences itself meanwhile.</summary>
    private const int LongLease = 60;

    /// <summary>A host is up on one machine: imc_init of the same host on another is refused, and every machine lists every host.</summary>
    [Test]
    public void ShouldKnowEveryHostOnEveryMachineAndKeepAHostOnOneMachine()
    {
        using var imc = ImcMachines.Start(2);
        var a = imc.Peer(imc[0], "ha");
        var b = imc.Peer(imc[1], "hb");
        Assert.That(a.Send("hosts").Split(','), Is.EquivalentTo(new[] { "ha", "hb" }));
        Assert.That(b.Send("hosts").Split(','), Is.EquivalentTo(new[] { "ha", "hb" }));
        var twin = imc[1].Start("dotnet", [PeerProcess.PeerPath], ImcMachines.Environment("ha"));
        using var peer = PeerProcess.Adopt(twin, "ha");
        var reply = peer.Ask("open");
        Assert.That(reply.Ok, Is.False);
        Assert.That(reply.Status, Is.EqualTo("BadHost"), reply.Text);
        Assert.That(reply.Text, Does.Contain("up on machine"));
    }

    /// <summary>Three machines allocate one key at once: one region, which all of them then share; a wrong size is refused.</summary>
    [Test]
    public void ShouldAgreeOnOneRegionWhenThreeMachinesAllocateOneKeyAtOnce()
    {
        using var imc = ImcMachines.Start(3);
        var peers = Enumerable.Range(0, 3).Select(i => imc.Peer(imc[i], $"k{i}")).ToArray();
        foreach (var peer in peers)
        {
            peer.Post("alloc 51 4096");
        }

        foreach (var peer in peers)
        {
            Assert.That(peer.Receive("alloc 51 4096").Ok, Is.True);
        }

        var late = imc.Peer(imc[1], "k9");
        var refused = late.Ask("alloc 51 8192");
        Assert.That(refused.Status, Is.EqualTo("BadSize"), refused.Text);
        peers[2].Send("rx 51");
        peers[0].Send("tx 51");
        peers[0].Send("write64 51 0 7");
        Assert.That(peers[2].Send("wait64 51 0 7 10000"), Does.StartWith("7"));
    }

    /// <summary>
    /// A machine whose imcd is killed leaves the cluster with its hosts once its lease expires; a machine whose imcd is
    /// stopped (SIGTERM) leaves at once, and its imcd, which held registered receive memory, exits 0.
    /// </summary>
    [Test]
    public void ShouldTakeAMachinesHostsOutWhenItsAgentStopsOrDiesAndTellEveryOtherMachine()
    {
        using var imc = ImcMachines.Start(3);
        var watcher = imc.Peer(imc[0], "stay");
        _ = imc.Peer(imc[1], "dies");
        var leaving = imc.Peer(imc[2], "leaves");
        leaving.Send("alloc 91 4096");
        leaving.Send("rx 91"); // its imcd holds registered receive memory when it stops
        Assert.That(watcher.Send("hosts").Split(','), Is.EquivalentTo(new[] { "stay", "dies", "leaves" }));

        var (code, output) = imc.StopAgent(imc[2]);
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(watcher.Send("hosts").Split(','), Is.EquivalentTo(new[] { "stay", "dies" }));

        // API.md: imc_init on a machine that has no imcd running fails with one clear line.
        var init = imc[2].Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imc_init.dll"), "--host", "again"],
            TimeSpan.FromSeconds(60), ImcMachines.Environment());
        Assert.That(init.ExitCode, Is.EqualTo(1), init.Stdout + init.Stderr);
        Assert.That(init.Stderr, Does.Contain("start imcd"), init.Stderr);
        var check = imc[2].Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imcs.dll"), "--check"],
            TimeSpan.FromSeconds(60), ImcMachines.Environment());
        Assert.That(check.ExitCode, Is.EqualTo(3), "a machine without imcd is not in the directory (3: no cluster): " + check.Stderr);
        Assert.That(check.Stderr, Does.Contain($"machine '{imc[2].Name}' does not serve cluster").And.Contain("start imcd"));

        // A machine that dies (its imcd killed): its lease expires, its host leaves, and every other machine sees a
        // host change with its error count risen.
        // imc_rderrcnt_mr answers McError (-24) while the rail processes an error (the window after the host that
        // just left): read the count once it has settled.
        var before = ImcMachines.SettledErrorCount(watcher);
        watcher.Post("wait-host-event 30000");
        Assert.That(watcher.Receive("wait-host-event").Text, Is.EqualTo("waiting"));
        imc.KillAgent(imc[1]);
        var woken = watcher.Receive("wait-host-event", TimeSpan.FromSeconds(40));
        Assert.That(woken.Ok, Is.True, woken.Text);
        Assert.That(woken.Text, Does.StartWith("HostChange").And.Not.Contain("dies"), "the event fires once the host left");
        Assert.That(ImcMachines.SettledErrorCount(watcher), Is.GreaterThan(before), "the dead machine's host leaving raised the error count here");
        Assert.That(watcher.Send("hosts").Split(','), Does.Not.Contain("dies"), "the killed machine's host left with its lease (3 s)");
    }

    /// <summary>
    /// An idle cluster is quiet: with hosts up and a region attached across two machines, and nothing happening, its
    /// agents and processes make no request of etcd but the leases' keep-alives (no re-reading of the cluster's state
    /// on a timer), as etcd itself counts them. It is idle, not dead: a write made after the quiet still arrives.
    /// </summary>
    [Test]
    public void ShouldMakeNoRequestOfEtcdButKeepAlivesWhileIdle()
    {
        using var imc = ImcMachines.Start(2);
        var writer = imc.Peer(imc[0], "wq");
        var reader = imc.Peer(imc[1], "rq");
        reader.Send("alloc 93 4096");
        reader.Send("rx 93");
        writer.Send("alloc 93 4096");
        writer.Send("tx 93");

        // Quiet for 3 s on end, once what the attaches set going has settled: etcd's count of requests did not move
        // (its keep-alive count did: the agents are there).
        var quiet = Poll.Until(() =>
        {
            var before = EtcdRequests(imc);
            Thread.Sleep(TimeSpan.FromSeconds(3));
            var after = EtcdRequests(imc);
            return (Requests: after.Requests - before.Requests, KeepAlives: after.KeepAlives - before.KeepAlives);
        }, counts => counts.Requests == 0, "a 3 s window in which the idle cluster makes no request of etcd", TimeSpan.FromSeconds(60));
        TestContext.Out.WriteLine($"in the quiet window: {quiet.Requests} requests, {quiet.KeepAlives} keep-alives");
        Assert.That(quiet.KeepAlives, Is.GreaterThanOrEqualTo(2), "both agents kept their leases alive in the window");

        writer.Send("write64 93 0 5");
        Assert.That(reader.Send("wait64 93 0 5 10000"), Does.StartWith("5"), imc.AgentOutput());
        Assert.That(writer.Send("hosts").Split(','), Is.EquivalentTo(new[] { "wq", "rq" }));
    }

    /// <summary>
    /// A receive attach waits for every machine's acknowledgement on imcd's watch, not by asking etcd again and again:
    /// while the other machine's imcd is stopped (SIGSTOP, within its lease) the attach waits, making a few requests of
    /// etcd (a look when a change comes, and without one after pauses that double up to a quarter second), where asking
    /// every few milliseconds made hundreds in the same time; once that imcd runs again, the attach completes.
    /// </summary>
    [Test]
    public void ShouldWaitForTheOtherMachinesOnTheWatchNotByAskingAgain()
    {
        using var imc = ImcMachines.Start(2);
        var attacher = imc.Peer(imc[0], "wa");
        var other = imc.Peer(imc[1], "wb");
        attacher.Send("alloc 94 4096");
        other.Send("alloc 94 4096");

        (long Requests, long KeepAlives) before;
        (long Requests, long KeepAlives) during;
        Task<PeerReply> attach;
        imc.SignalAgent(imc[1], Signals.Stop);
        try
        {
            before = EtcdRequests(imc);
            attach = Task.Run(() => attacher.Ask("rx 94"));
            Thread.Sleep(TimeSpan.FromSeconds(1.5)); // under the 3 s lease: the machine stays in the cluster
            during = EtcdRequests(imc);
        }
        finally
        {
            imc.SignalAgent(imc[1], Signals.Continue);
        }

        TestContext.Out.WriteLine($"while the other imcd was stopped: {during.Requests - before.Requests} requests");
        Assert.That(attach.Wait(TimeSpan.FromSeconds(30)), Is.True, "the attach completes once the other imcd runs");
        Assert.Multiple(() =>
        {
            Assert.That(attach.Result.Ok, Is.True, attach.Result.Text);
            Assert.That(during.Requests - before.Requests, Is.LessThan(60), "the attach waited on the watch, not by asking again and again");
        });
    }

    /// <summary>
    /// etcd's own counts, from its metrics (read from a machine, over HTTP with bash alone): unary requests of every
    /// kind handled so far, and keep-alive messages received.
    /// </summary>
    private static (long Requests, long KeepAlives) EtcdRequests(ImcMachines imc)
    {
        var url = new Uri(imc.Cluster.EtcdMetricsUrl);
        var script = $"exec 3<>/dev/tcp/{url.Host}/{url.Port}; printf 'GET /metrics HTTP/1.0\\r\\nHost: {url.Host}\\r\\n\\r\\n' >&3; cat <&3";
        var (exitCode, metrics, error) = imc[0].Run("bash", ["-c", script], TimeSpan.FromSeconds(30));
        Assert.That(exitCode, Is.Zero, error);
        long Sum(string name, string label) => metrics.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal))
            .Sum(l => (long)double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        var requests = Sum("grpc_server_started_total", "grpc_type=\"unary\"");
        var keepAlives = Sum("grpc_server_msg_received_total", "grpc_method=\"LeaseKeepAlive\"");
        Assert.That(requests, Is.Positive, "etcd's metrics hold its request counts: " + metrics[..Math.Min(500, metrics.Length)]);
        return (requests, keepAlives);
    }

    /// <summary>
    /// An imcd that stalls longer than its lease (SIGSTOP for the test) finds its machine taken for dead when it runs
    /// again, as the other machine saw it (its host left there): it takes its own hosts down, so a process on them learns
    /// it on its next call instead of going on under a lease the cluster no longer honours, and joins again under a new
    /// lease with its hosts up again, where a host initialised anew receives writes from the other machine.
    /// </summary>
    [Test]
    public void ShouldTakeAMachineForDeadWhenItsAgentStallsPastItsLeaseAndLetItJoinAgain()
    {
        using var imc = ImcMachines.Start(2);
        var stays = imc.Peer(imc[0], "stays");
        var stalled = imc.Peer(imc[1], "stalled");
        Assert.That(stays.Send("hosts").Split(','), Is.EquivalentTo(new[] { "stays", "stalled" }));

        imc.SignalAgent(imc[1], Signals.Stop);
        try
        {
            Poll.Until(() => !stays.Send("hosts").Split(',').Contains("stalled"),
                "the stalled machine's host to leave with its lease (3 s)", TimeSpan.FromSeconds(30));
        }
        finally
        {
            imc.SignalAgent(imc[1], Signals.Continue);
        }

        // Its host is down on its own machine too: the process's next call says so.
        var refused = Poll.Until(() => stalled.Ask("alloc 97 4096"), reply => !reply.Ok,
            "the stalled machine's agent to take its host down once it runs again", TimeSpan.FromSeconds(30));
        TestContext.Out.WriteLine($"the stalled host's process, after the rejoin: {refused.Status} {refused.Text}");

        // The machine is in the cluster again, its host up again by itself (nobody ran imc_init there).
        Poll.Until(() => stays.Send("hosts").Split(',').Contains("stalled"), "the rejoined machine's host to be up again",
            TimeSpan.FromSeconds(30));

        // A host initialised there now is seen everywhere and receives.
        var again = imc.Peer(imc[1], "again");
        Poll.Until(() => stays.Send("hosts").Split(',').Contains("again"), "the new host on the rejoined machine", TimeSpan.FromSeconds(30));
        again.Send("alloc 98 4096");
        again.Send("rx 98");
        stays.Send("alloc 98 4096");
        stays.Send("tx 98");
        stays.Send("write64 98 0 7");
        Assert.That(again.Send("wait64 98 0 7 10000"), Does.StartWith("7"), imc.AgentOutput());
        // Once running again, the agent finds either its lease gone or its own fence first (both times passed while it
        // was stopped; which it checks first is a race), and joins again either way.
        Assert.That(imc.AgentOutput(), Does.Contain("lost its lease").Or.Contain("is fenced"));
        Assert.That(imc.AgentOutput(), Does.Contain("joined again"));
    }

    /// <summary>
    /// An imcd killed and started again before its lease expired keeps its machine's hosts and receivers: the new agent
    /// binds them to its own lease, registers the receive memory again, and writes from another machine reach it; a
    /// process that attached before the restart attaches again after it (under the new agent's lease).
    /// </summary>
    [Test]
    public void ShouldKeepAMachinesHostsAndReceiversWhenItsAgentRestartsWithinItsLease()
    {
        using var imc = ImcMachines.Start(2);
        var writer = imc.Peer(imc[0], "rw");
        var reader = imc.Peer(imc[1], "rr");
        writer.Send("alloc 95 4096");
        reader.Send("alloc 95 4096");
        reader.Send("rx 95");
        writer.Send("tx 95");
        writer.Send("write64 95 0 1");
        Assert.That(reader.Send("wait64 95 0 1 10000"), Does.StartWith("1"));

        imc.KillAgent(imc[1]);
        imc.StartAgent(imc[1]);
        Thread.Sleep(TimeSpan.FromSeconds(5)); // longer than the old lease (3 s): what was bound only to it is gone

        Assert.That(writer.Send("hosts").Split(','), Is.EquivalentTo(new[] { "rw", "rr" }));
        Poll.Until(() =>
        {
            writer.Send("write64 95 0 2");
            return reader.Send("read64 95 0") == "2";
        }, "a write reaches the receiver through the restarted agent", TimeSpan.FromSeconds(20));

        writer.Send("alloc 96 4096");
        reader.Send("alloc 96 4096");
        reader.Send("rx 96");
        writer.Send("tx 96");
        writer.Send("write64 96 0 3");
        Assert.That(reader.Send("wait64 96 0 3 10000"), Does.StartWith("3"));
    }

    /// <summary>
    /// etcd stopped, for less than the machines' lease: writes keep landing on routes made before; a directory
    /// operation fails with Timeout naming the endpoints and leaves nothing; etcd back: the same operation succeeds,
    /// without restarting anything. (Away for longer, every machine fences itself: FaultTests.)
    /// </summary>
    [Test]
    public void ShouldKeepDeliveringWhileEtcdIsAwayAndResumeWhenItIsBack()
    {
        using var imc = ImcMachines.Start(2, leaseSeconds: LongLease);
        var writer = imc.Peer(imc[0], "ew");
        var reader = imc.Peer(imc[1], "er");
        writer.Send("alloc 61 4096");
        reader.Send("alloc 61 4096");
        reader.Send("rx 61");
        writer.Send("tx 61");
        writer.Send("write64 61 0 1");
        Assert.That(reader.Send("wait64 61 0 1 10000"), Does.StartWith("1"));

        imc.Cluster.StopEtcd();
        writer.Send("write64 61 0 2");
        Assert.That(reader.Send("wait64 61 0 2 10000"), Does.StartWith("2"), "the data path does not need etcd");
        var refused = writer.Ask("alloc 62 4096", TimeSpan.FromSeconds(60));
        Assert.That(refused.Status, Is.EqualTo("Timeout"), refused.Text);
        Assert.That(refused.Text, Does.Contain(imc.Cluster.EtcdEndpoints));
        Assert.That(reader.Ask("alloc 63 4096", TimeSpan.FromSeconds(60)).Status, Is.EqualTo("Timeout"));

        imc.Cluster.StartEtcd();
        Poll.Until(() => writer.Ask("alloc 62 4096").Ok, "allocation works again once etcd is back", TimeSpan.FromSeconds(30));
        // The reader's connection failed too while etcd was away: its first operation now must not need a retry.
        reader.Send("alloc 62 4096");
        reader.Send("rx 62");
        writer.Send("tx 62");
        writer.Send("write64 62 0 3");
        Assert.That(reader.Send("wait64 62 0 3 10000"), Does.StartWith("3"));
    }

    /// <summary>
    /// A coherent region's receive attach let go of while etcd is away: the host's copy goes at once (another host on
    /// its machine keeps one, so the machine's contents stay), as with etcd up, though the detach cannot take the
    /// region's clusterwide write lock nor withdraw the copy from the directory; the machine's imcd withdraws it once
    /// etcd is back, and the region deallocates as ever. Held on to, the copy would keep its receive memory until the
    /// process ends.
    /// </summary>
    [Test]
    public void ShouldLetGoOfACoherentCopyWhileEtcdIsAway()
    {
        using var imc = ImcMachines.Start(2, leaseSeconds: LongLease); // etcd is away for less than the lease
        var holder = imc.Peer(imc[0], "ch");
        var keeper = imc.Peer(imc[0], "ck");
        var writer = imc.Peer(imc[1], "cw");
        foreach (var host in new[] { holder, keeper })
        {
            host.Send("alloc 71 4096 600 1");
            host.Send("rx 71");
        }

        writer.Send("alloc 71 4096 600 1");
        writer.Send("tx 71");
        writer.Send("write64 71 0 5");
        Assert.That(holder.Send("wait64 71 0 5 10000"), Does.StartWith("5"));
        Assert.That(ReceiveAttaches(imc, 0, 71, "ch"), Is.EqualTo(1), "the host is attached for receive");

        imc.Cluster.StopEtcd();
        var detached = holder.Ask("detach 71", TimeSpan.FromSeconds(90));
        Assert.That(detached.Ok, Is.True, detached.Text);
        writer.Send("write64 71 0 6"); // routes made before etcd went keep working
        Assert.That(keeper.Send("wait64 71 0 6 10000"), Does.StartWith("6"));

        imc.Cluster.StartEtcd();
        Assert.That(ReceiveAttaches(imc, 0, 71, "ch"), Is.Zero, "the detach happened, etcd or not");
        Assert.That(ReceiveAttaches(imc, 0, 71, "ck"), Is.EqualTo(1), "the other host is still attached");
        Poll.Until(() => holder.Ask("dealloc 71").Ok, "deallocation works once etcd is back", TimeSpan.FromSeconds(30));
        writer.Send("write64 71 0 7");
        Assert.That(keeper.Send("wait64 71 0 7 10000"), Does.StartWith("7"));
    }

    /// <summary>How many receive attaches host <paramref name="host"/> has on region <paramref name="key"/>, as imcs on machine <paramref name="machine"/> shows them.</summary>
    private static int ReceiveAttaches(ImcMachines imc, int machine, int key, string host)
    {
        var (code, stdout, stderr) = imc[machine].Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imcs.dll"), "--json"],
            TimeSpan.FromSeconds(60), ImcMachines.Environment());
        Assert.That(code, Is.EqualTo(0), stderr);
        using var status = JsonDocument.Parse(stdout);
        return status.RootElement.GetProperty("regions").EnumerateArray()
            .Where(r => r.GetProperty("key").GetInt32() == key)
            .Sum(r => r.GetProperty("receive").EnumerateArray().Count(a => a.GetProperty("host").GetString() == host));
    }
}
