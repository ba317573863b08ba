using BenchmarkDotNet.Attributes;
using Interconnect.Imc;

namespace Interconnect.Benchmarks;

/// <summary>
/// <see cref="ImcTransmitWindow.Write{T}(long, T)"/> of an aligned 8-byte value (the valid flag of the manual's
/// pattern, landing whole) to 1, 2 and 4 receiving hosts. <see cref="RawStore"/>: the same release stores into N
/// native buffers with no library.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory(Categories.DataPath)]
public unsafe class WriteValueBenchmarks : ClusterBenchmark
{
    private ImcTransmitWindow? _tx;
    private ulong _value;
    private NativeTargets? _raw;

    [Params(1, 2, 4)]
    public int Receivers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        CreateCluster(Receivers);
        _tx = Cluster.Own(Cluster.WriterRegion.AttachTransmit());
        _tx.Write(0, 0UL); // the first write maps the receivers' memory: not part of a steady write
        _raw = new NativeTargets(Receivers, (int)BenchCluster.RegionSize);
    }

    [Benchmark]
    public void WriteUInt64() => _tx!.Write(64, ++_value);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(Categories.Baseline)]
    public void RawStore()
    {
        var raw = _raw!;
        var value = ++_value;
        for (var i = 0; i < raw.Count; i++)
        {
            // Volatile: a release store, as the transmitter's, so the baseline does the same work.
            Volatile.Write(ref *(ulong*)(raw[i] + 64), value);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _raw?.Dispose();
        }

        base.Dispose(disposing);
    }
}
