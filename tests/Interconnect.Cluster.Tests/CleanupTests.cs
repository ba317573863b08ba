using System.Diagnostics;
using System.Globalization;
using Interconnect.Machines;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests;

/// <summary>
/// A simulated cluster leaves nothing behind: not when disposed with processes still running in it, not when its
/// owner ends without disposing it, and not when its owner is killed outright (the next Create sweeps it).
/// </summary>
public sealed class CleanupTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(30);
    private static string MachinesDll => Path.Combine(AppContext.BaseDirectory, "Interconnect.Machines.dll");

    [Test]
    [CancelAfter(120_000)]
    public void ShouldLeaveNothingBehindWhenDisposedWithProcessesStillRunningInside()
    {
        var clock = Stopwatch.StartNew();
        var cluster = SimulatedMachines.Create(3);
        var created = clock.Elapsed;
        var (tag, folder) = (cluster.Tag, cluster.Folder);
        // One process the cluster started and tracks, one that escaped it (its parent ended, it lives on in m2).
        var tracked = cluster.Machines[0].Start("sleep", ["600"]);
        var escaped = cluster.Machines[1].Run("bash", ["-c", "sleep 601 </dev/null >/dev/null 2>&1 & echo $!"], s_deadline);
        var escapedPid = int.Parse(escaped.Stdout.Trim(), CultureInfo.InvariantCulture);
        Assert.Multiple(() =>
        {
            Assert.That(Traces.IsRunning(tracked.Id) && Traces.IsRunning(escapedPid), Is.True, "both run before Dispose");
            Assert.That(Traces.Of(tag, folder), Is.Not.Empty, "the cluster can be seen before Dispose");
        });

        clock.Restart();
        cluster.Dispose();
        var disposed = clock.Elapsed;
        TestContext.Out.WriteLine($"3 machines: Create {created.TotalMilliseconds:0} ms, Dispose {disposed.TotalMilliseconds:0} ms");

        Assert.That(Traces.Of(tag, folder, [tracked.Id, escapedPid]), Is.Empty);
    }

    [Test]
    [CancelAfter(60_000)]
    public void ShouldBeSafeToDisposeTwice()
    {
        var cluster = SimulatedMachines.Create(1);
        cluster.Dispose();

        Assert.That(cluster.Dispose, Throws.Nothing);
        Assert.That(() => cluster.Machines[0].Start("true", []), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    [CancelAfter(120_000)]
    public void ShouldCleanUpWhenTheOwnerExitsWithoutDisposing(CancellationToken cancellation)
    {
        using var owner = StartOwner(out var tag, out var folder, cancellation);

        // hold returns from Main at the end of its input without disposing: the helper's ProcessExit hook does.
        owner.StandardInput.Close();
        Assert.That(owner.WaitForExit(60_000), Is.True, "the owner ended");

        Assert.That(Traces.Of(tag, folder), Is.Empty);
    }

    [Test]
    [CancelAfter(120_000)]
    public void ShouldCleanUpWhenTheOwnerIsStoppedWithSigterm(CancellationToken cancellation)
    {
        using var owner = StartOwner(out var tag, out var folder, cancellation);

        // What a test runner sends a host it stops; .NET raises no ProcessExit for it, the helper's signal hook cleans up.
        Libc.Signal(owner.Id, Libc.SigTerm);
        Assert.That(owner.WaitForExit(60_000), Is.True, "the owner ended");

        Assert.That(Traces.Of(tag, folder), Is.Empty);
    }

    [Test]
    [CancelAfter(180_000)]
    public void ShouldSweepWhatAKilledOwnerLeftAtTheNextCreate(CancellationToken cancellation)
    {
        using var owner = StartOwner(out var tag, out var folder, cancellation);
        using var inside = Process.Start(new ProcessStartInfo("nsenter",
            [$"--net=/run/netns/{tag}-m1", $"--mount={folder}/ns/m1.mnt", "--", "sleep", "602"]))!;
        Libc.Signal(owner.Id, Libc.SigKill);
        Assert.That(owner.WaitForExit(30_000), Is.True, "the owner was killed");
        Assert.That(Traces.Of(tag, folder, [inside.Id]), Is.Not.Empty, "a killed owner leaves its cluster behind");

        using var next = SimulatedMachines.Create(1);

        Assert.That(Traces.Of(tag, folder, [inside.Id]), Is.Empty);
    }

    /// <summary>A process that makes a two-machine cluster (Interconnect.Machines hold) and keeps it; returns once it is up.</summary>
    private static Process StartOwner(out string tag, out string folder, CancellationToken cancellation)
    {
        var info = new ProcessStartInfo("dotnet", [MachinesDll, "hold", "2"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var owner = Process.Start(info)!;
        var lines = new List<string> { Lines.Next(owner, TimeSpan.FromSeconds(90), cancellation) };
        if (lines[0].StartsWith("unavailable", StringComparison.Ordinal))
        {
            Assert.Ignore(lines[0]);
        }

        lines.AddRange(Lines.Until(owner, "ready", TimeSpan.FromSeconds(90), cancellation));

        tag = lines.Single(line => line.StartsWith("tag ", StringComparison.Ordinal))[4..];
        folder = $"/tmp/imc-machines/{tag}";
        return owner;
    }
}
