using Interconnect.Machines;
using Interconnect.Testing;

namespace Interconnect.Cluster.Tests;

/// <summary>
/// imcd's TLS options to etcd checked before it touches the cluster or etcd: a key file that is missing, or that other
/// users may read, stops it at once with exit code 1 and one line on stderr naming the file. No etcd is needed (nothing
/// is dialled), nor namespaces.
/// </summary>
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class ImcdTlsOptionsTests
{
    private EtcdCertificates _certificates = null!;
    private DirectoryInfo _root = null!;

    [OneTimeSetUp]
    public void MakeCertificates()
    {
        _certificates = EtcdCertificates.Make("127.0.0.1");
        _root = System.IO.Directory.CreateTempSubdirectory("imc-tls-root-");
    }

    [OneTimeTearDown]
    public void RemoveCertificates()
    {
        _certificates?.Dispose();
        _root?.Delete(recursive: true);
    }

    [Test]
    public void ShouldExitNamingAKeyFileThatDoesNotExist()
    {
        var missing = Path.Combine(_certificates.Folder, "gone.key");

        var imcd = Imcd("--etcd-ca", _certificates.CaFile, "--etcd-cert", _certificates.ClientCertFile, "--etcd-key", missing);

        Assert.Multiple(() =>
        {
            Assert.That(imcd.ExitCode, Is.EqualTo(1), imcd.Error);
            Assert.That(ErrorLines(imcd), Is.EqualTo(new[] { $"imcd: --etcd-key (IMC_ETCD_KEY) {missing} does not exist: give the path of the file" }));
            Assert.That(imcd.Output, Does.Not.Contain("imcd: ready"));
        });
    }

    [Test]
    public void ShouldRefuseAKeyFileOfMode644()
    {
        var key = Path.Combine(_certificates.Folder, "open.key");
        File.Copy(_certificates.ClientKeyFile, key, overwrite: true);
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var imcd = Imcd("--etcd-ca", _certificates.CaFile, "--etcd-cert", _certificates.ClientCertFile, "--etcd-key", key);

        Assert.Multiple(() =>
        {
            Assert.That(imcd.ExitCode, Is.EqualTo(1), imcd.Error);
            Assert.That(ErrorLines(imcd), Has.Length.EqualTo(1).And.All.EndsWith($"chmod 600 {key}"));
        });
    }

    [Test]
    public void ShouldSayWhichFilesAnHttpsDirectoryIsMissing()
    {
        var imcd = Imcd("--etcd-ca", _certificates.CaFile);

        Assert.Multiple(() =>
        {
            Assert.That(imcd.ExitCode, Is.EqualTo(1), imcd.Error);
            Assert.That(ErrorLines(imcd), Has.Length.EqualTo(1)
                .And.All.Contain("--etcd-cert FILE (IMC_ETCD_CERT), --etcd-key FILE (IMC_ETCD_KEY) are missing"));
        });
    }

    [Test]
    public void ShouldShowTheTlsOptionsInItsHelp()
    {
        var help = Command.Run("imcd", _root.FullName, "tls", "--help");

        Assert.That(help.Output, Does.Contain("--etcd-ca").And.Contain("--etcd-cert").And.Contain("--etcd-key"));
    }

    /// <summary>imcd against an https:// directory nobody serves: the checks come first, so it is never dialled.</summary>
    private CommandResult Imcd(params string[] tls) =>
        Command.Run("imcd", _root.FullName, "tls", ["--directory", "https://127.0.0.1:1", "--machine", "m1", .. tls]);

    private static string[] ErrorLines(CommandResult imcd) => imcd.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
