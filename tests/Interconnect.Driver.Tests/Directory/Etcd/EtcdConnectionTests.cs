using Interconnect.Driver.Directory.Etcd;
using Interconnect.Machines;

namespace Interconnect.Driver.Tests.Directory.Etcd;

/// <summary>
/// The directory's connection options as imcd and processes check them before anything reaches etcd: each fault
/// refused in one line that names the option and the file, and says what to do.
/// </summary>
public sealed class EtcdConnectionTests
{
    private const string Https = "https://127.0.0.1:2379";
    private EtcdCertificates _certificates = null!;

    [OneTimeSetUp]
    public void MakeCertificates() => _certificates = EtcdCertificates.Make("127.0.0.1");

    [OneTimeTearDown]
    public void RemoveCertificates() => _certificates?.Dispose();

    [Test]
    public void ShouldTakeAnHttpsDirectoryWithAllThreeFiles()
    {
        var connection = EtcdConnection.Create(Https, _certificates.CaFile, _certificates.ClientCertFile, _certificates.ClientKeyFile);

        Assert.That(connection.IsTls, Is.True);
    }

    [Test]
    public void ShouldNameTheMissingFilesOfAnHttpsDirectory()
    {
        var failure = Assert.Throws<DriverException>(() => EtcdConnection.Create(Https, _certificates.CaFile, _certificates.ClientCertFile, null));

        Assert.Multiple(() =>
        {
            Assert.That(failure!.Status, Is.EqualTo(DriverStatus.BadParameter));
            Assert.That(failure.Message, Does.Contain("--etcd-key FILE (IMC_ETCD_KEY)").And.Not.Contain("--etcd-ca FILE").And.Not.Contain('\n'));
        });
    }

    [Test]
    public void ShouldRefuseCertificatesForAnHttpDirectory()
    {
        var failure = Assert.Throws<DriverException>(() =>
            EtcdConnection.Create("http://127.0.0.1:2379", _certificates.CaFile, _certificates.ClientCertFile, _certificates.ClientKeyFile));

        Assert.Multiple(() =>
        {
            Assert.That(failure!.Status, Is.EqualTo(DriverStatus.BadParameter));
            Assert.That(failure.Message, Does.Contain("--etcd-ca (IMC_ETCD_CA)").And.Contain("not TLS"));
        });
    }

    [Test]
    public void ShouldRefuseADirectoryThatMixesHttpAndHttps()
    {
        var failure = Assert.Throws<DriverException>(() => EtcdConnection.Create("https://10.0.0.1:2379,http://10.0.0.2:2379",
            _certificates.CaFile, _certificates.ClientCertFile, _certificates.ClientKeyFile));

        Assert.Multiple(() =>
        {
            Assert.That(failure!.Status, Is.EqualTo(DriverStatus.BadParameter));
            Assert.That(failure.Message, Does.Contain("mixes http:// and https://"));
        });
    }

    [Test]
    public void ShouldNameACertificateFileThatDoesNotExist()
    {
        var missing = Path.Combine(_certificates.Folder, "no-such.crt");

        var failure = Assert.Throws<DriverException>(() =>
            EtcdConnection.Create(Https, _certificates.CaFile, missing, _certificates.ClientKeyFile));

        Assert.Multiple(() =>
        {
            Assert.That(failure!.Status, Is.EqualTo(DriverStatus.OpenError));
            Assert.That(failure.Message, Does.Contain($"--etcd-cert (IMC_ETCD_CERT) {missing} does not exist"));
        });
    }

    [Test]
    public void ShouldRefuseAKeyThatOtherUsersMayRead()
    {
        var key = Path.Combine(_certificates.Folder, "readable.key");
        File.Copy(_certificates.ClientKeyFile, key, overwrite: true);
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var failure = Assert.Throws<DriverException>(() =>
            EtcdConnection.Create(Https, _certificates.CaFile, _certificates.ClientCertFile, key));

        Assert.Multiple(() =>
        {
            Assert.That(failure!.Status, Is.EqualTo(DriverStatus.OpenError));
            Assert.That(failure.Message, Does.Contain("mode 644").And.EndWith($"chmod 600 {key}"));
        });
    }

    [Test]
    public void ShouldRefuseAKeyThatDoesNotBelongToTheCertificate()
    {
        using var other = EtcdCertificates.Make("127.0.0.1", "another CA");

        var failure = Assert.Throws<DriverException>(() =>
            EtcdConnection.Create(Https, _certificates.CaFile, _certificates.ClientCertFile, other.ClientKeyFile));

        Assert.That(failure!.Message, Does.Contain(_certificates.ClientCertFile).And.Contain(other.ClientKeyFile));
    }
}
