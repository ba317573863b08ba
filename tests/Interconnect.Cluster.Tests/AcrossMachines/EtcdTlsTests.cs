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

    /// <summary>
    /// etcd's auth, as the operator sets it up: a certificate's common name is the etcd user, and the cluster's role
    /// (read and write on <c>/imc/C/</c>) is granted to the machines' user alone. The cluster key and every other key of
    /// the cluster are then the machines' own: a certificate of the same CA with another name reads none of them, nor does
    /// the machine of another cluster on the same etcd; an imcd given such a certificate stops in one line that names its
    /// user and what to grant, before it touches the cluster.
    /// </summary>
    [Test]
    public void ShouldKeepTheClusterKeyToTheUsersItsRoleIsGrantedTo()
    {
        using var imc = ImcMachines.Start(1, etcdTls: true);
        var tls = imc.Cluster.EtcdTls!;
        var stranger = tls.MakeClient("imc-stranger");
        var neighbour = tls.MakeClient("imc-neighbour");
        imc.Cluster.GrantCluster("imc-neighbour", "neighbours");
        var key = $"/imc/{ImcMachines.ClusterName}/clusterkey";
        string[] Client((string CertFile, string KeyFile) files) => ["--cacert", tls.CaFile, "--cert", files.CertFile, "--key", files.KeyFile];

        var machines = Etcdctl(imc, [.. Client((tls.ClientCertFile, tls.ClientKeyFile)), "get", key, "--print-value-only"]);
        var strangers = Etcdctl(imc, [.. Client(stranger), "get", key]);
        var strangersWrite = Etcdctl(imc, [.. Client(stranger), "put", $"/imc/{ImcMachines.ClusterName}/machines/m9", "{}"]);
        var neighbours = Etcdctl(imc, [.. Client(neighbour), "get", "--prefix", $"/imc/{ImcMachines.ClusterName}/"]);
        var neighboursOwn = Etcdctl(imc, [.. Client(neighbour), "put", "/imc/neighbours/probe", "1"]);
        var late = imc.Cluster.AddMachine();
        var environment = ImcMachines.Environment();
        environment["IMC_ETCD_CERT"] = stranger.CertFile;
        environment["IMC_ETCD_KEY"] = stranger.KeyFile;
        var agent = late.Run("dotnet", [ImcMachines.ImcdPath, "--machine", "m9"], s_deadline, environment);
        var listed = Etcdctl(imc, [.. Client((tls.ClientCertFile, tls.ClientKeyFile)), "get", "--prefix", "--keys-only",
            $"/imc/{ImcMachines.ClusterName}/machines/"]);

        Assert.Multiple(() =>
        {
            Assert.That(machines.ExitCode, Is.Zero, machines.Stderr);
            Assert.That(machines.Stdout.Trim(), Has.Length.EqualTo(44), "the machines' user reads the key: 32 bytes in base64");
            Assert.That(strangers.ExitCode, Is.Not.Zero, $"a certificate of another name read the key: {strangers.Stdout}");
            Assert.That(strangers.Stderr, Does.Contain("permission denied"));
            Assert.That(strangersWrite.ExitCode, Is.Not.Zero, "a certificate of another name wrote a machine entry");
            Assert.That(neighbours.ExitCode, Is.Not.Zero, $"another cluster's machine read this cluster: {neighbours.Stdout}");
            Assert.That(neighbours.Stdout, Does.Not.Contain("clusterkey"));
            Assert.That(neighboursOwn.ExitCode, Is.Zero, $"another cluster's machine writes its own prefix: {neighboursOwn.Stderr}");
            Assert.That(agent.ExitCode, Is.EqualTo(1), agent.Stdout);
            Assert.That(agent.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(1)
                .And.All.Contain("permission denied to the etcd user 'imc-stranger'").And.All.Contain($"/imc/{ImcMachines.ClusterName}/"));
            Assert.That(listed.Stdout, Does.Not.Contain("machines/m9"), "the refused imcd joined");
        });
    }

    private static (int ExitCode, string Stdout, string Stderr) Etcdctl(ImcMachines imc, string[] arguments) =>
        imc[0].Run("etcdctl", ["--endpoints", imc.Cluster.EtcdEndpoints, "--dial-timeout=5s", "--command-timeout=10s", .. arguments],
            s_deadline, new Dictionary<string, string?> { ["ETCDCTL_API"] = "3" });
}
