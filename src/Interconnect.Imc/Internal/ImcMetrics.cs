using System.Diagnostics.Metrics;
using Interconnect.Driver;

namespace Interconnect.Imc.Internal;

/// <summary>
/// The meter <c>Interconnect.Imc</c>: this process's writes, bytes, drops, lock acquisitions and waits, signals and
/// detected errors, as observable counters (read by dotnet-counters, OpenTelemetry or a MeterListener). They are
/// read from counters the data path keeps anyway, only when a listener asks: publishing costs the data path nothing.
/// </summary>
internal static class ImcMetrics
{
    public const string MeterName = "Interconnect.Imc";

    private static readonly Meter s_meter = Create();

    /// <summary>Makes sure the meter exists (it is published once per process).</summary>
    public static void EnsureCreated() => _ = s_meter;

    private static Meter Create()
    {
        var meter = new Meter(MeterName, typeof(ImcMetrics).Assembly.GetName().Version?.ToString());
        meter.CreateObservableCounter("imc.writes", () => DriverMetrics.Writes, "{write}", "Writes issued through transmit windows");
        meter.CreateObservableCounter("imc.bytes", () => DriverMetrics.Bytes, "By", "Bytes written through transmit windows");
        meter.CreateObservableCounter("imc.drops", () => DriverMetrics.Drops, "{delivery}", "Deliveries lost to injected errors or failed rails");
        meter.CreateObservableCounter("imc.lock.acquisitions", () => DriverMetrics.LockAcquisitions, "{acquisition}", "Clusterwide locks acquired");
        meter.CreateObservableCounter("imc.lock.waits", () => DriverMetrics.LockWaits, "{wait}", "Lock acquisitions that waited for another holder");
        meter.CreateObservableCounter("imc.signals", () => DriverMetrics.Signals, "{signal}", "Cluster signals sent");
        meter.CreateObservableCounter("imc.errors", () => DriverMetrics.Errors, "{error}", "Errors detected by CheckErrorCount");
        return meter;
    }
}
