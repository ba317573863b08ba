using Interconnect.Latency.Protocol;

namespace Interconnect.Latency.Scenarios;

/// <summary>What every scenario of one round shares: the plan, where clusters go, the floor binary, sample buffers.</summary>
internal sealed class RoundContext
{
    public RoundContext(int round, HarnessOptions options, string imcRoot, string floorBinary, long[] samples, long[] moreSamples)
    {
        Round = round;
        Options = options;
        ImcRoot = imcRoot;
        FloorBinary = floorBinary;
        Samples = samples;
        MoreSamples = moreSamples;
    }

    public int Round { get; }

    public HarnessOptions Options { get; }

    public MeasurePlan Plan => Options.Plan;

    /// <summary>The temporary IMC_ROOT of this harness run; each Imc scenario makes a fresh cluster in it.</summary>
    public string ImcRoot { get; }

    public string FloorBinary { get; }

    /// <summary>Preallocated (and touched) sample storage, so no measured round trip meets a page fault or the GC.</summary>
    public long[] Samples { get; }

    public long[] MoreSamples { get; }

    public string ClusterName(string prefix) => $"{prefix}-r{Round}";
}
