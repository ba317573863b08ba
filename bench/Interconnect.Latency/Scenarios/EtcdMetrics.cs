using System.Globalization;
using Interconnect.Machines;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// etcd's own counts of what its clients asked, read from its Prometheus text at <c>/metrics</c> on its client URL (by
/// curl on a machine: the URL is on the cluster's bridge). A request is a message a client sent: one per unary call
/// (Range, Txn, Put, LeaseGrant ...), one per message on a stream (each LeaseKeepAlive, each watch create or cancel);
/// <c>grpc_server_msg_received_total</c> counts them by method. The HTTP GET of <c>/metrics</c> is not gRPC and counts
/// nowhere here.
/// </summary>
internal sealed class EtcdMetrics(SimulatedMachine machine, string clientUrl)
{
    /// <summary>The prefix of a request count's key: "request Range".</summary>
    public const string Request = "request ";

    /// <summary>The prefix of a count of calls and streams opened: "opened Watch".</summary>
    public const string Opened = "opened ";

    private const string Received = "grpc_server_msg_received_total";
    private const string Started = "grpc_server_started_total";

    // etcd's store and lessor, beside the requests: what the requests did.
    private static readonly string[] s_counters =
    [
        "etcd_debugging_mvcc_range_total", "etcd_debugging_mvcc_txn_total", "etcd_debugging_mvcc_put_total",
        "etcd_debugging_mvcc_delete_total", "etcd_debugging_lease_renewed_total", "etcd_debugging_lease_granted_total",
    ];

    /// <summary>Every count now: "request METHOD", "opened METHOD" and etcd's own counters by name.</summary>
    public Dictionary<string, double> Read()
    {
        var (exit, stdout, stderr) = machine.Run("curl", ["-sS", "--max-time", "10", clientUrl.TrimEnd('/') + "/metrics"], TimeSpan.FromSeconds(30));
        if (exit != 0)
        {
            throw new InvalidOperationException($"curl {clientUrl}/metrics on {machine} failed (exit {exit}): {stderr}");
        }

        var counts = new Dictionary<string, double>();
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            if (space < 0 || !double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                continue;
            }

            var brace = line.IndexOf('{', StringComparison.Ordinal);
            var name = brace < 0 ? line[..space] : line[..brace];
            string? key = name switch
            {
                Received => Request + Label(line, "grpc_method"),
                Started => Opened + Label(line, "grpc_method"),
                _ when s_counters.Contains(name) => name,
                _ => null,
            };
            if (key is not null)
            {
                counts[key] = counts.GetValueOrDefault(key) + value;
            }
        }

        if (!counts.Keys.Any(k => k.StartsWith(Request, StringComparison.Ordinal)))
        {
            throw new InvalidOperationException($"etcd's /metrics at {clientUrl} has no {Received}");
        }

        return counts;
    }

    /// <summary>What rose between two readings, the counts that did not rise left out.</summary>
    public static Dictionary<string, double> Delta(Dictionary<string, double> before, Dictionary<string, double> after) =>
        after.Select(a => (a.Key, Value: a.Value - before.GetValueOrDefault(a.Key)))
            .Where(d => d.Value != 0)
            .ToDictionary(d => d.Key, d => d.Value);

    private static string Label(string line, string label)
    {
        var start = line.IndexOf(label + "=\"", StringComparison.Ordinal);
        if (start < 0)
        {
            return "?";
        }

        start += label.Length + 2;
        var end = line.IndexOf('"', start);
        return end < 0 ? "?" : line[start..end];
    }
}
