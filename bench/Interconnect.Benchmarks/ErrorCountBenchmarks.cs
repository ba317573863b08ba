using BenchmarkDotNet.Attributes;
using Interconnect.Driver;

namespace Interconnect.Benchmarks;

/// <summary>
/// The error count calls of the manual's patterns: read (a memory load and a barrier) and check; with no loss tally
/// (the embedded default) and with users' tallies listed, as under imcd, where every read adds them in.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory(Categories.DataPath)]
public class ErrorCountBenchmarks : ClusterBenchmark
{
    private int _count;

    /// <summary>How many users' loss tallies the cluster lists (under imcd, one per user whose processes it registered).</summary>
    [Params(0, 2)]
    public int Tallies { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        CreateCluster(1);
        if (Tallies > 0)
        {
            // What imcd does when it first registers a process of each user (uids no one has: the files are only read).
            using var cluster = Driver.Store.Cluster.Open(ClusterPaths.Resolve(Cluster.Root, "bench"));
            using var scope = cluster.EnterDirectory();
            for (var i = 0; i < Tallies; i++)
            {
                cluster.KeepTally(60_000 + i);
            }
        }

        _count = Cluster.Writer.ReadErrorCount(0);
    }

    [Benchmark]
    public int ReadErrorCount() => Cluster.Writer.ReadErrorCount(0);

    [Benchmark]
    public Imc.ImcStatus CheckErrorCount() => Cluster.Writer.CheckErrorCount(ref _count, 0);
}
