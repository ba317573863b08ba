using Interconnect.Driver;
using Interconnect.Driver.Store.Layout;
using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>
/// Damaged state: each is a clear error naming the file and what to do, never a crash, a hang or a read outside a
/// mapping.
/// </summary>
public sealed class DamagedStateTests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private ImcException OpenFails() => Assert.Throws<ImcException>(() => ImcContext.Open(_cluster.Options("alpha")))!;

    private void Damage(Action<FileStream> damage)
    {
        using var stream = new FileStream(_cluster.Paths.ControlFile, FileMode.Open, FileAccess.ReadWrite);
        damage(stream);
    }

    [Test]
    public void ShouldRefuseATruncatedControlFile()
    {
        Damage(s => s.SetLength(4096));

        var e = OpenFails();

        Assert.That(e.Status, Is.EqualTo(ImcStatus.BadMap));
        Assert.That(e.Message, Does.Contain(_cluster.Paths.ControlFile).And.Contain("truncated").And.Contain("imc_init"));
    }

    [Test]
    public void ShouldRefuseAControlFileTruncatedInsideItsHeader()
    {
        Damage(s => s.SetLength(10));

        Assert.That(OpenFails().Message, Does.Contain("too short").And.Contain(_cluster.Paths.ControlFile));
    }

    [Test]
    public void ShouldRefuseAWrongMagic()
    {
        Damage(s => s.Write("NOTIMC!!"u8));

        var e = OpenFails();

        Assert.That(e.Status, Is.EqualTo(ImcStatus.BadMap));
        Assert.That(e.Message, Does.Contain("wrong magic").And.Contain("imcctl destroy"));
    }

    [Test]
    public void ShouldRefuseANewerLayoutVersion()
    {
        Damage(s =>
        {
            s.Position = 8;
            s.Write(BitConverter.GetBytes(99));
        });

        var e = OpenFails();

        Assert.That(e.Message, Does.Contain("layout version 99").And.Contain($"reads version {ControlLayout.Version}"));
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void ShouldRefuseRandomBytes(int seed)
    {
        var bytes = new byte[new FileInfo(_cluster.Paths.ControlFile).Length];
        new Random(seed).NextBytes(bytes);
        File.WriteAllBytes(_cluster.Paths.ControlFile, bytes);

        Assert.That(OpenFails().Status, Is.EqualTo(ImcStatus.BadMap));
        var imcs = Command.Run("imcs", _cluster.Root, TemporaryCluster.ClusterName);
        Assert.That(imcs.ExitCode, Is.EqualTo(1));
        Assert.That(imcs.Error, Does.Contain("not an Interconnect control file"));
    }

    [Test]
    public void ShouldRefuseRandomBytesAfterAValidHeaderWithoutCrashing()
    {
        var bytes = File.ReadAllBytes(_cluster.Paths.ControlFile);
        var noise = new byte[bytes.Length - 4096];
        new Random(7).NextBytes(noise);
        noise.CopyTo(bytes, 4096);
        File.WriteAllBytes(_cluster.Paths.ControlFile, bytes);

        // The header is whole, so the cluster opens; every table entry is garbage. Whatever the library then does,
        // it stays inside the mapping: an ImcException, or a check that lists violations, never a crash.
        var check = Command.Run("imcs", _cluster.Root, TemporaryCluster.ClusterName, "--check");
        Assert.That(check.ExitCode, Is.EqualTo(1).Or.EqualTo(4), check.Output + check.Error);
        var status = Command.Run("imcs", _cluster.Root, TemporaryCluster.ClusterName, "-f");
        Assert.That(status.ExitCode, Is.Zero.Or.EqualTo(1), status.Error);
    }

    [Test]
    public void ShouldReportAReceiveFileDeletedBehindTheLibrarysBack()
    {
        using var writer = _cluster.Open("alpha");
        using var reader = _cluster.Open("beta");
        using var other = _cluster.Open("beta");
        using var tx = writer.AllocateRegion(1, 8192).AttachTransmit();
        using var region = reader.AllocateRegion(1, 8192);
        using var rx = region.AttachReceive();
        using var otherRegion = other.AllocateRegion(1, 8192);
        var file = _cluster.ReceiveFiles().Single();
        // Read once settled: inside a rail's error window the count reads negative (McError), whatever it is.
        var countBefore = Poll.Until(() => writer.ReadErrorCount(0), c => c >= 0, "rail 0's error processing window to end");

        File.Delete(file);
        tx.Write(0, 1UL); // the first write maps the receivers: this one cannot be reached
        var e = Assert.Throws<ImcException>(() => otherRegion.AttachReceive())!;
        var check = ClusterAdmin.Check(_cluster.Paths);

        Assert.That(e.Status, Is.EqualTo(ImcStatus.OpenError));
        Assert.That(e.Message, Does.Contain(file).And.Contain("imcs --check"));
        Assert.That(check.Violations, Has.Some.Contains(file).And.Some.Contains("missing"));
        Assert.That(ClusterAdmin.ReadRails(_cluster.Paths).Logical[0].ErrorCount, Is.GreaterThan(countBefore));
    }

    [Test]
    public void ShouldReportAReceiveFileResizedBehindTheLibrarysBack()
    {
        using var reader = _cluster.Open("beta");
        using var other = _cluster.Open("beta");
        using var region = reader.AllocateRegion(1, 8192);
        using var rx = region.AttachReceive();
        using var otherRegion = other.AllocateRegion(1, 8192);
        var file = _cluster.ReceiveFiles().Single();

        File.WriteAllBytes(file, new byte[100]);
        var e = Assert.Throws<ImcException>(() => otherRegion.AttachReceive())!;

        Assert.That(e.Status, Is.EqualTo(ImcStatus.BadMap));
        Assert.That(e.Message, Does.Contain(file).And.Contain("resized"));
        Assert.That(ClusterAdmin.Check(_cluster.Paths).Violations, Has.Some.Contains("100 bytes, expected 8192"));
    }

    [Test]
    public void ShouldReportAForeignFileInTheRegionsFolder()
    {
        File.WriteAllText(Path.Combine(_cluster.Paths.RegionsDirectory, "stray"), "x");
        File.WriteAllText(Path.Combine(_cluster.Paths.RegionsDirectory, "r999.h0.e1"), "x");

        var check = Command.Run("imcs", _cluster.Root, TemporaryCluster.ClusterName, "--check");

        Assert.That(check.ExitCode, Is.EqualTo(1));
        Assert.That(check.Output, Does.Contain("stray is not a receive file").And.Contain("r999.h0.e1 belongs to no region"));
    }
}
