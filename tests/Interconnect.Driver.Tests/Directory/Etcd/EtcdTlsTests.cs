using System.Collections.Concurrent;
using Interconnect.Driver.Directory.Etcd;
using Interconnect.Machines;
using Interconnect.Testing;

namespace Interconnect.Driver.Tests.Directory.Etcd;

/// <summary>
/// The store and the streams against an etcd of the test's own that serves https:// and requires a client certificate
/// of its CA (<c>--client-cert-auth</c>): with this machine's files they read, write and watch; a client certificate of
/// another CA is refused by etcd, and an etcd whose certificate is not of the given CA is refused by the store, each
/// with a DriverException that says TLS failed, within the store's deadline.
/// </summary>
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class EtcdTlsTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(30);
    private EtcdCertificates _certificates = null!;
    private EtcdCertificates _other = null!;
    private LocalEtcd _etcd = null!;

    [OneTimeSetUp]
    public void StartEtcd()
    {
        _certificates = EtcdCertificates.Make("127.0.0.1");
        _other = EtcdCertificates.Make("127.0.0.1", "another CA");
        _etcd = LocalEtcd.Start(_certificates);
    }

    [OneTimeTearDown]
    public void StopEtcd()
    {
        _etcd?.Dispose();
        _other?.Dispose();
        _certificates?.Dispose();
    }

    [Test]
    public void ShouldReadWriteAndWatchWithTheMachinesCertificate()
    {
        using var store = new EtcdStore(Connection(_certificates.CaFile, _certificates), "tls");
        using var streams = new EtcdStreams(store);
        using var stop = new CancellationTokenSource();
        var delivered = new ConcurrentQueue<string>();
        var (_, revision) = store.List("");
        var watching = streams.WatchAsync(["w/"], revision + 1,
            changes => { foreach (var c in changes) { delivered.Enqueue($"{c.Entry.Key}={c.Entry.Value}"); } }, stop.Token);

        var created = store.CreateAll(0, ("regions/1", "over TLS"));
        _ = store.Set("w/1", "watched over TLS");
        var seen = Poll.Until(() => string.Join(", ", delivered), d => d.Contains("w/1=watched over TLS", StringComparison.Ordinal),
            "the watch over TLS to deliver w/1", s_deadline);
        stop.Cancel();

        Assert.Multiple(() =>
        {
            Assert.That(created, Is.True);
            Assert.That(store.Get("regions/1")?.Value, Is.EqualTo("over TLS"));
            Assert.That(seen, Is.EqualTo("w/1=watched over TLS"));
            Assert.That(watching.Wait(s_deadline), Is.True, "the watch ends when cancelled");
        });
    }

    [Test]
    public void ShouldBeRefusedWithAClientCertificateOfAnotherCa()
    {
        using var store = new EtcdStore(Connection(_certificates.CaFile, _other), "tls", TimeSpan.FromSeconds(5));

        // etcd refuses it by ending the connection (TLS 1.3): a call fails at once or at the store's deadline, never later.
        var failure = Assert.Throws<DriverException>(() => store.Get("regions/1"));

        Assert.That(failure!.Message, Does.Contain(_etcd.ClientUrl).And.Contain("ended the connection after TLS")
            .And.Contain("--etcd-cert (IMC_ETCD_CERT)"), failure.Message);
    }

    [Test]
    public void ShouldRefuseAnEtcdWhoseCertificateIsNotOfTheGivenCa()
    {
        using var store = new EtcdStore(Connection(_other.CaFile, _certificates), "tls", TimeSpan.FromSeconds(5));

        // Refused by this side's check, in the handshake: at once, not after retries.
        var failure = Assert.Throws<DriverException>(() => store.Get("regions/1"));

        Assert.Multiple(() =>
        {
            Assert.That(failure!.Status, Is.EqualTo(DriverStatus.McError), failure.Message);
            Assert.That(failure.Message, Does.Contain(_etcd.ClientUrl).And.Contain("did not agree on TLS")
                .And.Contain("--etcd-ca (IMC_ETCD_CA)"), failure.Message);
        });
    }

    private EtcdConnection Connection(string caFile, EtcdCertificates client) =>
        EtcdConnection.Create(_etcd.ClientUrl, caFile, client.ClientCertFile, client.ClientKeyFile);
}
