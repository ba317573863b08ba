using Microsoft.Extensions.Logging;

namespace Interconnect.Imc.Internal;

/// <summary>
/// The library's log events, with fixed ids by range: 100s contexts and hosts, 200s regions, 300s lock sets,
/// 400s signals, 500s rails. Nothing is logged on the data path (writes, reads, lock words): counters cover it.
/// The list is documented in README.md.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Context opened: process {ProcessId} on host '{Host}' in cluster '{Cluster}'")]
    public static partial void ContextOpened(ILogger logger, int processId, string host, string cluster);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Context closed: process {ProcessId} on host '{Host}'")]
    public static partial void ContextClosed(ILogger logger, int processId, string host);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Host joined: '{Host}'")]
    public static partial void HostJoined(ILogger logger, string host);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "Host left: '{Host}'")]
    public static partial void HostLeft(ILogger logger, string host);

    [LoggerMessage(EventId = 104, Level = LogLevel.Debug, Message = "Cluster watch stopped: host and rail changes are no longer logged by this process ({Status}: {Reason})")]
    public static partial void ClusterWatchStopped(ILogger logger, ImcStatus status, string reason);

    [LoggerMessage(EventId = 200, Level = LogLevel.Debug, Message = "Region allocated: key {Key}, {Size} bytes, rail {Rail}, coherent {Coherent}")]
    public static partial void RegionAllocated(ILogger logger, int key, long size, int rail, bool coherent);

    [LoggerMessage(EventId = 201, Level = LogLevel.Debug, Message = "Region deallocated: key {Key}")]
    public static partial void RegionDeallocated(ILogger logger, int key);

    [LoggerMessage(EventId = 202, Level = LogLevel.Debug, Message = "Region attached: key {Key} for {Direction}")]
    public static partial void RegionAttached(ILogger logger, int key, string direction);

    [LoggerMessage(EventId = 203, Level = LogLevel.Debug, Message = "Region detached: key {Key}")]
    public static partial void RegionDetached(ILogger logger, int key);

    [LoggerMessage(EventId = 300, Level = LogLevel.Debug, Message = "Lock set allocated: key {Key}, {Count} locks, created {Created}")]
    public static partial void LockSetAllocated(ILogger logger, int key, int count, bool created);

    [LoggerMessage(EventId = 301, Level = LogLevel.Debug, Message = "Lock set deallocated: key {Key}")]
    public static partial void LockSetDeallocated(ILogger logger, int key);

    [LoggerMessage(EventId = 400, Level = LogLevel.Debug, Message = "Signal {Signal} sent to process {ProcessId} on host '{Host}'")]
    public static partial void SignalSent(ILogger logger, int signal, int processId, string host);

    [LoggerMessage(EventId = 500, Level = LogLevel.Warning, Message = "Rail failed: logical rail {Rail} is down")]
    public static partial void RailFailed(ILogger logger, int rail);

    [LoggerMessage(EventId = 501, Level = LogLevel.Information, Message = "Rail repaired: logical rail {Rail} is up")]
    public static partial void RailRepaired(ILogger logger, int rail);

    [LoggerMessage(EventId = 502, Level = LogLevel.Warning, Message = "Rail changed: a physical rail failed, failed over or was repaired; active logical rails 0x{Mask:x}")]
    public static partial void RailChanged(ILogger logger, uint mask);
}
