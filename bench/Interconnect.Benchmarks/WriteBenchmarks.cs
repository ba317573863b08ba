using BenchmarkDotNet.Attributes;
using Interconnect.Imc;

namespace Interconnect.Benchmarks;

/// <summary>
/// <see cref="ImcTransmitWindow.Write(long, ReadOnlySpan{byte})"/> (imc_bcopy) of 8 B, 64 B and 4 KiB to 1, 2 and
/// 4 receiving hosts: the writer's cost per call, every receiver's copy included. <see cref="RawCopy"/> is the same
/// copy into N native buffers with no library (Span.CopyTo, as the transmitter does): the difference is Imc's own cost.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory(Categories.DataPath)]
public unsafe class WriteBenchmarks : ClusterBenchmark
{
    private ImcTransmitWindow? _tx;
    private byte[] _payload = [];
    private NativeTargets? _raw;

    [Params(1, 2, 4)]
    public int Receivers { get; set; }

    [Params(8, 64, 4096)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        CreateCluster(Receivers);
        _tx = Cluster.Own(Cluster.WriterRegion.AttachTransmit());
        _payload = new byte[Size];
        _payload.AsSpan().Fill(0x5a);
        _tx.Write(0, _payload); // the first write maps the receivers' memory: not part of a steady write
        _raw = new NativeTargets(Receivers, (int)BenchCluster.RegionSize);
    }

    [Benchmark]
    public void Write() => _tx!.Write(0, _payload);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(Categories.Baseline)]
    public void RawCopy()
    {
        var raw = _raw!;
        for (var i = 0; i < raw.Count; i++)
        {
            _payload.AsSpan().CopyTo(new Span<byte>(raw[i], _payload.Length));
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
