using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Interconnect.Driver;
using Interconnect.Driver.Agent;
using Interconnect.Testing;
using NUnit.Framework;

namespace Interconnect.Cluster.Tests.AcrossMachines;

/// <summary>
/// imcd as the machine's driver (API.md "Security across machines"): processes ask their machine's imcd over its
/// socket and never reach etcd; imcd acts with the credentials the kernel gives for the caller, whichever machine made
/// what the caller asks for; nothing sent to its socket brings it down.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(300_000)]
public sealed class MediationTests
{
    private const int SigUsr1 = 10;

    /// <summary>
    /// Processes whose own directory address leads nowhere (IMC_DIRECTORY pointing at a closed port) still make hosts,
    /// regions, attaches, writes, locks and signals across machines: every directory change goes through imcd.
    /// </summary>
    [Test]
    public void ShouldServeProcessesThatCannotReachEtcdThemselves()
    {
        using var imc = ImcMachines.Start(2);
        var nowhere = new Dictionary<string, string?> { ["IMC_DIRECTORY"] = "http://127.0.0.1:9" };
        var writer = imc.Peer(imc[0], "mw", environment: nowhere);
        var reader = imc.Peer(imc[1], "mr", environment: nowhere);

        writer.Send("alloc 81 4096");
        reader.Send("alloc 81 4096");
        reader.Send("rx 81");
        writer.Send("tx 81");
        writer.Send("write64 81 8 42");
        Assert.That(reader.Send("wait64 81 8 42 10000"), Does.StartWith("42"), imc.AgentOutput());

        writer.Send("lkalloc 82 2");
        reader.Send("lkalloc 82 2");
        writer.Send("acquire 82 1");
        Assert.That(reader.Send("tryacquire 82 1"), Is.EqualTo("busy"), "one holder across machines");
        writer.Send("release 82 1");
        Assert.That(reader.Send("tryacquire 82 1"), Is.EqualTo("got"));
        reader.Send("release 82 1");

        reader.Send($"on-signal {SigUsr1}");
        writer.Send($"kill mr {reader.Pid} {SigUsr1}");
        Assert.That(reader.Send("wait-signals 1 10000"), Is.EqualTo("1"));
        Assert.That(writer.Send("hosts").Split(','), Is.EquivalentTo(new[] { "mw", "mr" }));
    }

    /// <summary>
    /// A region made with owner-only access on one machine is refused (Permit) to another user on another machine, and
    /// one open to others is theirs to use; a Kill follows kill(2) across machines: another user's process is refused
    /// and receives nothing, root's Kill reaches anyone's; bringing a host up is the operator's.
    /// </summary>
    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldCheckEveryRequestWithTheCallersCredentialsOnEveryMachine()
    {
        AnotherUser.RequireRoot("a second user on a second machine");
        using var imc = ImcMachines.Start(2);
        var owner = imc.Peer(imc[0], "own");
        // Hosts are the operator's to bring up (imc_init as root); another user's process may then join them.
        ImcMachines.InitHost(imc[1], "str");
        ImcMachines.InitHost(imc[0], "stw");
        var stranger = imc.Peer(imc[1], "str", user: "nobody");
        var newHost = stranger.Ask("open-with - - str2 1");
        Assert.That((newHost.Ok, newHost.Status), Is.EqualTo((false, "Permit")), newHost.Text);
        Assert.That(newHost.Text, Does.Contain("only root or imcd's own user may bring host 'str2' up"));

        owner.Send("alloc 71 4096 600");
        var refused = stranger.Ask("alloc 71 4096 600");
        Assert.That((refused.Ok, refused.Status), Is.EqualTo((false, "Permit")), refused.Text);
        Assert.That(refused.Text, Does.Contain("owner uid 0"));

        owner.Send("alloc 72 4096 666");
        stranger.Send("alloc 72 4096 666");
        stranger.Send("rx 72");
        owner.Send("tx 72");
        owner.Send("write64 72 0 5");
        Assert.That(stranger.Send("wait64 72 0 5 10000"), Does.StartWith("5"), imc.AgentOutput());

        // A user's own owner-only region, received on one machine and written from another: imcd makes the receive
        // memory, and it is that user's to map.
        var strangerWriter = imc.Peer(imc[0], "stw", user: "nobody");
        stranger.Send("alloc 73 4096 600");
        strangerWriter.Send("alloc 73 4096 600");
        stranger.Send("rx 73");
        strangerWriter.Send("tx 73");
        strangerWriter.Send("write64 73 0 6");
        Assert.That(stranger.Send("wait64 73 0 6 10000"), Does.StartWith("6"), imc.AgentOutput());
        // The receive files on machine 2 carry their regions' owner and mode (API.md: "so the operating system enforces
        // them too"): nobody's 0600 region, root's 0666 one.
        var files = imc[1].Run("sh", ["-c", $"stat -c '%a %U' /dev/shm/imc/{ImcMachines.ClusterName}/regions/*"], TimeSpan.FromSeconds(30));
        Assert.That(files.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EquivalentTo(new[] { "600 nobody", "666 root" }),
            files.Stderr);

        owner.Send($"on-signal {SigUsr1}");
        var denied = stranger.Ask($"kill own {owner.Pid} {SigUsr1}");
        Assert.That((denied.Ok, denied.Status), Is.EqualTo((false, "Permit")), denied.Text);
        Thread.Sleep(500); // a signal that got through would have arrived by now
        Assert.That(owner.Send("signals"), Is.EqualTo("0"));

        stranger.Send($"on-signal {SigUsr1}");
        owner.Send($"kill str {stranger.Pid} {SigUsr1}");
        Assert.That(stranger.Send("wait-signals 1 10000"), Is.EqualTo("1"));
    }

    /// <summary>
    /// <c>imcd --group</c> on a machine keeps the cluster there to the group's members: the cluster's folder is 0750 of
    /// the group; a member (nobody, of nogroup) receives what root's process writes on the other machine, and a user
    /// outside the group (daemon) is refused in one line that names it.
    /// </summary>
    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldKeepTheClusterToItsGroupOnAMachineWhoseImcdHasOne()
    {
        AnotherUser.RequireRoot("users in and out of imcd's group");
        using var imc = ImcMachines.Start(2);
        imc.StopAgent(imc[1]);
        imc.StartAgent(imc[1], 3, "--group", "nogroup");
        ImcMachines.InitHost(imc[1], "grp");
        var folder = imc[1].Run("stat", ["-c", "%a %G", $"/dev/shm/imc/{ImcMachines.ClusterName}"], TimeSpan.FromSeconds(30));
        var owner = imc.Peer(imc[0], "own");
        var member = imc.Peer(imc[1], "grp", user: "nobody");
        member.Send("alloc 74 4096 666");
        member.Send("rx 74");
        owner.Send("alloc 74 4096 666");
        owner.Send("tx 74");
        owner.Send("write64 74 0 8");
        var read = member.Send("wait64 74 0 8 10000");
        var outsider = imc.Peer(imc[1], "grp", user: "daemon", open: false);
        var refused = outsider.Ask("open");

        Assert.Multiple(() =>
        {
            Assert.That(folder.Stdout.Trim(), Is.EqualTo("750 nogroup"), folder.Stderr);
            Assert.That(read, Does.StartWith("8"), imc.AgentOutput());
            Assert.That((refused.Ok, refused.Status), Is.EqualTo((false, "Permit")), refused.Text);
            Assert.That(refused.Text, Does.Contain("for the members of group nogroup only"));
        });
    }

    /// <summary>
    /// What anyone on the machine may send to imcd's socket: a length beyond the limit, bytes that are not JSON, a
    /// request before the hello, another protocol version, a registration this connection did not make, a drop claimed on
    /// a rail the cluster does not have. Each is refused or ends that connection only; imcd serves on.
    /// </summary>
    [Test]
    public void ShouldRefuseWhatItCannotServeOnItsSocketAndServeOn()
    {
        using var imc = ImcMachines.Start(1);
        var path = imc.AgentSocket(imc[0]);
        var peer = imc.Peer(imc[0], "sp");
        var other = imc.Peer(imc[0], "sq");
        peer.Send("alloc 91 4096");
        other.Send("alloc 91 4096");

        using (var raw = Connect(path))
        {
            raw.Send([0xff, 0xff, 0xff, 0x7f]);
            Assert.That(ReadsToEnd(raw), Is.True, "a frame beyond the limit ends the connection");
        }

        using (var raw = Connect(path))
        {
            // Greeted, then a well-formed request above 64 KiB (under the 4 MiB bound of a frame), which would be
            // answered (a host name refused) were it read: refused by its length alone, with no answer.
            Hello(raw);
            raw.Send(AgentProtocol.Encode(new RequestFrame(3, new RegisterRequest(new string('h', 64 << 10)))));
            Assert.That(EndsWithoutReply(raw), Is.True, "a request beyond 64 KiB ends the connection unread");
        }

        using (var raw = Connect(path))
        {
            // A drop claimed on a rail the cluster does not have, as a raw sender may ask: refused, as from the API.
            Hello(raw);
            foreach (var rail in new[] { 7, -1 })
            {
                raw.Send(AgentProtocol.Encode(new RequestFrame(3, new ClaimDropRequest(rail, -1))));
                Assert.That(Reply(raw), Is.InstanceOf<FailedReply>().With.Property(nameof(FailedReply.Status)).EqualTo(DriverStatus.BadRail),
                    $"a drop claimed on logical rail {rail}");
            }

            Assert.That(Ask<AgentReply>(raw, 4, new LossesTalliedRequest()), Is.InstanceOf<DoneReply>(), "a notice with nothing tallied");
        }

        using (var raw = Connect(path))
        {
            raw.Send(Frame(Encoding.UTF8.GetBytes("{not json")));
            Assert.That(ReadsToEnd(raw), Is.True, "bytes that are not a request end the connection");
        }

        using (var raw = Connect(path))
        {
            raw.Send(AgentProtocol.Encode(new RequestFrame(1, new RegisterRequest("sp"))));
            Assert.That(Reply(raw), Is.InstanceOf<FailedReply>(), "a request before the hello");
            Assert.That(ReadsToEnd(raw), Is.True);
        }

        using (var raw = Connect(path))
        {
            raw.Send(AgentProtocol.Encode(new RequestFrame(1, new HelloRequest(AgentProtocol.Version + 1, "m1", ImcMachines.ClusterName))));
            Assert.That(Reply(raw), Is.EqualTo(new WelcomeReply(AgentProtocol.Version, "m1", AgentMode.Machine)), "imcd says which version it speaks, and which kind it is");
            Assert.That(ReadsToEnd(raw), Is.True);
        }

        using (var raw = Connect(path))
        {
            raw.Send(AgentProtocol.Encode(new RequestFrame(1, new HelloRequest(AgentProtocol.Version, "m1", ImcMachines.ClusterName))));
            Assert.That(Reply(raw), Is.InstanceOf<WelcomeReply>());
            // The peer's registration is in the control file, but it was not made on this connection.
            raw.Send(AgentProtocol.Encode(new RequestFrame(2, new UnregisterRequest(new Caller(0, 1)))));
            var reply = Reply(raw);
            Assert.That(reply, Is.InstanceOf<FailedReply>());
            Assert.That(((FailedReply)reply).Status, Is.EqualTo(DriverStatus.NotInitialized));
            raw.Send(AgentProtocol.Encode(new RequestFrame(3, new ResumeRequest(new Caller(0, 1)))));
            Assert.That(Reply(raw), Is.InstanceOf<FailedReply>(), "another process's registration is not taken up");
            // Reaching the socket makes no process of the cluster: the cluster key goes to registered connections only.
            raw.Send(AgentProtocol.Encode(new RequestFrame(4, new ClusterKeyRequest())));
            var key = Reply(raw);
            Assert.That(key, Is.InstanceOf<FailedReply>(), "a connection with no registration got the cluster key");
            Assert.That(((FailedReply)key).Status, Is.EqualTo(DriverStatus.NotInitialized));
        }

        using (var raw = Connect(path))
        {
            // A registration of this connection's own (the test's process), and a lock set of its own.
            var caller = Hello(raw);
            var set = Ask<LockSetReply>(raw, 3, new AllocateLockSetRequest(caller, 93, 2, 7, Create: false)).LockSet!;
            // Named with a count it does not have: imcd takes the set as the directory has it.
            Assert.That(Ask<AgentReply>(raw, 4, new DeallocateLockSetRequest(caller, set with { Count = int.MaxValue })),
                Is.InstanceOf<DoneReply>());
            // A burst of requests on one connection, its replies never read: served a few at a time, the rest wait in
            // the socket, and imcd answers everyone else meanwhile.
            var burst = Task.Run(() =>
            {
                try
                {
                    for (var i = 0; i < 2000; i++)
                    {
                        raw.Send(AgentProtocol.Encode(new RequestFrame(100 + i, new CheckRequest(0))));
                    }
                }
                catch (SocketException)
                {
                    // shut below, while it still sends
                }
            });
            Assert.That(peer.Send("hosts").Split(','), Does.Contain("sp"), "imcd answers another process during the burst");
            raw.Shutdown(SocketShutdown.Both);
            Assert.That(burst.Wait(TimeSpan.FromSeconds(30)), Is.True, "the burst ends once the connection is shut");
        }

        Assert.That(imc.AgentRunning(imc[0]), Is.True, imc.AgentOutput());
        other.Send("rx 91");
        peer.Send("tx 91");
        peer.Send("write64 91 0 9");
        Assert.That(other.Send("wait64 91 0 9 10000"), Does.StartWith("9"), "imcd serves on");
    }

    /// <summary>Greets imcd on <paramref name="socket"/> and registers the test's own process on host "sp".</summary>
    private static Caller Hello(Socket socket)
    {
        Assert.That(Ask<AgentReply>(socket, 1, new HelloRequest(AgentProtocol.Version, "m1", ImcMachines.ClusterName)),
            Is.InstanceOf<WelcomeReply>());
        var made = Ask<RegisteredReply>(socket, 2, new RegisterRequest("sp"));
        return new Caller(made.Slot, made.Incarnation);
    }

    private static TReply Ask<TReply>(Socket socket, long id, AgentRequest request) where TReply : AgentReply
    {
        socket.Send(AgentProtocol.Encode(new RequestFrame(id, request)));
        var reply = Reply(socket);
        return reply as TReply ?? throw new AssertionException($"{request.GetType().Name} answered {reply}");
    }

    private static Socket Connect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 30_000 };
        socket.Connect(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    private static byte[] Frame(byte[] json)
    {
        var frame = new byte[4 + json.Length];
        BinaryPrimitives.WriteInt32LittleEndian(frame, json.Length);
        json.CopyTo(frame.AsSpan(4));
        return frame;
    }

    private static AgentReply Reply(Socket socket)
    {
        using var stream = new NetworkStream(socket, ownsSocket: false);
        var json = AgentProtocol.ReadFrame(stream) ?? throw new AssertionException("imcd closed the connection without a reply");
        return AgentProtocol.ReadReply(json).Reply;
    }

    /// <summary>Whether imcd ends the connection before it sends anything more.</summary>
    private static bool EndsWithoutReply(Socket socket)
    {
        using var stream = new NetworkStream(socket, ownsSocket: false);
        try
        {
            return AgentProtocol.ReadFrame(stream) is null;
        }
        catch (IOException)
        {
            return true; // reset: ended
        }
    }

    /// <summary>Whether imcd ends the connection (within the socket's receive timeout), discarding what it sends first.</summary>
    private static bool ReadsToEnd(Socket socket)
    {
        var buffer = new byte[4096];
        try
        {
            while (socket.Receive(buffer) > 0)
            {
            }

            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
    }
}
