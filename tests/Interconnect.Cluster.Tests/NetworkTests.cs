using System.Diagnostics;
using Interconnect.Machines;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests;

/// <summary>Simulated machines reach each other and etcd over their bridge, and only there.</summary>
public sealed class NetworkTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(30);
    private static string MachinesDll => Path.Combine(AppContext.BaseDirectory, "Interconnect.Machines.dll");

    [Test]
    [CancelAfter(120_000)]
    public void ShouldReachAnotherMachineAndEtcdOverTheBridge(CancellationToken cancellation)
    {
        using var cluster = SimulatedMachines.Create(2);
        var (m1, m2) = (cluster.Machines[0], cluster.Machines[1]);
        var listener = m2.Start("dotnet", [MachinesDll, "listen", "7000", "hello-from-m2"]);
        Assert.That(Lines.Next(listener, s_deadline, cancellation), Is.EqualTo("listening"));

        var answer = Bash.ReadLine(m1, m2.Address, 7000);
        var health = Bash.Http(m1, cluster.EtcdEndpoints, "GET", "/health");

        Assert.Multiple(() =>
        {
            Assert.That(answer, Is.EqualTo((0, "hello-from-m2\n", "")), "m1 -> m2 over the bridge");
            Assert.That(listener.WaitForExit(20_000), Is.True, "the listener answered m1 and ended");
            Assert.That(health.Stdout, Does.Contain("\"health\":\"true\""), $"etcd from m1: {health}");
        });
    }

    [Test]
    [CancelAfter(120_000)]
    public void ShouldGiveEachMachineItsAddressOnItsOwnDeviceAndNothingToTheRootNamespace(CancellationToken cancellation)
    {
        using var cluster = SimulatedMachines.Create(2);
        foreach (var machine in cluster.Machines)
        {
            cancellation.ThrowIfCancellationRequested();
            var links = machine.Run("ip", ["-o", "-4", "addr", "show"], s_deadline);
            var devices = machine.Run("ls", ["/sys/class/net"], s_deadline);
            Assert.Multiple(() =>
            {
                Assert.That(links.Stdout, Does.Contain($"{machine.Device}    inet {machine.Address}/24"), machine.Name);
                Assert.That(devices.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries),
                    Is.EquivalentTo(new[] { "lo", machine.Device }), $"{machine.Name}'s sysfs shows its own devices (UCX lists them there)");
                Assert.That(machine.Environment, Does.ContainKey("UCX_TLS").WithValue("tcp"));
                Assert.That(machine.Environment, Does.ContainKey("UCX_NET_DEVICES").WithValue(machine.Device));
                Assert.That(machine.Environment, Does.ContainKey("IMC_DIRECTORY").WithValue(cluster.EtcdEndpoints));
                Assert.That(machine.Environment, Does.ContainKey("IMC_MACHINE").WithValue(machine.Name));
                Assert.That(Traces.RootAddresses(), Does.Not.Contain(machine.Address));
                Assert.That(Traces.RootHasLink($"v-{machine.Name}"), Is.False);
            });
        }

        Assert.That(Traces.RootHasLink("br0"), Is.False, "the bridge is in the hub namespace, not the root one");
    }

    [Test]
    [CancelAfter(120_000)]
    public void ShouldJoinALateMachineToTheSameBridgeAndEtcd()
    {
        using var cluster = SimulatedMachines.Create(1);

        var late = cluster.AddMachine();
        var health = Bash.Http(late, cluster.EtcdEndpoints, "GET", "/health");
        var shm = late.Run("findmnt", ["-n", "-o", "FSTYPE", "--mountpoint", "/dev/shm"], s_deadline);

        Assert.Multiple(() =>
        {
            Assert.That(cluster.Machines.Select(machine => machine.Name), Is.EqualTo(new[] { "m1", "m2" }));
            Assert.That(late.Address, Is.Not.EqualTo(cluster.Machines[0].Address));
            Assert.That(health.Stdout, Does.Contain("\"health\":\"true\""), $"etcd from the late machine: {health}");
            Assert.That(shm.Stdout, Does.Contain("tmpfs"), "the late machine has its own /dev/shm too");
        });
    }

    [Test]
    [CancelAfter(180_000)]
    public void ShouldCarryUcxOverTcpBetweenMachinesOnTheirVeth(CancellationToken cancellation)
    {
        if (!File.Exists("/usr/bin/ucx_perftest"))
        {
            Assert.Ignore("ucx_perftest is not installed (Debian package ucx-utils; ./test.sh installs it)");
        }

        using var cluster = SimulatedMachines.Create(2);
        var (m1, m2) = (cluster.Machines[0], cluster.Machines[1]);
        var server = m2.Start("ucx_perftest", ["-p", "13337"]);
        // The server listens a moment after it starts: a refused client is tried again until the deadline.
        var clock = Stopwatch.StartNew();
        (int ExitCode, string Stdout, string Stderr) client;
        do
        {
            cancellation.ThrowIfCancellationRequested();
            client = m1.Run("ucx_perftest", [m2.Address, "-p", "13337", "-t", "ucp_put_lat", "-s", "8", "-n", "1000"], s_deadline);
        }
        while (client.ExitCode != 0 && !server.HasExited && clock.Elapsed < s_deadline && WaitABit());

        Assert.That(client.ExitCode, Is.EqualTo(0), $"ucx_perftest m1 -> m2 over {m1.Device}: {client.Stdout}{client.Stderr}");
        Assert.That(client.Stdout, Does.Contain("Final:"));
    }

    private static bool WaitABit()
    {
        Thread.Sleep(200);
        return true;
    }
}
