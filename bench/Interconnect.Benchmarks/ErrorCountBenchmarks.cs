using BenchmarkDotNet.Attributes;

namespace Interconnect.Benchmarks;

/// <summary>The error count calls of the manual's patterns: read (a memory load and a barrier) and check.</summary>
[MemoryDiagnoser]
[BenchmarkCategory(Categories.DataPath)]
public class ErrorCountBenchmarks : ClusterBenchmark
{
    private int _count;

    [GlobalSetup]
    public void Setup()
    {
        CreateCluster(1);
        _count = Cluster.Writer.ReadErrorCount(0);
    }

    [Benchmark]
    public int ReadErrorCount() => Cluster.Writer.ReadErrorCount(0);

    [Benchmark]
    public Imc.ImcStatus CheckErrorCount() => Cluster.Writer.CheckErrorCount(ref _count, 0);
}
