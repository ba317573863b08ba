using Interconnect.Driver.Store;
using Interconnect.Testing;

namespace Interconnect.Driver.Tests.Store;

/// <summary>
/// Users' loss tallies as imcd keeps them (API.md: a rail's clusterwide error count; a failover pair fails over at the
/// eleventh error within a minute): every reader adds each tally to the rail's count, and the losses tallied become
/// errors of the active physical rail when imcd looks, each once.
/// </summary>
public sealed class LossTallyTests
{
    private const int FirstUser = 60_000, SecondUser = 60_001;
    private TemporaryCluster _root = null!;
    private ClusterPaths _paths = null!;

    [SetUp]
    public void SetUp()
    {
        _root = TemporaryCluster.CreateEmpty();
        _paths = ClusterPaths.Resolve(_root.Root, "c");
    }

    [TearDown]
    public void TearDown() => _root.Dispose();

    [Test]
    public void ShouldCountEveryUsersTallyAndFailAPairOverOnTheEleventhTalliedLoss()
    {
        using var imcd = ControlFileDirectory.OpenOrCreate(_paths, physicalRails: 2, railStyle: ClusterConfiguration.FailoverPair);
        var cluster = imcd.Cluster;
        using (cluster.EnterDirectory())
        {
            cluster.KeepTally(FirstUser);
            cluster.KeepTally(SecondUser);
            cluster.KeepTally(FirstUser); // a user's second process: the same tally
        }

        using var reader = ControlFileDirectory.Open(_paths, ControlAccess.Read);
        using var first = cluster.OpenOwnTally(FirstUser);
        using var second = cluster.OpenOwnTally(SecondUser);
        for (var i = 0; i < 10; i++)
        {
            cluster.RaiseTalliedError(i % 2 == 0 ? first : second, rail: 0);
        }

        imcd.RecordTalliedLosses();
        imcd.RecordTalliedLosses(); // a second look with nothing new records nothing
        var beforeTheEleventh = reader.ReadRails();
        cluster.RaiseTalliedError(second, rail: 0);
        imcd.RecordTalliedLosses();
        var after = reader.ReadRails();

        Assert.Multiple(() =>
        {
            Assert.That(cluster.Control.Words.TallyCount, Is.EqualTo(2), "one tally per user");
            Assert.That(beforeTheEleventh.Logical[0].ErrorCount, Is.EqualTo(10), "both users' losses, read by another process");
            Assert.That(beforeTheEleventh.Physical[0].Errors, Is.EqualTo(10), "each loss recorded once on the active physical rail");
            Assert.That(beforeTheEleventh.Physical[0].Failed, Is.False);
            Assert.That(after.Physical[0].Failed, Is.True, "the eleventh error within a minute fails the rail");
            Assert.That(after.Logical[0].ActivePhysical, Is.EqualTo(1), "over to its partner");
            Assert.That(after.Logical[0].ErrorCount, Is.EqualTo(12), "eleven losses and the failover");
            Assert.That(() => cluster.OpenOwnTally(60_002), Throws.TypeOf<DriverException>()
                .With.Property(nameof(DriverException.Status)).EqualTo(DriverStatus.NotInitialized));
        });
    }
}
