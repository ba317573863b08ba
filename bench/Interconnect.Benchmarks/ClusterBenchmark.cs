using BenchmarkDotNet.Attributes;

namespace Interconnect.Benchmarks;

/// <summary>
/// The base of every benchmark here: it owns the benchmark's <see cref="BenchCluster"/>, which
/// <see cref="Cleanup"/> (BenchmarkDotNet's global cleanup) or <see cref="Dispose()"/> (a test) removes.
/// </summary>
/// <remarks>Not sealed, nor are its subclasses: BenchmarkDotNet's generated runner derives from each benchmark class.</remarks>
public abstract class ClusterBenchmark : IDisposable
{
    protected BenchCluster Cluster { get; private set; } = null!;

    /// <summary>Makes the cluster with <paramref name="receivers"/> receiving hosts; call from the subclass's global setup.</summary>
    protected void CreateCluster(int receivers) => Cluster = new BenchCluster(receivers);

    [GlobalCleanup]
    public void Cleanup() => Dispose();

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Cluster?.Dispose();
        }
    }
}
