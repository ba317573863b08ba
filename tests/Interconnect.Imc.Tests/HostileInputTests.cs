using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>
/// Extreme and malformed values at every public method and command option. What was tried:
/// <list type="bullet">
/// <item>names (host, cluster, point-to-point target, Kill host, imc_init/imcctl --host): empty, ".", "..", "../x",
/// "a/b", leading "-", 64 and 1000 characters, NUL, newline, escape and other control characters, non-ASCII, spaces;</item>
/// <item>keys: -1, int.MinValue (int.MaxValue is valid); sizes: 0, -1, long.MinValue, long.MaxValue, 2^40 + 1;</item>
/// <item>flags, share modes and permissions: 0, -1, int.MinValue, unknown bits; rails: -1, int.MinValue, int.MaxValue;</item>
/// <item>offsets and lengths: -1, long.MinValue, long.MaxValue, Length, Length - 1 with 2 bytes; lock indexes:
/// -1, Count, int.MinValue, int.MaxValue; lock counts: 0, -1, 1025, int.MaxValue; signals: 0, -1, 65, int.MaxValue;
/// pids: 0, -1, int.MinValue, int.MaxValue;</item>
/// <item>nulls where references are taken; cluster events 0, 4, -1;</item>
/// <item>commands: unknown flags, missing values, non-numbers, 99999999999, negative numbers, empty and very long
/// names (see ImcInitTests and ImcCtlTests for the rest).</item>
/// </list>
/// Each is a clear ImcException (or an ArgumentException for a null), and nothing is left half-made.
/// </summary>
public sealed class HostileInputTests
{
    private static readonly string[] s_badNames =
    [
        "", ".", "..", "../x", "a/b", "-x", new string('h', 64), new string('h', 1000), "nul\0byte", "new\nline",
        "esc\u001b[2J", "tab\t", "hôte", "two words", " ",
    ];

    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private static ImcStatus StatusOf(TestDelegate call) => Assert.Throws<ImcException>(call)!.Status;

    [TestCaseSource(nameof(s_badNames))]
    public void ShouldRefuseABadNameEverywhereItIsTaken(string name)
    {
        using var context = _cluster.Open("alpha");
        using var region = context.AllocateRegion(1, 8192);

        Assert.That(StatusOf(() => ImcContext.Open(_cluster.Options(name, autoInitialize: true))), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => ImcContext.Open(_cluster.Options("alpha", cluster: name, autoInitialize: true))),
            Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => region.AttachTransmitTo(name)), Is.EqualTo(ImcStatus.BadHost));
        Assert.That(StatusOf(() => context.Kill(name, context.ProcessId, 28)), Is.EqualTo(ImcStatus.BadHost));
        var message = Assert.Throws<ImcException>(() => ImcContext.Open(_cluster.Options(name, autoInitialize: true)))!.Message;
        Assert.That(message.Any(c => c < ' '), Is.False, "control characters are escaped in messages");
        Assert.That(Directory.GetFileSystemEntries(_cluster.Root), Has.Length.EqualTo(1));
        Assert.That(context.GetClusterInfo().Hosts, Is.EquivalentTo(new[] { "alpha", "beta" }));
    }

    // A NUL cannot be passed in a process argument: the commands get every bad name but that one.
    private static readonly string[] s_badCommandNames = [.. s_badNames.Where(n => !n.Contains('\0', StringComparison.Ordinal))];

    [TestCaseSource(nameof(s_badCommandNames))]
    public void ShouldRefuseABadNameInTheCommands(string name)
    {
        var init = Command.Run("imc_init", _cluster.Root, TemporaryCluster.ClusterName, "--host=" + name);
        var ctl = Command.Run("imcctl", _cluster.Root, TemporaryCluster.ClusterName, "inject-error", "--rail", "0", "--host=" + name);

        Assert.That(init.ExitCode, Is.EqualTo(1), init.Error);
        Assert.That(init.Error, Does.Contain("invalid host name (IMC_HOST)").Or.Contain("Required argument missing for option: '--host'"));
        Assert.That(ctl.ExitCode, Is.EqualTo(1), ctl.Error);
        Assert.That(ctl.Error, Does.Contain("--host"));
        Assert.That(Driver.ClusterAdmin.ReadStatus(_cluster.Paths).Hosts.Select(h => h.Name), Is.EquivalentTo(new[] { "alpha", "beta" }));
    }

    [Test]
    public void ShouldRefuseExtremeAllocationArguments()
    {
        using var context = _cluster.Open("alpha");

        Assert.That(StatusOf(() => context.AllocateRegion(-1, 8192)), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => context.AllocateRegion(int.MinValue, 8192)), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => context.AllocateRegion(1, long.MinValue)), Is.EqualTo(ImcStatus.BadSize));
        Assert.That(StatusOf(() => context.AllocateRegion(1, long.MaxValue)), Is.EqualTo(ImcStatus.McFull));
        Assert.That(StatusOf(() => context.AllocateRegion(1, (1L << 40) + 1)), Is.EqualTo(ImcStatus.McFull));
        Assert.That(StatusOf(() => context.AllocateRegion(1, 8192, (ImcPermissions)(-1))), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => context.AllocateRegion(1, 8192, (ImcPermissions)int.MinValue)), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => context.AllocateRegion(1, 8192, flags: (ImcRegionFlags)(-1))), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => context.AllocateRegion(1, 8192, logicalRail: int.MinValue)), Is.EqualTo(ImcStatus.BadRail));
        Assert.That(StatusOf(() => context.AllocateRegion(1, 8192, logicalRail: int.MaxValue)), Is.EqualTo(ImcStatus.BadRail));
        using var largest = context.AllocateRegion(int.MaxValue, 1);
        Assert.That(largest.Key, Is.EqualTo(int.MaxValue));
        Assert.That(Driver.ClusterAdmin.ReadStatus(_cluster.Paths).Regions, Has.Count.EqualTo(1));
    }

    [Test]
    public void ShouldRefuseExtremeAttachArguments()
    {
        using var context = _cluster.Open("alpha");
        using var region = context.AllocateRegion(1, 8192);

        Assert.That(StatusOf(() => region.AttachReceive((ImcShareMode)(-1))), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => region.AttachTransmit((ImcShareMode)int.MaxValue)), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => region.AttachTransmit(flags: (ImcAttachFlags)int.MinValue)), Is.EqualTo(ImcStatus.BadParameter));
        Assert.Throws<ArgumentNullException>(() => region.AttachTransmitTo(null!));
        Assert.That(_cluster.ReceiveFiles(), Is.Empty);
    }

    [Test]
    public void ShouldRefuseExtremeLockArguments()
    {
        using var context = _cluster.Open("alpha");

        Assert.That(StatusOf(() => context.AllocateLockSet(-1, 1)), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => context.AllocateLockSet(1, int.MaxValue)), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => context.AllocateLockSet(1, -1)), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => context.AllocateLockSet(1, 1, 0)), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => context.AllocateLockSet(1, 1, (ImcLockPermissions)8)), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(StatusOf(() => context.TryCreateLockSet(1, 0, ImcLockPermissions.User, out _)), Is.EqualTo(ImcStatus.BadParameter));
        Assert.That(Driver.ClusterAdmin.ReadStatus(_cluster.Paths).LockSets, Is.Empty);
    }

    [Test]
    public void ShouldRefuseExtremeSignalAndRailArguments()
    {
        using var context = _cluster.Open("alpha");
        var count = 0;

        Assert.Throws<ArgumentNullException>(() => context.Kill(null!, 1, 10));
        Assert.That(StatusOf(() => context.Kill("alpha", int.MaxValue, 10)), Is.EqualTo(ImcStatus.NoSuchProcess));
        Assert.That(StatusOf(() => context.Kill("alpha", context.ProcessId, int.MinValue)), Is.EqualTo(ImcStatus.InvalidSignal));
        Assert.That(StatusOf(() => context.ReadErrorCount(int.MinValue)), Is.EqualTo(ImcStatus.BadRail));
        Assert.That(StatusOf(() => context.CheckErrorCount(ref count, int.MaxValue)), Is.EqualTo(ImcStatus.BadRail));
        Assert.Throws<ArgumentNullException>(() => context.WaitForClusterEventAsync(ImcClusterEvents.Host, null!));
        Assert.That(StatusOf(() => context.WaitForClusterEventAsync((ImcClusterEvents)(-1), context.GetClusterInfo())),
            Is.EqualTo(ImcStatus.BadParameter));
    }

    // Bad usage exits 1 for imc_init and imcctl (the parser's code; API.md asks for non-zero) and 2 for imcs (its README).
    [TestCase("imc_init", 1, "Unrecognized command or argument '--bogus'", "--bogus")]
    [TestCase("imc_init", 1, "Required argument missing for option: '-a'", "-a")]
    [TestCase("imc_init", 1, "Cannot parse argument 'lots' for option '-a'", "-a", "lots")]
    [TestCase("imc_init", 1, "Cannot parse argument '99999999999' for option '-r'", "-r", "99999999999")]
    [TestCase("imcs", 2, "Unrecognized command or argument '--bogus'", "--bogus")]
    [TestCase("imcs", 2, "imcs: --watch takes 0.05 to 3600 seconds", "--watch", "-1")]
    [TestCase("imcs", 2, "Cannot parse argument 'abc' for option '--watch'", "--watch", "abc")]
    [TestCase("imcctl", 1, "Required command was not provided")]
    [TestCase("imcctl", 1, "Cannot parse argument '99999999999' for option '--rail'", "inject-error", "--rail", "99999999999")]
    [TestCase("imcctl", 1, "Cannot parse argument '-99999999999' for command 'fail-rail'", "fail-rail", "-99999999999")]
    public void ShouldRefuseMalformedCommandLinesAndChangeNothing(string command, int exitCode, string mentions, params string[] args)
    {
        var before = File.ReadAllBytes(_cluster.Paths.ControlFile);

        var result = Command.Run(command, _cluster.Root, TemporaryCluster.ClusterName, args);

        Assert.That(result.ExitCode, Is.EqualTo(exitCode), result.Error);
        Assert.That(result.Error, Does.Contain(mentions));
        Assert.That(File.ReadAllBytes(_cluster.Paths.ControlFile), Is.EqualTo(before));
    }
}
