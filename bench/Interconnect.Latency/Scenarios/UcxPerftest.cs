using System.Globalization;
using Interconnect.Machines;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// UCX's own benchmark between two simulated machines, with the machines' environment (<c>UCX_TLS=tcp</c>,
/// <c>UCX_NET_DEVICES</c>): the server <c>ucx_perftest -p PORT</c> on one machine, the client
/// <c>ucx_perftest ADDRESS -p PORT -t TEST -s SIZE -n ITERS</c> on the other, each pinned like the Imc hosts (client
/// CPU 0, server CPU 1). Reads the client's <c>Final:</c> line.
/// </summary>
internal static class UcxPerftest
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(180);

    /// <summary>
    /// The client's final line: iterations, then latency (ucp_*_lat: one-way, half the round trip; ucp_*_bw: the
    /// overhead per message) p50, average and overall in µs, bandwidth average and overall in MB/s (UCS_MBYTE, 2^20
    /// bytes), message rate average and overall.
    /// </summary>
    public sealed record Result(string Command, long Iterations, double P50Us, double AverageUs, double OverallUs,
        double BandwidthAverageMiBs, double BandwidthOverallMiBs)
    {
        public double OverallGBs => BandwidthOverallMiBs * 1024 * 1024 / 1e9;
    }

    public static Result Run(SimulatedMachine client, SimulatedMachine server, int port, string test, int size, int iterations,
        IDictionary<string, string?>? environment = null)
    {
        var portText = port.ToString(CultureInfo.InvariantCulture);
        string[] arguments =
        [
            server.Address, "-p", portText, "-t", test, "-s", size.ToString(CultureInfo.InvariantCulture),
            "-n", iterations.ToString(CultureInfo.InvariantCulture), "-c", "0",
        ];
        var command = "ucx_perftest " + string.Join(' ', arguments);
        // The server serves one test and exits; the client cannot connect until it listens, so it is retried.
        for (var attempt = 1; ; attempt++)
        {
            using var listener = MachineProcess.Start(server, "ucx_perftest server", "ucx_perftest", ["-p", portText, "-c", "1"],
                environment, stderrIsOutput: true);
            Thread.Sleep(TimeSpan.FromMilliseconds(300 * attempt));
            var (exit, stdout, stderr) = client.Run("ucx_perftest", arguments, s_timeout, environment);
            if (exit == 0 && Parse(command, stdout) is { } result)
            {
                listener.Stop(TimeSpan.FromSeconds(5));
                return result;
            }

            if (attempt == 5)
            {
                throw new InvalidOperationException($"{command} on {client.Name} failed (exit {exit}): {stdout} {stderr}".Trim());
            }
        }
    }

    /// <summary>The figures of the line starting "Final:", or null when there is none.</summary>
    public static Result? Parse(string command, string output)
    {
        foreach (var line in output.Split('\n'))
        {
            var trimmed = line.Trim();
            if (!trimmed.StartsWith("Final:", StringComparison.Ordinal))
            {
                continue;
            }

            var fields = trimmed["Final:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 6)
            {
                return null;
            }

            double At(int i) => double.Parse(fields[i], NumberStyles.Float, CultureInfo.InvariantCulture);
            return new Result(command, (long)At(0), At(1), At(2), At(3), At(4), At(5));
        }

        return null;
    }
}
