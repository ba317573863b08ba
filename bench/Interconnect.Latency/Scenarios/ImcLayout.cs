using Interconnect.Imc;

namespace Interconnect.Latency.Scenarios;

/// <summary>Region keys, hosts and sizes of the Imc scenarios, shared by the harness and its peers.</summary>
internal static class ImcLayout
{
    public const int PingKey = 1001;   // alpha transmits, beta receives
    public const int PongKey = 1002;   // beta transmits, alpha receives
    public const string Alpha = "alpha";
    public const string Beta = "beta";

    /// <summary>The region of a broadcast to N receivers has key BroadcastKey + N.</summary>
    public const int BroadcastKey = 3000;
    public const int AckKey = 3100;    // the first receiving host transmits, alpha receives
    public const int BroadcastPayload = 4096;
    public const int BroadcastRegionSize = 2 * BroadcastPayload;
    public const int AckRegionSize = 4096;
    public static readonly int[] ReceiverCounts = [1, 2, 4];

    public static string Receiver(int index) => $"r{index + 1}";

    public static ImcOptions Options(string root, string cluster, string host) =>
        new() { Root = root, Cluster = cluster, Host = host, AutoInitialize = true };
}
