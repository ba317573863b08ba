using Interconnect.Latency.Protocol;
using Interconnect.Latency.Reporting;

namespace Interconnect.Latency.Scenarios;

/// <summary>Turns a ping-pong driver's result into the report's one-way measurements and notes.</summary>
internal static class PingPongRuns
{
    public static ScenarioRun ToRun(string scenario, int round, string transport, PingPongResult result, long peerJit)
    {
        var measurements = result.Histograms
            .Select(h => new Measurement(Groups.PingPong, transport, h.Size, Groups.OneWay, h.RoundTrip, 0.5))
            .ToList();
        string[] notes =
        [
            $"warm-up {result.Warmup.TotalMilliseconds:0} ms; methods compiled while measuring: " +
            $"this process {result.MethodsCompiledWhileMeasuring}, peer {peerJit}",
        ];
        return new ScenarioRun(scenario, round, measurements, notes);
    }
}
