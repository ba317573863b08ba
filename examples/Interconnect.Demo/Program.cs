// The README's first command: two emulated hosts on this machine exchange data through the Memory Channel
// emulation, on the embedded default (a cluster under IMC_ROOT, initialised on first use: nothing to set up).
//
//   dotnet run --project examples/Interconnect.Demo
//
// Host "alpha" (this process) and host "beta" (a child process of this program) each allocate two regions:
// "ping" (alpha transmits, beta receives) and "pong" (beta transmits, alpha receives). Alpha sends a greeting,
// then times round trips of an 8-byte sequence number; beta echoes each one back. The cluster is removed at the end.

using System.Diagnostics;
using System.Globalization;
using System.Text;
using Interconnect.Driver;
using Interconnect.Imc;

const int PingKey = 1001;
const int PongKey = 1002;
const long RegionSize = 8192;
const int RoundTrips = 200_000;
const ulong Stop = ulong.MaxValue;

if (args.Length > 0 && args[0] == "--peer")
{
    return RunBeta();
}

var cluster = $"demo-{Environment.ProcessId}";
Environment.SetEnvironmentVariable("IMC_CLUSTER", cluster);
Environment.SetEnvironmentVariable("IMC_AUTO_INIT", "1");
var paths = ClusterPaths.Resolve();
try
{
    return RunAlpha();
}
finally
{
    ClusterAdmin.Destroy(paths);
    Console.WriteLine($"alpha: removed cluster '{cluster}' from {paths.Root}");
}

int RunAlpha()
{
    using var context = ImcContext.Open(new ImcOptions { Host = "alpha" });
    Console.WriteLine($"alpha: pid {context.ProcessId} joined cluster '{cluster}' under {paths.Root} (auto-initialised)");
    using var ping = context.AllocateRegion(PingKey, RegionSize);
    using var pong = context.AllocateRegion(PongKey, RegionSize);
    using var pongRx = pong.AttachReceive();
    using var pingTx = ping.AttachTransmit();

    using var beta = StartBeta();
    WaitFor(pongRx, 0, 1, "beta to attach", beta);
    Console.WriteLine("alpha: beta is attached; sending a greeting through region 'ping'");

    var greeting = Encoding.UTF8.GetBytes($"hello from alpha, pid {context.ProcessId}");
    pingTx.Write(16, greeting.Length);
    pingTx.Write(64, greeting);
    pingTx.Write(8, 1UL); // the valid flag, written after the data: the receiver sees the data first
    WaitFor(pongRx, 8, 1, "beta to read the greeting", beta);
    var reply = new byte[pongRx.Read<int>(16)];
    pongRx.Read(64, reply);
    Console.WriteLine($"alpha: beta answered \"{Encoding.UTF8.GetString(reply)}\"");

    var samples = new long[RoundTrips];
    for (var i = 0; i < RoundTrips; i++)
    {
        var sequence = (ulong)i + 2;
        var start = Stopwatch.GetTimestamp();
        pingTx.Write(0, sequence);
        while (pongRx.Read<ulong>(0) != sequence)
        {
        }

        samples[i] = Stopwatch.GetTimestamp() - start;
    }

    pingTx.Write(0, Stop);
    if (!beta.WaitForExit(10_000))
    {
        beta.Kill();
    }

    // The first half warms the JIT up; report the second half.
    var measured = samples[(RoundTrips / 2)..];
    Array.Sort(measured);
    double OneWayNs(double quantile) =>
        measured[(int)(quantile * (measured.Length - 1))] * 1e9 / Stopwatch.Frequency / 2;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"alpha: {RoundTrips} round trips of an 8-byte write; one-way latency over the last {measured.Length}: " +
        $"p50 {OneWayNs(0.5):0} ns, p99 {OneWayNs(0.99):0} ns, p99.9 {OneWayNs(0.999):0} ns"));
    return beta.ExitCode;
}

int RunBeta()
{
    using var context = ImcContext.Open(new ImcOptions { Host = "beta" });
    using var ping = context.AllocateRegion(PingKey, RegionSize);
    using var pong = context.AllocateRegion(PongKey, RegionSize);
    using var pingRx = ping.AttachReceive();
    using var pongTx = pong.AttachTransmit();
    pongTx.Write(0, 1UL); // attached: alpha may send

    WaitFor(pingRx, 8, 1, "the greeting", null);
    var greeting = new byte[pingRx.Read<int>(16)];
    pingRx.Read(64, greeting);
    Console.WriteLine($"beta:  pid {context.ProcessId} received \"{Encoding.UTF8.GetString(greeting)}\"");
    var answer = Encoding.UTF8.GetBytes($"hello from beta, pid {context.ProcessId}");
    pongTx.Write(16, answer.Length);
    pongTx.Write(64, answer);
    pongTx.Write(8, 1UL);

    ulong last = 1;
    while (true)
    {
        var sequence = pingRx.Read<ulong>(0);
        if (sequence == last)
        {
            continue;
        }

        if (sequence == Stop)
        {
            return 0;
        }

        pongTx.Write(0, sequence);
        last = sequence;
    }
}

Process StartBeta()
{
    var info = new ProcessStartInfo { UseShellExecute = false };
    var self = Environment.ProcessPath!;
    info.FileName = self;
    if (Path.GetFileNameWithoutExtension(self) == "dotnet")
    {
        info.ArgumentList.Add(typeof(ImcContext).Assembly.Location.Replace("Interconnect.Imc.dll", "imc-demo.dll", StringComparison.Ordinal));
    }

    info.ArgumentList.Add("--peer");
    return Process.Start(info)!;
}

static void WaitFor(ImcReceiveWindow window, long offset, ulong value, string what, Process? peer)
{
    var watch = Stopwatch.StartNew();
    while (window.Read<ulong>(offset) != value)
    {
        if (watch.Elapsed > TimeSpan.FromSeconds(30) || peer is { HasExited: true })
        {
            throw new TimeoutException($"gave up waiting for {what}");
        }

        Thread.Yield();
    }
}
