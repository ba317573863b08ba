using BenchmarkDotNet.Attributes;

namespace Interconnect.Benchmarks;

/// <summary>
/// Attach and detach (the control path: the directory lock, the control file, a receive file's mapping). These
/// allocate by design; the memory diagnoser shows how much.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory(Categories.ControlPath)]
public class AttachBenchmarks : ClusterBenchmark
{

    [GlobalSetup]
    public void Setup() => CreateCluster(1); // r1's receive attach keeps the region's directory entries warm

    [Benchmark]
    public void AttachReceiveDetach() => Cluster.WriterRegion.AttachReceive().Dispose();

    [Benchmark]
    public void AttachTransmitDetach() => Cluster.WriterRegion.AttachTransmit().Dispose();
}
