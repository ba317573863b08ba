using BenchmarkDotNet.Attributes;
using Interconnect.Imc;

namespace Interconnect.Benchmarks;

/// <summary>
/// <see cref="ImcTransmitWindow.Write{T}(long, T)"/> of an aligned 8-byte value (the valid flag of the manual's
/// pattern, landing whole) to 1, 2 and 4 receiving hosts.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory(Categories.DataPath)]
public class WriteValueBenchmarks : ClusterBenchmark
{
    private ImcTransmitWindow? _tx;
    private ulong _value;

    [Params(1, 2, 4)]
    public int Receivers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        CreateCluster(Receivers);
        _tx = Cluster.Own(Cluster.WriterRegion.AttachTransmit());
        _tx.Write(0, 0UL); // the first write maps the receivers' memory: not part of a steady write
    }

    [Benchmark]
    public void WriteUInt64() => _tx!.Write(64, ++_value);
}
