using Interconnect.Testing;

namespace Interconnect.Cluster.Tests.AcrossMachines;

/// <summary>
/// A cluster across two machines whose etcd serves https:// and requires a client certificate of its CA
/// (<c>--client-cert-auth</c>), as API.md has an operator run it: imcd and the processes of each machine given the
/// certificates through <c>IMC_ETCD_CA</c>, <c>IMC_ETCD_CERT</c>, <c>IMC_ETCD_KEY</c>.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(600_000)]
public sealed class EtcdTlsTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(60);

    [Test]
    public void ShouldCarryAWriteFromOneMachineToAnotherThroughAnEtcdThatRequiresClientCertificates()
    {
        using var imc = ImcMachines.Start(2, etcdTls: true);
        var tls = imc.Cluster.EtcdTls!;
        var endpoints = imc.Cluster.EtcdEndpoints;
        var alpha = imc.Peer(imc[0], "alpha");
        var beta = imc.Peer(imc[1], "beta");
        alpha.Send("alloc 31 4096");
        beta.Send("alloc 31 4096");
        beta.Send("rx 31");
        alpha.Send("tx 31");
        alpha.Send("write64 31 0 4242");

        var read = beta.Send("wait64 31 0 4242 30000");
        var hosts = alpha.Send("hosts");
        // etcd itself: the machines are in it for a client with a certificate, and a client without one gets nothing.
        var withCertificate = Etcdctl(imc, ["--cacert", tls.CaFile, "--cert", tls.ClientCertFile, "--key", tls.ClientKeyFile,
            "get", "--prefix", "--keys-only", $"/imc/{ImcMachines.ClusterName}/machines/"]);
        var withoutCertificate = Etcdctl(imc, ["--cacert", tls.CaFile, "get", "--prefix", "--keys-only", "/imc/"]);

        Assert.Multiple(() =>
        {
            Assert.That(endpoints, Does.StartWith("https://"));
            Assert.That(read, Does.StartWith("4242"), "alpha's write on machine 1, read by beta on machine 2");
            Assert.That(hosts.Split(','), Is.EquivalentTo(new[] { "alpha", "beta" }));
            Assert.That(withCertificate.ExitCode, Is.Zero, withCertificate.Stderr);
            Assert.That(withCertificate.Stdout, Does.Contain("machines/m1").And.Contain("machines/m2"));
            Assert.That(withoutCertificate.ExitCode, Is.Not.Zero, $"etcd answered a client without a certificate: {withoutCertificate.Stdout}");
            Assert.That(withoutCertificate.Stdout, Does.Not.Contain("/imc/"));
        });
    }

    /// <summary>
    /// Without the variables: a process (imc_init) needs none, since it asks its machine's imcd, which holds them; an
    /// imcd against the https:// directory stops at once, in one line that names what is missing, and etcd is never
    /// dialled without a certificate.
    /// </summary>
    [Test]
    public void ShouldServeAProcessWithoutCertificatesAndStopAnImcdWithout()
    {
        using var imc = ImcMachines.Start(1, etcdTls: true);
        var bare = ImcMachines.Environment();
        bare["IMC_ETCD_CA"] = null;
        bare["IMC_ETCD_CERT"] = null;
        bare["IMC_ETCD_KEY"] = null;

        var init = imc[0].Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "imc_init.dll"), "--host", "gamma"], s_deadline, bare);
        var agent = imc[0].Run("dotnet", [ImcMachines.ImcdPath, "--machine", "m9"], s_deadline, bare);

        Assert.Multiple(() =>
        {
            Assert.That(init.ExitCode, Is.Zero, init.Stdout + init.Stderr);
            Assert.That(init.Stdout, Does.Contain("host 'gamma' joined"));
            Assert.That(agent.ExitCode, Is.EqualTo(1), agent.Stdout);
            Assert.That(agent.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(1)
                .And.All.Contain("are missing"));
        });
    }

    private static (int ExitCode, string Stdout, string Stderr) Etcdctl(ImcMachines imc, string[] arguments) =>
        imc[0].Run("etcdctl", ["--endpoints", imc.Cluster.EtcdEndpoints, "--dial-timeout=5s", "--command-timeout=10s", .. arguments],
            s_deadline, new Dictionary<string, string?> { ["ETCDCTL_API"] = "3" });
}
