// The README's first command: two emulated hosts on this machine exchange data through the Memory Channel
// emulation, on the embedded default (a cluster under IMC_ROOT, initialised on first use: nothing to set up).
//
//   dotnet run --project examples/Interconnect.Demo
//
// Host "alpha" (this process) and host "beta" (a child process of this program) each allocate three regions:
// "ping" (alpha transmits, beta receives), "pong" (beta transmits, alpha receives) and "counter" (coherent: both
// transmit, both receive), and lock set "counter-lock". Alpha creates the lock set with IMC_CREATOR, so it holds its
// lock 0 from the start and initialises the counter before anyone else can touch it. Then:
//   1. alpha sends a greeting through "ping"; beta answers through "pong";
//   2. both add to the shared counter under lock 0, racing each other; the counter must end at the sum;
//   3. alpha signals beta's process with imc_kill (SIGUSR1); beta's handler answers through "pong";
//   4. alpha times round trips of an 8-byte sequence number; beta echoes each one back.
// Each step prints what happened and the latency alpha saw. The cluster is removed at the end.

using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Interconnect.Imc;

const int PingKey = 1001;
const int PongKey = 1002;
const int CounterKey = 1003;
const int CounterLockKey = 1004;
const long RegionSize = 8192;
const int RoundTrips = 200_000;
const int Increments = 20_000;
const int Signals = 20;
const int SigUsr1 = 10; // Linux; PosixSignal names only the portable signals, raw numbers cast to it work too
const ulong Stop = ulong.MaxValue;

// "ping", written by alpha.
const long PingSequence = 0;     // the round-trip sequence number, or Stop
const long PingGreetingFlag = 8; // 1 once the greeting is complete
const long PingGreetingLength = 16;
const long PingCountNow = 24;    // 1: start adding to the counter
const long PingSignalsDone = 32; // 1: the signals are over, round trips next
const long PingGreeting = 64;
// "pong", written by beta.
const long PongSequence = 0;     // the echo; 1 once beta is attached
const long PongGreetingFlag = 8;
const long PongGreetingLength = 16;
const long PongPid = 24;         // beta's pid, for imc_kill
const long PongSignals = 32;     // how many signals beta's handler has seen
const long PongCounting = 40;    // 1 once beta starts its increments, 2 once it has done them
const long PongGreeting = 64;
// "counter", coherent, written by both under lock 0.
const long CounterValue = 0;
const long CounterHolder = 8;    // who added last: 1 alpha, 2 beta

if (args.Length > 0 && args[0] == "--peer")
{
    return RunBeta();
}

var cluster = $"demo-{Environment.ProcessId}";
Environment.SetEnvironmentVariable("IMC_CLUSTER", cluster);
Environment.SetEnvironmentVariable("IMC_AUTO_INIT", "1");
var root = Environment.GetEnvironmentVariable("IMC_ROOT") is { Length: > 0 } r ? r : "/dev/shm/imc";
try
{
    return RunAlpha();
}
finally
{
    ImcControl.DestroyCluster();
    Console.WriteLine($"alpha: removed cluster '{cluster}' from {root}");
}

int RunAlpha()
{
    using var context = ImcContext.Open(new ImcOptions { Host = "alpha" });
    Console.WriteLine($"alpha: pid {context.ProcessId} joined cluster '{cluster}' under {root} (auto-initialised)");
    using var ping = context.AllocateRegion(PingKey, RegionSize);
    using var pong = context.AllocateRegion(PongKey, RegionSize);
    using var counter = context.AllocateRegion(CounterKey, RegionSize, flags: ImcRegionFlags.Coherent);
    using var pongRx = pong.AttachReceive();
    using var pingTx = ping.AttachTransmit();
    using var counterTx = counter.AttachTransmit();
    using var counterRx = counter.AttachReceive();

    // IMC_CREATOR: alpha is first, so it creates the set holding lock 0 and initialises what the lock guards.
    if (!context.TryCreateLockSet(CounterLockKey, 1, ImcLockPermissions.User, out var created))
    {
        throw new InvalidOperationException($"lock set {CounterLockKey} exists already in a fresh cluster");
    }

    using var counterLock = created;
    counterTx.Write(CounterValue, 0L);
    counterTx.Write(CounterHolder, 0L);
    counterLock.Release(0);
    Console.WriteLine($"alpha: created lock set {CounterLockKey} holding its lock 0 (IMC_CREATOR), initialised the " +
        $"shared counter in coherent region {CounterKey}, released the lock");

    using var beta = StartBeta();
    try
    {
        return Exchange(context, beta, pingTx, pongRx, counterTx, counterRx, counterLock);
    }
    finally
    {
        if (!beta.HasExited)
        {
            beta.Kill(); // alpha gave up on something: do not leave beta spinning
        }
    }
}

int Exchange(ImcContext context, Process beta, ImcTransmitWindow pingTx, ImcReceiveWindow pongRx,
    ImcTransmitWindow counterTx, ImcReceiveWindow counterRx, ImcLockSet counterLock)
{
    WaitFor(pongRx, PongSequence, 1, "beta to attach", beta);
    var betaPid = pongRx.Read<int>(PongPid);
    Console.WriteLine($"alpha: beta (pid {betaPid}) is attached; sending a greeting through region 'ping'");

    // 1. A greeting: the data first, then the valid flag; the receiver sees the data before the flag.
    var greeting = Encoding.UTF8.GetBytes($"hello from alpha, pid {context.ProcessId}");
    pingTx.Write(PingGreetingLength, greeting.Length);
    pingTx.Write(PingGreeting, greeting);
    pingTx.Write(PingGreetingFlag, 1UL);
    WaitFor(pongRx, PongGreetingFlag, 1, "beta to read the greeting", beta);
    var reply = new byte[pongRx.Read<int>(PongGreetingLength)];
    pongRx.Read(PongGreeting, reply);
    Console.WriteLine($"alpha: beta answered \"{Encoding.UTF8.GetString(reply)}\"");

    // 2. Both hosts add to the counter under lock 0, at the same time.
    pingTx.Write(PingCountNow, 1UL);
    WaitFor(pongRx, PongCounting, 1, "beta to start adding", beta);
    var acquire = new long[Increments];
    var handOffs = 0;
    for (var i = 0; i < Increments; i++)
    {
        var start = Stopwatch.GetTimestamp();
        counterLock.Acquire(0);
        acquire[i] = Stopwatch.GetTimestamp() - start;
        handOffs += AddOne(counterTx, counterRx, 1) == 2 ? 1 : 0;
        counterLock.Release(0);
    }

    WaitFor(pongRx, PongCounting, 2, "beta to finish adding", beta);
    var total = counterRx.Read<long>(CounterValue);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"alpha: alpha and beta each added {Increments} to the shared counter under lock 0: it reads {total} " +
        $"(expected {2 * Increments}); the lock passed from beta to alpha {handOffs} time(s); alpha's acquire took " +
        $"p50 {Nanoseconds(acquire, 0.5):0} ns, p99 {Nanoseconds(acquire, 0.99):0} ns"));
    if (total != 2 * Increments)
    {
        Console.Error.WriteLine("alpha: the counter lost updates: the lock did not exclude");
        return 1;
    }

    // 3. Cluster signals: imc_kill to beta's process; its handler answers through "pong".
    var signalled = new long[Signals];
    for (var i = 1; i <= Signals; i++)
    {
        var start = Stopwatch.GetTimestamp();
        context.Kill("beta", betaPid, SigUsr1);
        WaitFor(pongRx, PongSignals, (ulong)i, $"beta's handler to see signal {i}", beta);
        signalled[i - 1] = Stopwatch.GetTimestamp() - start;
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"alpha: sent SIGUSR1 to beta's pid {betaPid} {Signals} times with imc_kill; beta's handler answered each: " +
        $"from the call to the answer p50 {Nanoseconds(signalled, 0.5) / 1000:0.0} us, max {Nanoseconds(signalled, 1) / 1000:0.0} us"));
    pingTx.Write(PingSignalsDone, 1UL);

    // 4. Round trips of an 8-byte write.
    var samples = new long[RoundTrips];
    for (var i = 0; i < RoundTrips; i++)
    {
        var sequence = (ulong)i + 2;
        var start = Stopwatch.GetTimestamp();
        pingTx.Write(PingSequence, sequence);
        while (pongRx.Read<ulong>(PongSequence) != sequence)
        {
        }

        samples[i] = Stopwatch.GetTimestamp() - start;
    }

    pingTx.Write(PingSequence, Stop);
    if (!beta.WaitForExit(10_000))
    {
        beta.Kill();
    }

    // The first half warms the JIT up; report the second half.
    var measured = samples[(RoundTrips / 2)..];
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"alpha: {RoundTrips} round trips of an 8-byte write; one-way latency over the last {measured.Length}: " +
        $"p50 {Nanoseconds(measured, 0.5) / 2:0} ns, p99 {Nanoseconds(measured, 0.99) / 2:0} ns, " +
        $"p99.9 {Nanoseconds(measured, 0.999) / 2:0} ns"));

    // The imcs view of the cluster before it is removed: the regions, the lock set and the rail usage of this run.
    PrintImcsView();

    return beta.ExitCode;
}

// Runs the imcs command (built beside this program) against this run's cluster, and prints what it shows.
static void PrintImcsView()
{
    var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true };
    info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "imcs.dll"));
    info.ArgumentList.Add("-f");
    using var imcs = Process.Start(info)!;
    var view = imcs.StandardOutput.ReadToEnd();
    imcs.WaitForExit();
    Console.WriteLine("alpha: the cluster as 'imcs -f' shows it:");
    Console.Write(view);
}

int RunBeta()
{
    using var context = ImcContext.Open(new ImcOptions { Host = "beta" });
    using var ping = context.AllocateRegion(PingKey, RegionSize);
    using var pong = context.AllocateRegion(PongKey, RegionSize);
    using var counter = context.AllocateRegion(CounterKey, RegionSize, flags: ImcRegionFlags.Coherent);
    using var pingRx = ping.AttachReceive();
    using var pongTx = pong.AttachTransmit();
    using var counterTx = counter.AttachTransmit();
    using var counterRx = counter.AttachReceive(); // coherent: shows the counter alpha initialised before beta came
    using var counterLock = context.AllocateLockSet(CounterLockKey, 1);

    // The handler runs on a thread of the runtime; windows may be used from several threads.
    var signals = 0UL;
    using var onSignal = PosixSignalRegistration.Create((PosixSignal)SigUsr1, signal =>
    {
        signal.Cancel = true; // handled: do not terminate
        pongTx.Write(PongSignals, Interlocked.Increment(ref signals));
    });

    pongTx.Write(PongPid, context.ProcessId);
    pongTx.Write(PongSequence, 1UL); // attached: alpha may send

    WaitFor(pingRx, PingGreetingFlag, 1, "the greeting", null);
    var greeting = new byte[pingRx.Read<int>(PingGreetingLength)];
    pingRx.Read(PingGreeting, greeting);
    Console.WriteLine($"beta:  pid {context.ProcessId} received \"{Encoding.UTF8.GetString(greeting)}\"");
    var answer = Encoding.UTF8.GetBytes($"hello from beta, pid {context.ProcessId}");
    pongTx.Write(PongGreetingLength, answer.Length);
    pongTx.Write(PongGreeting, answer);
    pongTx.Write(PongGreetingFlag, 1UL);

    WaitFor(pingRx, PingCountNow, 1, "the start of the counting", null);
    pongTx.Write(PongCounting, 1UL);
    for (var i = 0; i < Increments; i++)
    {
        counterLock.Acquire(0);
        AddOne(counterTx, counterRx, 2);
        counterLock.Release(0);
    }

    pongTx.Write(PongCounting, 2UL);

    // While alpha sends signals, wait without holding a core: the handler needs one to run on.
    WaitFor(pingRx, PingSignalsDone, 1, "the end of the signals", null);

    ulong last = 1;
    while (true)
    {
        var sequence = pingRx.Read<ulong>(PingSequence);
        if (sequence == last)
        {
            continue;
        }

        if (sequence == Stop)
        {
            Console.WriteLine($"beta:  handled {Interlocked.Read(ref signals)} signal(s); leaving");
            return 0;
        }

        pongTx.Write(PongSequence, sequence);
        last = sequence;
    }
}

// Adds one to the counter (the caller holds lock 0) and returns who had added before. The new value is read back
// from receive memory before the lock is released, so that the next holder, on any host, reads it (manual 10.6.5).
static long AddOne(ImcTransmitWindow tx, ImcReceiveWindow rx, long me)
{
    var previous = rx.Read<long>(CounterHolder);
    var value = rx.Read<long>(CounterValue) + 1;
    tx.Write(CounterHolder, me);
    tx.Write(CounterValue, value);
    while (rx.Read<long>(CounterValue) != value)
    {
    }

    return previous;
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

static double Nanoseconds(long[] ticks, double quantile)
{
    var sorted = ticks.Order().ToArray();
    return sorted[(int)(quantile * (sorted.Length - 1))] * 1e9 / Stopwatch.Frequency;
}

// Waits until a flag reaches a value. Every flag here only grows, and may pass a value between two looks (beta can
// start and finish its increments before alpha looks), so "reached" is "at least".
static void WaitFor(ImcReceiveWindow window, long offset, ulong value, string what, Process? peer)
{
    var watch = Stopwatch.StartNew();
    while (window.Read<ulong>(offset) < value)
    {
        if (watch.Elapsed > TimeSpan.FromSeconds(30) || peer is { HasExited: true })
        {
            throw new TimeoutException($"gave up waiting for {what}");
        }

        Thread.Sleep(0);
    }
}
