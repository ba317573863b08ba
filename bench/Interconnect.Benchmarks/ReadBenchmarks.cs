using BenchmarkDotNet.Attributes;
using Interconnect.Imc;

namespace Interconnect.Benchmarks;

/// <summary>
/// Reads from a receive window: an acquire read of an 8-byte value (what a spinning reader calls), and copies of
/// 64 B and 4 KiB out of the receive memory. <see cref="RawReadUInt64"/>: the same acquire read of native memory.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory(Categories.DataPath)]
public unsafe class ReadBenchmarks : ClusterBenchmark
{
    private ImcReceiveWindow? _rx;
    private readonly byte[] _small = new byte[64];
    private readonly byte[] _page = new byte[4096];
    private NativeTargets? _raw;

    [GlobalSetup]
    public void Setup()
    {
        CreateCluster(1);
        _rx = Cluster.Receivers[0];
        using var tx = Cluster.WriterRegion.AttachTransmit();
        tx.Write(0, 0x1122334455667788UL);
        _raw = new NativeTargets(1, 4096);
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(Categories.Baseline)]
    public ulong RawReadUInt64() => Volatile.Read(ref *(ulong*)_raw![0]); // Volatile: an acquire load, as the window's

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _raw?.Dispose();
        }

        base.Dispose(disposing);
    }

    [Benchmark]
    public ulong ReadUInt64() => _rx!.Read<ulong>(0);

    [Benchmark]
    public void Read64() => _rx!.Read(0, _small);

    [Benchmark]
    public void Read4K() => _rx!.Read(0, _page);
}
