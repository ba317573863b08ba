using Interconnect.Driver;
using Interconnect.Driver.Agent;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store;
using Interconnect.Driver.Store.Layout;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests;

/// <summary>
/// <c>imcd --local</c>: the mediated model on one machine, without etcd (API.md "Security across machines", last
/// item). With imcd's socket in the cluster's folder, processes ask imcd, which serves each with the credentials the
/// kernel gives for it; with the socket there and no imcd answering, a process fails saying so, never falling back to
/// the control file behind the admin's back; imcd removes its socket when it stops. One machine: no namespaces, no etcd.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class LocalImcdTests
{
    private const int SigUsr1 = 10;
    private static readonly TimeSpan s_ready = TimeSpan.FromSeconds(60);
    private TemporaryCluster _cluster = null!;
    private ClusterPaths _paths = null!;
    private ProgramProcess? _imcd;

    private string Socket => AgentProtocol.SocketPath(_paths);

    [SetUp]
    public void StartImcd()
    {
        _cluster = TemporaryCluster.CreateEmpty();
        _paths = ClusterPaths.Resolve(_cluster.Root, TemporaryCluster.ClusterName);
        _imcd = StartLocalImcd();
        // Through imcd, as imc_init would be: the cluster is imcd's from the start.
        ClusterAdmin.InitializeHost(_paths, "alpha");
        ClusterAdmin.InitializeHost(_paths, "beta");
    }

    [TearDown]
    public void StopImcd()
    {
        try
        {
            _cluster.Dispose();
        }
        finally
        {
            _imcd?.Dispose();
        }
    }

    /// <summary>
    /// Two processes share a region and a lock set through imcd --local; once imcd is gone, their next directory
    /// request fails (NotInitialized): they asked imcd, and did not change the control file themselves.
    /// </summary>
    [Test]
    public void ShouldShareARegionAndALockSetThroughImcd()
    {
        var writer = _cluster.StartPeer("alpha");
        var reader = _cluster.StartPeer("beta");

        writer.Send("alloc 41 4096");
        reader.Send("alloc 41 4096");
        reader.Send("rx 41");
        writer.Send("tx 41");
        writer.Send("write64 41 8 7");
        Assert.That(reader.Send("wait64 41 8 7 10000"), Does.StartWith("7"), ImcdOutput());

        writer.Send("lkalloc 42 2");
        reader.Send("lkalloc 42 2");
        writer.Send("acquire 42 1");
        Assert.That(reader.Send("tryacquire 42 1"), Is.EqualTo("busy"), "one holder");
        writer.Send("release 42 1");
        Assert.That(reader.Send("tryacquire 42 1"), Is.EqualTo("got"));
        reader.Send("release 42 1");

        _imcd!.Kill();
        var orphaned = writer.Ask("alloc 43 4096");
        Assert.That((orphaned.Ok, orphaned.Status), Is.EqualTo((false, "NotInitialized")), orphaned.Text);
    }

    /// <summary>
    /// imcd checks each request with the caller's credentials from the socket: another user (nobody) is refused an
    /// owner-only region of root's, and a Kill of root's process (Permit, and nothing arrives); root's Kill reaches
    /// nobody's process.
    /// </summary>
    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldCheckEveryRequestWithTheCallersCredentials()
    {
        AnotherUser.RequireRoot("a second user of a cluster that imcd --local serves");
        var owner = _cluster.StartPeer("alpha");
        var stranger = _cluster.StartPeer("beta", user: "nobody");

        owner.Send("alloc 71 4096 600");
        var refused = stranger.Ask("alloc 71 4096 600");
        Assert.That((refused.Ok, refused.Status), Is.EqualTo((false, "Permit")), refused.Text);
        Assert.That(refused.Text, Does.Contain("owner uid 0"));

        owner.Send($"on-signal {SigUsr1}");
        var denied = stranger.Ask($"kill alpha {owner.Pid} {SigUsr1}");
        Assert.That((denied.Ok, denied.Status), Is.EqualTo((false, "Permit")), denied.Text);
        Thread.Sleep(500); // a signal that got through would have arrived by now
        Assert.That(owner.Send("signals"), Is.EqualTo("0"));

        stranger.Send($"on-signal {SigUsr1}");
        owner.Send($"kill beta {stranger.Pid} {SigUsr1}");
        Assert.That(stranger.Send("wait-signals 1 10000"), Is.EqualTo("1"));
    }

    /// <summary>
    /// A process killed with SIGKILL loses its connection, and imcd releases what it held at once, as at its exit: its
    /// registration leaves the directory without anyone else entering it, and the lock it held is another's to take.
    /// </summary>
    [Test]
    public void ShouldReleaseWhatAKilledProcessHeld()
    {
        var holder = _cluster.StartPeer("alpha");
        var waiter = _cluster.StartPeer("beta");
        holder.Send("lkalloc 51 2");
        waiter.Send("lkalloc 51 2");
        holder.Send("acquire 51 0");
        Assert.That(waiter.Send("tryacquire 51 0"), Is.EqualTo("busy"));

        var pid = holder.Pid;
        holder.Kill();

        // Read without entering the directory (which would reclaim a dead process itself): only imcd's release shows.
        Poll.Until(() => ReadStatusDirectly().Processes.All(p => p.Pid != pid),
            $"imcd to release killed process {pid}'s registration", TimeSpan.FromSeconds(30));
        Assert.That(waiter.Send("tryacquire 51 0"), Is.EqualTo("got"));
    }

    /// <summary>
    /// A process that only waits for signals, asking imcd nothing, is signalled again after imcd was killed and started
    /// anew: it connects again on its own once imcd is back and takes up its registration, so the new imcd knows it as
    /// registered through its socket (it signals no other pid).
    /// </summary>
    [Test]
    public void ShouldSignalAProcessThatOnlyWaitsAfterImcdRestarted()
    {
        var waiter = _cluster.StartPeer("alpha");
        waiter.Send($"on-signal {SigUsr1}");

        _imcd!.Kill();
        _imcd.Dispose();
        _imcd = StartLocalImcd();
        var sender = _cluster.StartPeer("beta");
        var sent = Poll.Until(() => sender.Ask($"kill alpha {waiter.Pid} {SigUsr1}"), reply => reply.Ok,
            "the waiting process to be known to the new imcd", TimeSpan.FromSeconds(30));

        Assert.That(sent.Ok, Is.True, sent.Text);
        Assert.That(waiter.Send("wait-signals 1 10000"), Is.EqualTo("1"));
    }

    /// <summary>
    /// With the socket in the cluster's folder and no imcd answering (imcd killed), a process fails to open the cluster
    /// with one line that says so (NotInitialized), and registers nothing in the control file; an imcd started again
    /// replaces the stale socket and serves it.
    /// </summary>
    [Test]
    public void ShouldFailSayingSoWhenTheSocketIsThereButNoImcdAnswers()
    {
        _imcd!.Kill();
        Assert.That(File.Exists(Socket), Is.True, "a killed imcd leaves its socket");

        var peer = _cluster.StartPeer("alpha", open: false);
        var failed = peer.Ask("open");

        Assert.That((failed.Ok, failed.Status), Is.EqualTo((false, "NotInitialized")), failed.Text);
        Assert.That(failed.Text, Does.Contain($"no imcd answers there").And.Contain("imcd --local --cluster test"));
        Assert.That(ReadStatusDirectly().Processes.Select(p => p.Pid), Has.No.Member(peer.Pid), "nothing written behind imcd's back");

        _imcd.Dispose();
        _imcd = StartLocalImcd();
        Assert.That(peer.Send("open"), Does.EndWith(" alpha"), "a new imcd serves in place of the stale socket");
    }

    /// <summary>
    /// imcd --local stopped (SIGTERM) exits 0 and removes its socket; the cluster then works as the embedded default,
    /// without imcd.
    /// </summary>
    [Test]
    public void ShouldRemoveItsSocketWhenStopped()
    {
        Signals.Send(_imcd!.Pid, Signals.SigTerm);
        Assert.That(_imcd.WaitForExit(TimeSpan.FromSeconds(30)), Is.Zero, _imcd.Transcript);
        Assert.That(File.Exists(Socket), Is.False, _imcd.Transcript);
        // Handed back for the embedded default, where every process changes the directory and makes entries' files.
        Assert.Multiple(() =>
        {
            Assert.That(Mode(_paths.ControlFile).Mode, Is.EqualTo(0b110_110_110));
            Assert.That(Mode(_paths.WordsFile).Mode, Is.EqualTo(0b110_110_110));
            Assert.That(Mode(_paths.LockSetsDirectory).Mode, Is.EqualTo(0b1_111_111_111));
            Assert.That(Mode(_paths.WindowsDirectory).Mode, Is.EqualTo(0b1_111_111_111));
        });

        var writer = _cluster.StartPeer("alpha");
        var reader = _cluster.StartPeer("beta");
        writer.Send("alloc 61 4096");
        reader.Send("alloc 61 4096");
        reader.Send("rx 61");
        writer.Send("tx 61");
        writer.Send("write64 61 0 3");
        Assert.That(reader.Send("wait64 61 0 3 10000"), Does.StartWith("3"));
    }

    /// <summary>
    /// <c>imcd --group G</c> keeps the cluster to G's members (API.md, "Security across machines": files): its folder
    /// 0750, its control file 0640, its words file 0660 and <c>regions/</c> 1770, each of group G. A member (nobody, of group nogroup)
    /// shares a region with root's process; a user outside G (daemon) is refused in one <c>Permit</c> line naming the
    /// group, and reaches neither the socket nor the control file nor the folder's names. Started again without
    /// <c>--group</c>, imcd opens the cluster to every local user again.
    /// </summary>
    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldKeepTheClusterToTheMembersOfItsGroup()
    {
        AnotherUser.RequireRoot("users in and out of imcd's group");
        RestartImcd("--group", "nogroup");
        var nogroup = NoFollow.LinkStatus(_paths.ClusterDirectory)!.Value.Gid;

        var member = _cluster.StartPeer("beta", user: "nobody");
        var owner = _cluster.StartPeer("alpha");
        member.Send("alloc 81 4096");
        member.Send("rx 81");
        owner.Send("alloc 81 4096");
        owner.Send("tx 81");
        owner.Send("write64 81 0 5");
        var read = member.Send("wait64 81 0 5 10000");
        var outsider = _cluster.StartPeer("beta", user: "daemon", open: false);
        var refused = outsider.Ask("open");
        // As daemon: each of these fails, so the script exits 0 only if none got through.
        AnotherUser.Shell("daemon", $"! test -e '{Socket}' && ! cat '{_paths.ControlFile}' 2>/dev/null && ! ls '{_paths.ClusterDirectory}' 2>/dev/null");

        Assert.Multiple(() =>
        {
            Assert.That(Mode(_paths.ClusterDirectory), Is.EqualTo((0b111_101_000, nogroup)));
            Assert.That(Mode(_paths.ControlFile), Is.EqualTo((0b110_100_000, nogroup)));
            Assert.That(Mode(_paths.WordsFile), Is.EqualTo((0b110_100_000, nogroup)));
            Assert.That(Mode(_paths.TalliesDirectory), Is.EqualTo((0b111_101_000, nogroup)));
            Assert.That(Mode(_paths.RegionsDirectory), Is.EqualTo((0b1_111_111_000, nogroup)));
            Assert.That(read, Does.StartWith("5"), "a member of the group uses the cluster");
            Assert.That((refused.Ok, refused.Status), Is.EqualTo((false, "Permit")), refused.Text);
            Assert.That(refused.Text, Does.Contain("for the members of group nogroup only").And.Contain("user daemon"));
        });

        RestartImcd();
        Assert.Multiple(() =>
        {
            Assert.That(Mode(_paths.ClusterDirectory).Mode, Is.EqualTo(0b111_101_101));
            Assert.That(Mode(_paths.ControlFile).Mode, Is.EqualTo(0b110_100_100));
            Assert.That(Mode(_paths.WordsFile).Mode, Is.EqualTo(0b110_100_100));
            Assert.That(Mode(_paths.TalliesDirectory).Mode, Is.EqualTo(0b111_101_101));
            Assert.That(Mode(_paths.RegionsDirectory).Mode, Is.EqualTo(0b1_111_111_111));
            Assert.That(outsider.Send("open"), Does.EndWith(" beta"), "without --group every local user may use the cluster");
        });
    }

    /// <summary>
    /// The user report of issue 23, on one machine: another user (nobody, who uses the cluster) writes into the control
    /// file a process entry of their own uid naming root's <c>sleep</c>, with its true start time, on host alpha. The
    /// write is refused (imcd alone writes the control file: 0644), so no entry lands. And an entry that does land
    /// (written here by root, who stands for whoever may write the file) is signalled by nobody: a <c>Kill</c> of it,
    /// from nobody's process or from root's, is refused as no such process, since imcd signals only pids that
    /// registered through its socket. The sleep lives.
    /// </summary>
    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldSignalNoProcessWhoseEntryWasWrittenByHand()
    {
        AnotherUser.RequireRoot("another user forging a process entry");
        var owner = _cluster.StartPeer("alpha");
        var forger = _cluster.StartPeer("beta", user: "nobody");
        using var victim = System.Diagnostics.Process.Start("sleep", "600");
        Assert.That(ProcessIdentity.TryReadStartTime(victim.Id, out var startTime), Is.True);

        // The forged entry: alpha's real one (its host), naming the sleep and nobody, written by nobody into a free slot.
        var entry = default(ProcessEntry);
        var freeSlot = -1;
        using (var control = ControlFile.Open(_paths, ControlAccess.Read))
        {
            for (var slot = 0; slot < ControlLayout.MaxProcesses; slot++)
            {
                ref var process = ref control.Process(slot);
                if (process.State == ProcessEntry.StateLive && process.Pid == owner.Pid)
                {
                    entry = process;
                }
                else if (process.State == ProcessEntry.StateFree && freeSlot < 0)
                {
                    freeSlot = slot;
                }
            }
        }

        entry.Pid = victim.Id;
        entry.StartTime = startTime;
        entry.Uid = 65534;
        entry.Gid = 65534;
        var forged = Path.Combine(_cluster.Root, "forged-entry");
        File.WriteAllBytes(forged, System.Runtime.InteropServices.MemoryMarshal.AsBytes(new[] { entry }.AsSpan()).ToArray());
        File.SetUnixFileMode(forged, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var offset = ControlLayout.ProcessesOffset + (freeSlot * ProcessEntry.Size);
        var write = $"dd if='{forged}' of='{_paths.ControlFile}' bs=1 seek={offset} conv=notrunc status=none";
        // As nobody: the script exits 0 only if dd failed, for want of permission.
        AnotherUser.Shell("nobody", $"out=$({write} 2>&1); test $? -ne 0 && echo \"$out\" | grep -q 'Permission denied'");
        var landedFromNobody = ReadStatusDirectly().Processes.Any(p => p.Pid == victim.Id);
        AnotherUser.Shell("root", write);
        var landed = ReadStatusDirectly().Processes.Any(p => p.Pid == victim.Id);

        var byForger = forger.Ask($"kill alpha {victim.Id} 15");
        var byOwner = owner.Ask($"kill alpha {victim.Id} 15");
        Thread.Sleep(500); // a signal that got through would have ended the sleep by now

        Assert.Multiple(() =>
        {
            Assert.That(landedFromNobody, Is.False, "nobody's write reached the control file");
            Assert.That(landed, Is.True, "the forged entry is in the control file");
            Assert.That((byForger.Ok, byForger.Status), Is.EqualTo((false, "NoSuchProcess")), byForger.Text);
            Assert.That((byOwner.Ok, byOwner.Status), Is.EqualTo((false, "NoSuchProcess")), byOwner.Text);
            Assert.That(victim.HasExited, Is.False, "root's sleep was signalled");
        });
        victim.Kill();
    }

    /// <summary>
    /// A lock set's words are a file of its own that imcd makes with the set's owner and permissions, so the operating
    /// system keeps them to the users the set admits: root's user-only set is root's 0600 file, which another user
    /// (nobody) can neither allocate through imcd (Permit) nor write by hand (permission denied); root's set for others
    /// too is 0606, and nobody's process maps it with its own rights and holds one of its locks against root's; a set
    /// nobody makes is nobody's file. When the last user frees a set, its file goes.
    /// </summary>
    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldKeepALockSetsWordsToTheUsersItAdmits()
    {
        AnotherUser.RequireRoot("a second user of a cluster's lock sets");
        var owner = _cluster.StartPeer("alpha");
        var stranger = _cluster.StartPeer("beta", user: "nobody");

        owner.Send("lkalloc 61 2 4"); // User only
        var own = LockSetFileMade();
        var refused = stranger.Ask("lkalloc 61 2 4");
        AnotherUser.Shell("nobody", $"out=$(dd if=/dev/zero of='{own}' bs=8 count=1 conv=notrunc status=none 2>&1); " +
            "test $? -ne 0 && echo \"$out\" | grep -q 'Permission denied'");

        owner.Send("lkalloc 62 1 5"); // User and Other
        var shared = LockSetFileMade(own);
        stranger.Send("lkalloc 62 1 5");
        stranger.Send("acquire 62 0");
        var whileHeld = owner.Send("tryacquire 62 0");

        stranger.Send("lkalloc 63 1 4");
        var strangers = LockSetFileMade(own, shared);

        Assert.Multiple(() =>
        {
            Assert.That(Owned(own), Is.EqualTo((0b110_000_000, 0)), "root's user-only set");
            Assert.That((refused.Ok, refused.Status), Is.EqualTo((false, "Permit")), refused.Text);
            Assert.That(Owned(shared), Is.EqualTo((0b110_000_110, 0)), "root's set for others too");
            Assert.That(whileHeld, Is.EqualTo("busy"), "nobody's process holds the lock through its own mapping");
            Assert.That(Owned(strangers), Is.EqualTo((0b110_000_000, 65534)), "nobody's set is nobody's file");
        });

        stranger.Send("release 62 0");
        stranger.Send("lkdealloc 62");
        owner.Send("lkdealloc 62");
        Assert.That(File.Exists(shared), Is.False, "the freed set's file is gone");
    }

    /// <summary>
    /// A region's window words (its write lock, its transmit windows' counters) are a file of its own that imcd makes
    /// with the region's owner, read and write for each class that may use the region: root's owner-only region is
    /// root's 0600 file, which another user (nobody) cannot write by hand (permission denied); nobody's own region is
    /// nobody's, and nobody's window writes through its own mapping of it.
    /// </summary>
    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldKeepARegionsWindowWordsToTheUsersItAdmits()
    {
        AnotherUser.RequireRoot("a second user of a cluster's regions");
        var owner = _cluster.StartPeer("alpha");
        var stranger = _cluster.StartPeer("beta", user: "nobody");

        owner.Send("alloc 75 4096 600");
        owner.Send("tx 75");
        owner.Send("write64 75 0 1");
        var roots = WindowsFileMade();
        AnotherUser.Shell("nobody", $"out=$(dd if=/dev/zero of='{roots}' bs=8 count=1 conv=notrunc status=none 2>&1); " +
            "test $? -ne 0 && echo \"$out\" | grep -q 'Permission denied'");

        stranger.Send("alloc 76 4096 600");
        var nobodys = WindowsFileMade(roots);
        stranger.Send("rx 76");
        stranger.Send("tx 76 1"); // with loopback: its own host receives
        stranger.Send("write64 76 8 9");
        var read = stranger.Send("wait64 76 8 9 10000");

        Assert.Multiple(() =>
        {
            Assert.That(Owned(roots), Is.EqualTo((0b110_000_000, 0)), "root's owner-only region");
            Assert.That(Owned(nobodys), Is.EqualTo((0b110_000_000, 65534)), "nobody's region is nobody's file");
            Assert.That(read, Does.StartWith("9"), "nobody's window writes");
        });
    }

    /// <summary>
    /// While no imcd serves the cluster, <c>locksets/</c> and <c>windows/</c> are open to its users (1777, for the
    /// embedded default), so another user (nobody) may leave files there: here under the names the next region's and
    /// lock set's words will have, and a link under the one after, to a file outside the cluster. imcd removes them
    /// when it starts (links unfollowed): the link's target is untouched, and the next region and lock set are made; so
    /// for a loss tally no one lists.
    /// </summary>
    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldSweepWhatWasLeftForItsEntriesBeforeItStarted()
    {
        AnotherUser.RequireRoot("another user leaving files in a cluster's folders");
        Signals.Send(_imcd!.Pid, Signals.SigTerm);
        Assert.That(_imcd.WaitForExit(TimeSpan.FromSeconds(30)), Is.Zero, _imcd.Transcript);
        _imcd.Dispose();
        _imcd = null;
        long nextRegion, nextSet;
        using (var control = ControlFile.Open(_paths, ControlAccess.Read))
        {
            nextRegion = control.Header.NextRegionId;
            nextSet = control.Header.NextLockSetId;
        }

        var outside = Path.Combine(_cluster.Root, "outside");
        File.WriteAllText(outside, "keep");
        File.SetUnixFileMode(outside, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        AnotherUser.Shell("nobody", $"echo x > '{_paths.WindowsDirectory}/r{nextRegion}' && echo x > '{_paths.LockSetsDirectory}/s{nextSet}' " +
            $"&& ln -s '{outside}' '{_paths.WindowsDirectory}/r{nextRegion + 1}'");
        // tallies/ is closed to others from the start; root stands for whoever left a tally no one lists there.
        File.WriteAllText(TallyFile.PathOf(_paths, 4242), "x");

        _imcd = StartLocalImcd();
        var peer = _cluster.StartPeer("alpha");
        peer.Send("alloc 81 4096");
        peer.Send("alloc 82 4096");
        peer.Send("lkalloc 83 1");

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(outside), Is.EqualTo("keep"));
            Assert.That(Directory.GetFiles(_paths.WindowsDirectory).Select(Owned), Is.EqualTo(new[] { (0b110_000_000, 0), (0b110_000_000, 0) }),
                "the two regions' own files, root's");
            Assert.That(Directory.GetFiles(_paths.LockSetsDirectory).Select(Owned), Is.EqualTo(new[] { (0b110_000_000, 0) }));
            Assert.That(Directory.GetFiles(_paths.TalliesDirectory), Is.EqualTo(new[] { TallyFile.PathOf(_paths, 0) }),
                "the unlisted tally swept; root's, made when its process registered");
        });
    }

    /// <summary>
    /// Drops the operator arms through imcd reach another user's (nobody's) writer, which claims them of imcd (the
    /// rails' words are imcd's): of three writes, the first two are lost and counted (the reader sees the count up by
    /// two), the third arrives.
    /// </summary>
    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldCountTheDropsOfAnotherUsersWriter()
    {
        AnotherUser.RequireRoot("another user's writer on a cluster that imcd serves");
        var reader = _cluster.StartPeer("alpha");
        var writer = _cluster.StartPeer("beta", user: "nobody");
        writer.Send("alloc 91 4096 666");
        reader.Send("alloc 91 4096 666");
        reader.Send("rx 91");
        writer.Send("tx 91");
        var before = int.Parse(reader.Send("error-count 0"), System.Globalization.CultureInfo.InvariantCulture);

        ClusterAdmin.InjectErrors(_paths, logicalRail: 0, count: 2);
        writer.Send("write64 91 0 1");
        writer.Send("write64 91 0 2");
        writer.Send("write64 91 0 3");

        var arrived = reader.Send("wait64 91 0 3 10000");
        var after = -1;
        // While the rail processes the error (its error window), the count reads negative (McError), as the manual's does.
        Poll.Until(() => (after = int.Parse(reader.Send("error-count 0"), System.Globalization.CultureInfo.InvariantCulture)) >= 0,
            "the rail's error processing to end", TimeSpan.FromSeconds(30));
        Assert.Multiple(() =>
        {
            Assert.That(arrived, Does.StartWith("3"), "the third write arrives");
            Assert.That(after - before, Is.EqualTo(2), "two drops, counted");
        });
    }

    /// <summary>
    /// The rails' words are imcd's (the words file 0644), so another user (nobody) can lower no error count by hand;
    /// nobody's writer, whose delivery is lost (the reader's receive memory was removed behind the library's back),
    /// counts the loss in its own user's tally, nobody's 0644 file, and root's reader sees the rail's count rise;
    /// imcd, told of it, records the error on the active physical rail. nobody cannot write root's tally either.
    /// </summary>
    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldCountAnotherUsersLostDeliveryInItsOwnTally()
    {
        AnotherUser.RequireRoot("another user's writer on rails that imcd keeps");
        var reader = _cluster.StartPeer("alpha");
        var writer = _cluster.StartPeer("beta", user: "nobody");
        writer.Send("alloc 92 4096 666");
        reader.Send("alloc 92 4096 666");
        reader.Send("rx 92");
        var before = int.Parse(reader.Send("error-count 0"), System.Globalization.CultureInfo.InvariantCulture);
        var physicalBefore = ClusterAdmin.ReadRails(_paths).Physical[0].Errors;
        foreach (var memory in System.IO.Directory.GetFiles(_paths.RegionsDirectory))
        {
            File.Delete(memory); // the reader's receive memory, gone behind the library's back
        }

        writer.Send("tx 92");
        writer.Send("write64 92 0 1");
        var after = -1;
        // While the rail processes the error (its error window), the count reads negative (McError), as the manual's does.
        Poll.Until(() => (after = int.Parse(reader.Send("error-count 0"), System.Globalization.CultureInfo.InvariantCulture)) >= 0,
            "the rail's error processing to end", TimeSpan.FromSeconds(30));
        Poll.Until(() => ClusterAdmin.ReadRails(_paths).Physical[0].Errors > physicalBefore,
            "imcd to record the loss on the physical rail", TimeSpan.FromSeconds(30));
        var nobodys = TallyFile.PathOf(_paths, AnotherUser.Uid("nobody"));
        // As nobody: the script exits 0 only if both writes failed, for want of permission.
        AnotherUser.Shell("nobody", string.Join(" && ", new[] { _paths.WordsFile, TallyFile.PathOf(_paths, 0) }.Select(path =>
            $"out=$(dd if=/dev/zero of='{path}' bs=8 count=1 conv=notrunc status=none 2>&1); test $? -ne 0 && " +
            "echo \"$out\" | grep -q 'Permission denied'")));

        Assert.Multiple(() =>
        {
            Assert.That(after - before, Is.EqualTo(1), "the lost delivery, counted");
            Assert.That(NoFollow.LinkStatus(nobodys) is { } status ? (status.Uid, status.Permissions) : default,
                Is.EqualTo((AnotherUser.Uid("nobody"), 0b110_100_100)), "nobody's tally is nobody's, 0644");
            Assert.That(Mode(_paths.WordsFile).Mode, Is.EqualTo(0b110_100_100));
        });
    }

    /// <summary>
    /// imcd answers a transmit attach without mapping the region's windows file for it (the process maps its own):
    /// five attaches and detaches of one region leave imcd with one mapping of that file, held for its connection.
    /// </summary>
    [Test]
    public void ShouldMapARegionsWindowsOnceForTheAttachesItServes()
    {
        var writer = _cluster.StartPeer("alpha");
        writer.Send("alloc 93 4096");
        for (var i = 0; i < 5; i++)
        {
            writer.Send("tx 93");
            writer.Send("detach 93");
        }

        var mappings = File.ReadLines($"/proc/{_imcd!.Pid}/maps").Count(line => line.Contains(_paths.WindowsDirectory, StringComparison.Ordinal));

        Assert.That(mappings, Is.EqualTo(1));
    }

    /// <summary>
    /// imcd bounds what one user may hold of its socket: a user other than root holds at most 128 connections at once
    /// (the rest are closed as they come), so another of that user's processes is refused until some close, while
    /// root's processes are served throughout.
    /// </summary>
    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldBoundTheConnectionsOneUserHolds()
    {
        AnotherUser.RequireRoot("a second user holding connections");
        var holder = _cluster.StartPeer("beta", user: "nobody", open: false);
        var held = holder.Send($"socket-hold {Socket} {AgentServer.MaxConnectionsPerUser + 8}");
        var latecomer = _cluster.StartPeer("beta", user: "nobody", open: false);
        var refused = latecomer.Ask("open");
        var root = _cluster.StartPeer("alpha");
        var served = root.Ask("alloc 97 4096");
        holder.Send("socket-release");
        var after = Poll.Until(() => latecomer.Ask("open"), reply => reply.Ok, "imcd to serve nobody again once the held connections closed",
            TimeSpan.FromSeconds(30));

        Assert.Multiple(() =>
        {
            Assert.That(held, Is.EqualTo(AgentServer.MaxConnectionsPerUser.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                "connections beyond the user's bound are closed");
            Assert.That(refused.Ok, Is.False, $"a process of a user at the bound was served: {refused.Text}");
            Assert.That(served.Ok, Is.True, $"root's process meanwhile: {served.Text}");
            Assert.That(after.Text, Does.EndWith(" beta"));
        });
    }

    /// <summary>
    /// An IMC_ROOT so long that the socket's path would not fit a Unix socket's (108 bytes) is refused with one line
    /// that says so, before anything of the cluster is made (it once ended imcd with an unhandled exception).
    /// </summary>
    [Test]
    public void ShouldRefuseARootTooLongForItsSocket()
    {
        var root = TemporaryCluster.CreateEmpty();
        try
        {
            var deep = Path.Combine(root.Root, new string('r', 120));
            Directory.CreateDirectory(deep);
            var imcd = Command.Run("imcd", deep, "other", "--local");

            Assert.That(imcd.ExitCode, Is.EqualTo(1), imcd.Error);
            Assert.That(imcd.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1).And.All.Contain("more than a Unix socket's path may be"));
            Assert.That(Directory.Exists(Path.Combine(deep, "other")), Is.False, "nothing of the cluster made");
        }
        finally
        {
            root.Dispose();
        }
    }

    /// <summary>An unknown <c>--group</c> is refused with one line, before anything of the cluster is touched.</summary>
    [Test]
    public void ShouldRefuseAnUnknownGroup()
    {
        var root = TemporaryCluster.CreateEmpty();
        try
        {
            var imcd = Command.Run("imcd", root.Root, "other", "--local", "--group", "no-such-group-here");

            Assert.That(imcd.ExitCode, Is.EqualTo(1), imcd.Error);
            Assert.That(imcd.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1).And.All.StartWith("imcd: there is no group 'no-such-group-here'"));
            Assert.That(Directory.Exists(Path.Combine(root.Root, "other")), Is.False, "nothing of the cluster made");
        }
        finally
        {
            root.Dispose();
        }
    }

    /// <summary>--local with a directory is refused with one line, before anything of the cluster is touched.</summary>
    [Test]
    public void ShouldRefuseLocalTogetherWithADirectory()
    {
        var root = TemporaryCluster.CreateEmpty();
        try
        {
            var imcd = Command.Run("imcd", root.Root, "other", "--local", "--directory", "http://127.0.0.1:2379");

            Assert.That(imcd.ExitCode, Is.EqualTo(2), imcd.Error);
            Assert.That(imcd.Error.TrimEnd().Split('\n'), Is.EqualTo(new[]
            {
                "imcd: --local serves a cluster on this machine without etcd: drop --directory (or drop --local to join a " +
                "cluster across machines)",
            }));
            Assert.That(Directory.Exists(Path.Combine(root.Root, "other")), Is.False, "nothing of the cluster made");
        }
        finally
        {
            root.Dispose();
        }
    }

    /// <summary>Stops imcd as a service manager would (SIGTERM) and starts it again with <paramref name="options"/>.</summary>
    private void RestartImcd(params string[] options)
    {
        Signals.Send(_imcd!.Pid, Signals.SigTerm);
        Assert.That(_imcd.WaitForExit(TimeSpan.FromSeconds(30)), Is.Zero, _imcd.Transcript);
        _imcd.Dispose();
        _imcd = StartLocalImcd(options);
    }

    private static (int Mode, int Uid) Owned(string path) =>
        NoFollow.LinkStatus(path) is { } status ? (status.Permissions, status.Uid) : throw new FileNotFoundException(path);

    /// <summary>The one region windows file of the cluster that is not among <paramref name="known"/>.</summary>
    private string WindowsFileMade(params string[] known) =>
        Directory.GetFiles(_paths.WindowsDirectory).Except(known).Single();

    /// <summary>The one lock set file of the cluster that is not among <paramref name="known"/>.</summary>
    private string LockSetFileMade(params string[] known) =>
        Directory.GetFiles(_paths.LockSetsDirectory).Except(known).Single();

    private static (int Mode, int Gid) Mode(string path) =>
        NoFollow.LinkStatus(path) is { } status ? (status.Permissions, status.Gid) : throw new FileNotFoundException(path);

    private ProgramProcess StartLocalImcd(params string[] options)
    {
        var imcd = ProgramProcess.Start("imcd", _cluster.Root, TemporaryCluster.ClusterName, "-", ["--local", .. options]);
        try
        {
            imcd.WaitForLine("imcd: ready local", s_ready);
        }
        catch (TimeoutException)
        {
            imcd.Dispose();
            throw;
        }

        return imcd;
    }

    /// <summary>The cluster's status read from the control file by this process (read-only: it reclaims nothing).</summary>
    private Driver.Status.ClusterStatus ReadStatusDirectly()
    {
        using var local = ControlFileDirectory.Open(_paths, ControlAccess.Read);
        return local.ReadStatus();
    }

    private string ImcdOutput() => _imcd?.Transcript ?? "";
}
