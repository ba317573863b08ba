using BenchmarkDotNet.Attributes;
using Interconnect.Imc;

namespace Interconnect.Benchmarks;

/// <summary>
/// Clusterwide locks, uncontended: acquire then release of one lock (DESIGN.md: under 50 ns, nothing allocated),
/// the same with TryAcquire, and <see cref="RawCompareExchangePair"/>, the two atomic operations any such lock needs
/// on shared memory, without the library.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory(Categories.DataPath)]
public class LockBenchmarks : ClusterBenchmark
{
    private ImcLockSet? _locks;
    private long _word;

    [GlobalSetup]
    public void Setup()
    {
        CreateCluster(1);
        _locks = Cluster.Own(Cluster.Writer.AllocateLockSet(77, 4));
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(Categories.Baseline)]
    public void RawCompareExchangePair()
    {
        // Interlocked: take and give back a word, as a lock's acquire and release do.
        _ = Interlocked.CompareExchange(ref _word, 1, 0);
        _ = Interlocked.CompareExchange(ref _word, 0, 1);
    }

    [Benchmark]
    public void AcquireRelease()
    {
        _locks!.Acquire(0);
        _locks.Release(0);
    }

    [Benchmark]
    public void TryAcquireRelease()
    {
        _ = _locks!.TryAcquire(1);
        _locks.Release(1);
    }
}
