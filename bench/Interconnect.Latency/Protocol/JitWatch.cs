using System.Diagnostics;
using System.Runtime;

namespace Interconnect.Latency.Protocol;

/// <summary>Tells when the JIT has settled: the least warm-up has passed and the last pass compiled nothing.</summary>
internal sealed class JitWatch
{
    private readonly MeasurePlan _plan;
    private readonly long _start = Stopwatch.GetTimestamp();
    private long _lastCount = JitInfo.GetCompiledMethodCount();
    private long _atMark;

    public JitWatch(MeasurePlan plan) => _plan = plan;

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_start);

    /// <summary>Whether the warm-up may end; called after each pass over every parameter.</summary>
    public bool Settled()
    {
        var count = JitInfo.GetCompiledMethodCount();
        var quiet = count == _lastCount;
        _lastCount = count;
        var elapsed = Elapsed;
        return (elapsed >= _plan.Warmup && quiet) || elapsed >= _plan.MaxWarmup;
    }

    /// <summary>The start of the measured part.</summary>
    public void Mark() => _atMark = JitInfo.GetCompiledMethodCount();

    /// <summary>Methods this process compiled (or recompiled at a higher tier) since <see cref="Mark"/>.</summary>
    public long CompiledSinceMark => JitInfo.GetCompiledMethodCount() - _atMark;
}
