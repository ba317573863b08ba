namespace Interconnect.Latency.Reporting;

/// <summary>The names the report groups measurements by.</summary>
internal static class Groups
{
    public const string PingPong = "ping-pong";
    public const string Broadcast = "broadcast";
    public const string CacheLine = "cache-line";

    /// <summary>Issue 3: Imc lock hand-off between two processes (one-way), compared with <see cref="CacheLine"/>.</summary>
    public const string LockHandOff = "lock hand-off";

    /// <summary>Issue 3: <c>ImcContext.Kill</c>, from the call to the handler running in the target process.</summary>
    public const string Kill = "kill";

    public const string OneWay = "one-way";
    public const string Delivery = "delivery";
    public const string Write = "write";

    public const string Floor = "floor (C)";
    public const string Imc = "Imc";

    /// <summary>Issue 13: the floor's ping-pong in C over regions of libimc.so (direct regions: plain stores).</summary>
    public const string CLibImc = "C via libimc.so";
    public const string UnixSocket = "Unix socket";
    public const string Tcp = "TCP loopback";
    public const string Pipe = "pipe";
}
