using System.Text;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests;

/// <summary>etcd on the bridge answers machines, and a stop and a start keep its data ("unreachable, then back").</summary>
public sealed class EtcdTests
{
    [Test]
    [CancelAfter(180_000)]
    public void ShouldKeepDataAcrossStopAndStartAndRefuseConnectionsWhileStopped()
    {
        using var cluster = SimulatedMachines.Create(1);
        var m1 = cluster.Machines[0];
        var key = Convert.ToBase64String(Encoding.ASCII.GetBytes("imc/test/key"));
        var value = Convert.ToBase64String(Encoding.ASCII.GetBytes("kept across a restart"));

        var put = Bash.Http(m1, cluster.EtcdEndpoints, "POST", "/v3/kv/put", $$"""{"key":"{{key}}","value":"{{value}}"}""");
        cluster.StopEtcd();
        var whileStopped = Bash.Http(m1, cluster.EtcdEndpoints, "GET", "/health");
        cluster.StartEtcd();
        var range = Bash.Http(m1, cluster.EtcdEndpoints, "POST", "/v3/kv/range", $$"""{"key":"{{key}}"}""");

        Assert.Multiple(() =>
        {
            Assert.That(put.Stdout, Does.StartWith("HTTP/1.0 200").And.Contain("\"revision\""), $"put from m1: {put}");
            Assert.That(whileStopped.ExitCode, Is.EqualTo(7), $"etcd stopped: the connection is refused ({whileStopped})");
            Assert.That(range.Stdout, Does.Contain($"\"value\":\"{value}\""), $"range after the restart: {range}");
        });
    }
}
