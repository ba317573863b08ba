namespace Interconnect.Driver.Directory;

/// <summary>A transmit attach as the directory recorded it: its entry, its target host (-1: broadcast), loopback, hot words.</summary>
internal sealed record TransmitAttachment(int Entry, int TargetHost, bool Loopback, WindowWords Words);
