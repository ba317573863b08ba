using Interconnect.Driver.Status;

namespace Interconnect.Imcs;

/// <summary>Per-rail write and byte rates between two readings, for <c>imcs --watch</c>.</summary>
internal sealed class RateSample(ClusterStatus previous, ClusterStatus current, TimeSpan elapsed)
{
    public (double WritesPerSecond, double BytesPerSecond) For(int rail)
    {
        var before = previous.Rails.Logical.FirstOrDefault(r => r.Rail == rail);
        var now = current.Rails.Logical.FirstOrDefault(r => r.Rail == rail);
        if (before is null || now is null || elapsed <= TimeSpan.Zero)
        {
            return (0, 0);
        }

        var seconds = elapsed.TotalSeconds;
        return (Math.Max(0, now.Writes - before.Writes) / seconds, Math.Max(0, now.Bytes - before.Bytes) / seconds);
    }
}
