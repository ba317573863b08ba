// The README's demo across machines, with one command (root needed: it makes the machines):
//
//   dotnet run --project examples/Interconnect.Demo.Machines
//
// It makes two simulated machines on this box (tests/Interconnect.Machines: each a network namespace on a bridge of
// its own plus a mount namespace with its own /dev/shm; etcd on the bridge; UCX over tcp), starts imcd on each, and
// runs host "alpha" on machine m1 and host "beta" on machine m2, both this program. Alpha sends a greeting through
// region "ping" and beta answers through "pong" (one-sided UCX puts into the other machine's memory); alpha signals
// beta's process with Kill (m2's imcd delivers it; beta's handler answers through "pong"); alpha times 8-byte round
// trips. Then imcs on m1 shows both machines. Everything it made is gone when it ends.

using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Interconnect.Imc;
using Interconnect.Machines;

const int PingKey = 2001;
const int PongKey = 2002;
const long RegionSize = 8192;
const int RoundTrips = 20_000;
const int Signals = 5;
const int SigUsr1 = 10;
const ulong Stop = ulong.MaxValue;
const long Sequence = 0;      // ping: alpha's sequence number, or Stop; pong: the echo (1 once beta is attached)
const long GreetingFlag = 8;  // 1 once the greeting is complete
const long GreetingLength = 16;
const long Pid = 24;          // pong: beta's pid, for Kill
const long SignalsSeen = 32;  // pong: signals beta's handler has seen
const long SignalsDone = 40;  // ping: 1 once alpha's signals are over
const long Greeting = 64;

return args switch
{
    ["--alpha"] => RunAlpha(),
    ["--beta"] => RunBeta(),
    _ => RunMachines(),
};

// Makes the machines, starts an imcd on each and the two hosts, prints what they print, and takes everything down.
static int RunMachines()
{
    SimulatedCluster machines;
    try
    {
        machines = SimulatedCluster.Create(2, TimeSpan.FromSeconds(60));
    }
    catch (MachinesUnavailableException e)
    {
        Console.Error.WriteLine($"imc-demo-machines: cannot make simulated machines here: {e.Message}");
        return 2;
    }

    using (machines)
    {
        var (m1, m2) = (machines.Machines[0], machines.Machines[1]);
        Console.WriteLine($"demo: machines {m1} and {m2}; etcd at {machines.EtcdEndpoints}");
        var environment = new Dictionary<string, string?> { ["IMC_ROOT"] = "/dev/shm/imc", ["IMC_CLUSTER"] = "demo", ["IMC_AUTO_INIT"] = "1" };
        foreach (var machine in machines.Machines)
        {
            var agent = machine.Start("dotnet", [Beside("imcd.dll"), "--progress", "wait"], environment);
            var ready = agent.StandardOutput.ReadLine();
            Console.WriteLine($"demo: {machine.Name}: {ready}");
            _ = agent.StandardOutput.ReadToEndAsync();
            _ = agent.StandardError.ReadToEndAsync();
        }

        var beta = StartHost(m2, "--beta", "beta");
        var alpha = StartHost(m1, "--alpha", "alpha");
        alpha.WaitForExit();
        beta.WaitForExit();
        var imcs = m1.Run("dotnet", [Beside("imcs.dll"), "-m"], TimeSpan.FromSeconds(60), environment);
        Console.WriteLine($"demo: imcs -m on {m1.Name}:");
        Console.Write(imcs.Stdout);
        Console.WriteLine("demo: taking the machines down");
        return alpha.ExitCode != 0 ? alpha.ExitCode : beta.ExitCode;

        Process StartHost(SimulatedMachine on, string role, string host)
        {
            var env = new Dictionary<string, string?>(environment) { ["IMC_HOST"] = host };
            var process = on.Start("dotnet", [Beside("imc-demo-machines.dll"), role], env);
            _ = Task.Run(() => Relay(process.StandardOutput));
            _ = Task.Run(() => Relay(process.StandardError));
            return process;
        }
    }
}

static async Task Relay(StreamReader reader)
{
    while (await reader.ReadLineAsync() is { } line)
    {
        Console.WriteLine(line);
    }
}

static string Beside(string file) => Path.Combine(AppContext.BaseDirectory, file);

static int RunAlpha()
{
    using var context = ImcContext.Open();
    using var ping = context.AllocateRegion(PingKey, RegionSize);
    using var pong = context.AllocateRegion(PongKey, RegionSize);
    using var pongRx = pong.AttachReceive();
    using var pingTx = ping.AttachTransmit();
    Console.WriteLine($"alpha: pid {context.ProcessId} on machine {Environment.GetEnvironmentVariable("IMC_MACHINE")}; hosts {string.Join(", ", context.GetClusterInfo().Hosts)}");
    WaitFor(pongRx, Sequence, 1, "beta to attach");
    var betaPid = pongRx.Read<int>(Pid);

    var greeting = Encoding.UTF8.GetBytes($"hello from alpha on {Environment.GetEnvironmentVariable("IMC_MACHINE")}");
    pingTx.Write(GreetingLength, greeting.Length);
    pingTx.Write(Greeting, greeting);
    pingTx.Write(GreetingFlag, 1UL); // after the data: a receiver sees the data before the flag, across machines too
    WaitFor(pongRx, GreetingFlag, 1, "beta's answer");
    var reply = new byte[pongRx.Read<int>(GreetingLength)];
    pongRx.Read(Greeting, reply);
    Console.WriteLine($"alpha: beta answered \"{Encoding.UTF8.GetString(reply)}\"");

    var signalled = new long[Signals];
    for (var i = 1; i <= Signals; i++)
    {
        var start = Stopwatch.GetTimestamp();
        context.Kill("beta", betaPid, SigUsr1);
        WaitFor(pongRx, SignalsSeen, (ulong)i, $"beta's handler to see signal {i}");
        signalled[i - 1] = Stopwatch.GetTimestamp() - start;
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"alpha: sent SIGUSR1 to beta's pid {betaPid} on the other machine {Signals} times; its handler answered each, p50 {Microseconds(signalled, 0.5):0} us"));
    pingTx.Write(SignalsDone, 1UL);

    var samples = new long[RoundTrips];
    for (var i = 0; i < RoundTrips; i++)
    {
        var sequence = (ulong)i + 2;
        var start = Stopwatch.GetTimestamp();
        pingTx.Write(Sequence, sequence);
        while (pongRx.Read<ulong>(Sequence) != sequence)
        {
        }

        samples[i] = Stopwatch.GetTimestamp() - start;
    }

    pingTx.Write(Sequence, Stop);
    var measured = samples[(RoundTrips / 2)..];
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"alpha: {RoundTrips} round trips of an 8-byte write between the machines; one-way p50 {Microseconds(measured, 0.5) / 2:0.0} us, " +
        $"p99 {Microseconds(measured, 0.99) / 2:0.0} us"));
    return 0;
}

static int RunBeta()
{
    using var context = ImcContext.Open();
    using var ping = context.AllocateRegion(PingKey, RegionSize);
    using var pong = context.AllocateRegion(PongKey, RegionSize);
    using var pingRx = ping.AttachReceive();
    using var pongTx = pong.AttachTransmit();
    var signals = 0UL;
    using var onSignal = PosixSignalRegistration.Create((PosixSignal)SigUsr1, signal =>
    {
        signal.Cancel = true;
        pongTx.Write(SignalsSeen, Interlocked.Increment(ref signals));
    });
    // Announce until alpha is attached for receive: a write made before its attach would not reach it.
    while (pingRx.Read<ulong>(GreetingFlag) == 0)
    {
        pongTx.Write(Pid, (ulong)context.ProcessId);
        pongTx.Write(Sequence, 1UL);
        Thread.Sleep(1);
    }

    var greeting = new byte[pingRx.Read<int>(GreetingLength)];
    pingRx.Read(Greeting, greeting);
    Console.WriteLine($"beta:  pid {context.ProcessId} on machine {Environment.GetEnvironmentVariable("IMC_MACHINE")} read \"{Encoding.UTF8.GetString(greeting)}\"");
    var answer = Encoding.UTF8.GetBytes($"hello from beta on {Environment.GetEnvironmentVariable("IMC_MACHINE")}");
    pongTx.Write(GreetingLength, answer.Length);
    pongTx.Write(Greeting, answer);
    pongTx.Write(GreetingFlag, 1UL);

    WaitFor(pingRx, SignalsDone, 1, "the end of the signals");
    ulong last = 1;
    while (true)
    {
        var sequence = pingRx.Read<ulong>(Sequence);
        if (sequence == last)
        {
            continue;
        }

        if (sequence == Stop)
        {
            Console.WriteLine($"beta:  handled {Interlocked.Read(ref signals)} signal(s); leaving");
            return 0;
        }

        pongTx.Write(Sequence, sequence);
        last = sequence;
    }
}

static double Microseconds(long[] ticks, double quantile)
{
    var sorted = ticks.Order().ToArray();
    return sorted[(int)(quantile * (sorted.Length - 1))] * 1e6 / Stopwatch.Frequency;
}

static void WaitFor(ImcReceiveWindow window, long offset, ulong value, string what)
{
    var watch = Stopwatch.StartNew();
    while (window.Read<ulong>(offset) < value)
    {
        if (watch.Elapsed > TimeSpan.FromSeconds(60))
        {
            throw new TimeoutException($"gave up waiting for {what}");
        }

        Thread.Sleep(0);
    }
}
