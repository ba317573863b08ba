namespace Interconnect.Latency.Reporting;

/// <summary>The names the report groups measurements by.</summary>
internal static class Groups
{
    public const string PingPong = "ping-pong";
    public const string Broadcast = "broadcast";
    public const string CacheLine = "cache-line";

    public const string OneWay = "one-way";
    public const string Delivery = "delivery";
    public const string Write = "write";

    public const string Floor = "floor (C)";
    public const string Imc = "Imc";
    public const string UnixSocket = "Unix socket";
    public const string Tcp = "TCP loopback";
    public const string Pipe = "pipe";
}
