using Interconnect.Testing;

namespace Interconnect.Cluster.Tests;

/// <summary>No simulated machine sees another's files: each has its own /dev/shm, and so its own IMC_ROOT.</summary>
public sealed class IsolationTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(30);

    [Test]
    [CancelAfter(120_000)]
    public void ShouldGiveEachMachineItsOwnDevShm()
    {
        using var cluster = SimulatedMachines.Create(2);
        var (m1, m2) = (cluster.Machines[0], cluster.Machines[1]);
        var file = $"/dev/shm/{cluster.Tag}-only-on-m1";

        var made = m1.Run("sh", ["-c", "echo m1 > \"$1\"", "_", file], s_deadline);
        var onM1 = m1.Run("cat", [file], s_deadline);
        var onM2 = m2.Run("test", ["-e", file], s_deadline);

        Assert.Multiple(() =>
        {
            Assert.That(made.ExitCode, Is.EqualTo(0), made.Stderr);
            Assert.That(onM1.Stdout, Is.EqualTo("m1\n"), "m1 reads its own file");
            Assert.That(onM2.ExitCode, Is.EqualTo(1), "m2 does not see m1's file");
            Assert.That(File.Exists(file), Is.False, "the root namespace does not see m1's file");
        });
    }
}
