using System.Diagnostics;
using System.Globalization;
using Interconnect.Driver;
using Interconnect.Driver.Store;
using Interconnect.Imc;

namespace Interconnect.TestPeer;

/// <summary>
/// A scriptable peer for cross-process tests: it reads one command per line on stdin and answers one line on
/// stdout, "ok [values]" or "err Status message". The test decides the host (IMC_HOST) and cluster (IMC_ROOT,
/// IMC_CLUSTER) through the environment, and kills the peer when it wants a crash.
/// </summary>
internal static class Program
{
    private static readonly Dictionary<int, ImcRegion> s_regions = [];
    private static readonly Dictionary<int, ImcTransmitWindow> s_transmit = [];
    private static readonly Dictionary<int, ImcReceiveWindow> s_receive = [];
    private static readonly Dictionary<int, ImcLockSet> s_locks = [];
    private static ImcContext? s_context;
    private static Churn? s_churn;
    private static int s_signals;
    private static System.Runtime.InteropServices.PosixSignalRegistration? s_signalRegistration;

    private static int Main(string[] args)
    {
        if (args is ["--ucx-bench", ..])
        {
            return UcxBench.Run(args.Length > 1 ? Int(args[1]) : 20_000);
        }

        Console.Out.Flush();
        string? line;
        while ((line = Console.ReadLine()) is not null)
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 0)
            {
                continue;
            }

            if (words[0] == "exit")
            {
                Reply("ok");
                return 0;
            }

            try
            {
                Reply("ok " + Execute(words));
            }
            catch (ImcException e)
            {
                Reply($"err {e.Status} {OneLine(e.Message)}");
            }
            catch (DriverException e)
            {
                Reply($"err {e.Status} {OneLine(e.Message)}");
            }
            catch (Exception e) when (e is ArgumentException or ObjectDisposedException or InvalidOperationException or
                KeyNotFoundException or OperationCanceledException)
            {
                Reply($"err {e.GetType().Name} {OneLine(e.Message)}");
            }
        }

        return 0;
    }

    private static string Execute(string[] w)
    {
        if (w[0].StartsWith("ucx-", StringComparison.Ordinal))
        {
            return UcxPeer.Execute(w);
        }

        switch (w[0])
        {
            case "open":
                s_context = ImcContext.Open();
                return $"{s_context.ProcessId} {s_context.HostName}";
            case "open-with":
                // open-with root cluster host auto: each "-" for null (the environment or the default decides)
                s_context = ImcContext.Open(new ImcOptions
                {
                    Root = OrNull(w[1]),
                    Cluster = OrNull(w[2]),
                    Host = OrNull(w[3]),
                    AutoInitialize = w[4] == "-" ? null : w[4] == "1",
                });
                return $"{s_context.ProcessId} {s_context.HostName} {s_context.ClusterDirectory}";
            case "hosts":
                return string.Join(',', Context.GetClusterInfo().Hosts);
            case "close":
                Context.Dispose();
                s_context = null;
                return "";
            case "alloc":
                s_regions[Int(w[1])] = Context.AllocateRegion(Int(w[1]), Long(w[2]),
                    w.Length > 3 ? (ImcPermissions)Convert.ToInt32(w[3], 8) : ImcPermissions.UserReadWrite,
                    w.Length > 4 && w[4] == "1" ? ImcRegionFlags.Coherent : ImcRegionFlags.None,
                    w.Length > 5 ? Int(w[5]) : 0);
                return "";
            case "tx":
                s_transmit[Int(w[1])] = s_regions[Int(w[1])].AttachTransmit(
                    w.Length > 3 && w[3] == "1" ? ImcShareMode.NonShared : ImcShareMode.Shared,
                    w.Length > 2 && w[2] == "1" ? ImcAttachFlags.Loopback : ImcAttachFlags.None);
                return "";
            case "ptp":
                s_transmit[Int(w[1])] = s_regions[Int(w[1])].AttachTransmitTo(w[2],
                    w.Length > 3 && w[3] == "1" ? ImcShareMode.NonShared : ImcShareMode.Shared);
                return "";
            case "rx":
                s_receive[Int(w[1])] = s_regions[Int(w[1])].AttachReceive(
                    w.Length > 2 && w[2] == "1" ? ImcShareMode.NonShared : ImcShareMode.Shared);
                return "";
            case "detach":
                s_regions[Int(w[1])].Detach();
                s_transmit.Remove(Int(w[1]));
                s_receive.Remove(Int(w[1]));
                return "";
            case "dealloc":
                s_regions[Int(w[1])].Deallocate();
                s_regions.Remove(Int(w[1]));
                return "";
            case "write64":
                s_transmit[Int(w[1])].Write(Long(w[2]), ulong.Parse(w[3], CultureInfo.InvariantCulture));
                return "";
            case "read64":
                return s_receive[Int(w[1])].Read<ulong>(Long(w[2])).ToString(CultureInfo.InvariantCulture);
            case "wait64":
                return Wait64(Int(w[1]), Long(w[2]), ulong.Parse(w[3], CultureInfo.InvariantCulture), Int(w[4]));
            case "wait64-at-least":
                return Wait64(Int(w[1]), Long(w[2]), ulong.Parse(w[3], CultureInfo.InvariantCulture), Int(w[4]), atLeast: true);
            case "stream-write":
                return StreamWrite(Int(w[1]), Int(w[2]));
            case "words-write":
                // words-write key count width span area ack-key readers window timeout-ms
                return WordStream.Write(s_transmit[Int(w[1])], Int(w[2]), Int(w[3]), w[4] == "1", Int(w[5]),
                    s_receive[Int(w[6])], Int(w[7]), Int(w[8]), Int(w[9]));
            case "words-read":
                // words-read key count width span areas ack-key reader timeout-ms
                return WordStream.Read(s_receive[Int(w[1])], Int(w[2]), Int(w[3]), w[4] == "1", [.. w[5].Split(',').Select(Int)],
                    s_transmit[Int(w[6])], Int(w[7]), Int(w[8]));
            case "detach-race":
                return Hardening.DetachRace(Context, Int(w[1]), Int(w[2]));
            case "hammer":
                return Hammer(Int(w[1]), Int(w[2]));
            case "join-cycles":
                return JoinCycles(Int(w[1]), Int(w[2]), Int(w[3]), w.Length > 4 ? Int(w[4]) : 0);
            case "verify-hammer":
                return VerifyHammer(Int(w[1]), Int(w[2]));
            case "lkalloc":
                s_locks[Int(w[1])] = Context.AllocateLockSet(Int(w[1]), Int(w[2]),
                    w.Length > 3 ? (ImcLockPermissions)Int(w[3]) : ImcLockPermissions.User);
                return "";
            case "lkcreate":
                if (Context.TryCreateLockSet(Int(w[1]), Int(w[2]), ImcLockPermissions.User, out var created))
                {
                    s_locks[Int(w[1])] = created;
                    return "created";
                }

                return "exists";
            case "acquire":
                s_locks[Int(w[1])].Acquire(Int(w[2]));
                return "";
            case "tryacquire":
                return s_locks[Int(w[1])].TryAcquire(Int(w[2])) ? "got" : "busy";
            case "release":
                s_locks[Int(w[1])].Release(Int(w[2]));
                return "";
            case "lkdealloc":
                s_locks[Int(w[1])].Deallocate();
                s_locks.Remove(Int(w[1]));
                return "";
            case "count-under-lock":
                return CountUnderLock(Int(w[1]), Int(w[2]), Int(w[3]));
            case "lkcount":
                return s_locks[Int(w[1])].Count.ToString(CultureInfo.InvariantCulture);
            case "lock-rtt":
                return LockRoundTrip(Int(w[1]), Int(w[2]));
            case "cpu-ms":
                return ((long)Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
            case "on-signal":
                s_signalRegistration = System.Runtime.InteropServices.PosixSignalRegistration.Create(
                    (System.Runtime.InteropServices.PosixSignal)Int(w[1]), context =>
                    {
                        context.Cancel = true;
                        Interlocked.Increment(ref s_signals);
                    });
                return "";
            case "signals":
                return Volatile.Read(ref s_signals).ToString(CultureInfo.InvariantCulture);
            case "wait-signals":
                return WaitSignals(Int(w[1]), Int(w[2]));
            case "kill":
                Context.Kill(w[1], Int(w[2]), Int(w[3]));
                return "";
            case "wait-host-event":
                return WaitHostEvent(Int(w[1]));
            case "ex3-send":
                return ErrorPatternSend(Int(w[1]), Int(w[2]), Int(w[3]), w.Length > 4 ? w[4] : "", retransmit: false);
            case "ex4-send":
                return ErrorPatternSend(Int(w[1]), Int(w[2]), Int(w[3]), w.Length > 4 ? w[4] : "", retransmit: true);
            case "ex3-receive":
                return ErrorPatternReceive(Int(w[1]), Int(w[2]), Int(w[3]), Int(w[4]), waitForWhole: false);
            case "ex4-receive":
                return ErrorPatternReceive(Int(w[1]), Int(w[2]), Int(w[3]), Int(w[4]), waitForWhole: true);
            case "error-count":
                return Context.ReadErrorCount(Int(w[1])).ToString(CultureInfo.InvariantCulture);
            case "churn":
                // Runs random operations until the test kills this process; answers once it has started.
                s_churn = new Churn(Context, Int(w[1]), w[2].Split(','), static line => Reply("ok " + line));
                Reply("ok churning");
                s_churn.Run(long.MaxValue, static () => false, pauseEvery: 32);
                return s_churn.Report();
            case "storm":
                var storm = new Churn(Context, Int(w[1]), w[3].Split(','));
                storm.Run(Int(w[2]), static () => false);
                storm.Release();
                return storm.Report();
            case "try-open":
                return TryOpen(w[1]);
            case "hold-directory":
                HoldDirectory();
                return "";
            case "nic-flush":
                var flushWatch = Stopwatch.StartNew();
                var flushed = Interconnect.Driver.Directory.Directories.ProcessFabric.Value.FlushAll();
                return $"flushed={flushed} ms={flushWatch.ElapsedMilliseconds}";
            case "nic-stats":
                return Interconnect.Driver.Directory.Directories.ProcessFabric.IsValueCreated
                    ? $"refused={Interconnect.Driver.Directory.Directories.ProcessFabric.Value.Refused}"
                    : "not started";
            case "seq-write":
                return Faults.SequenceWrite(s_transmit[Int(w[1])], Int(w[2]), w.Length > 3 ? Long(w[3]) : 0);
            case "seq-check":
                return Faults.SequenceCheck(s_receive[Int(w[1])], Int(w[2]), w.Length > 3 ? Long(w[3]) : 0);
            case "pattern-write":
                return Faults.PatternWrite(s_transmit[Int(w[1])], Int(w[2]), Int(w[3]));
            case "pattern-check":
                return Faults.PatternCheck(s_receive[Int(w[1])], Int(w[2]), Int(w[3]));
            case "etcd-keys":
                return EtcdKeys(w[1]);
            case "bg-write":
                return Faults.StartBackgroundWrites(s_transmit[Int(w[1])]);
            case "bg-count":
                return Faults.BackgroundWrites();
            case "bg-stop":
                return Faults.StopBackgroundWrites();
            case "socket-hold":
                return Hardening.HoldConnections(w[1], Int(w[2]));
            case "socket-release":
                return Hardening.ReleaseConnections();
            case "count-for":
                return Faults.CountFor(s_locks[Int(w[1])], s_transmit[Int(w[2])], s_receive[Int(w[2])], Int(w[3]));
            default:
                throw new ArgumentException($"unknown command '{w[0]}'");
        }
    }

    /// <summary>
    /// Streams <paramref name="count"/> messages as fast as it can, two writes each: a payload of 8 to 4096 bytes whose
    /// every word is the message number, at offset 64, then the flag (the number) at offset 0. No reader paces it.
    /// </summary>
    private static string StreamWrite(int key, int count)
    {
        var window = s_transmit[key];
        var payload = new ulong[4096 / 8];
        for (long i = 1; i <= count; i++)
        {
            var length = (int)(8 + (i * 7919 % 4089)) & ~7;
            payload.AsSpan(0, length / 8).Fill((ulong)i);
            window.Write(64, System.Runtime.InteropServices.MemoryMarshal.AsBytes(payload.AsSpan(0, length / 8)));
            window.Write(0, (ulong)i);
        }

        return count.ToString(CultureInfo.InvariantCulture);
    }

    private static ImcContext Context => s_context ?? throw new InvalidOperationException("no context: send 'open' first");

    private static string Wait64(int key, long offset, ulong expected, int timeoutMs, bool atLeast = false)
    {
        var window = s_receive[key];
        var watch = Stopwatch.StartNew();
        ulong seen;
        while ((seen = window.Read<ulong>(offset)) != expected && !(atLeast && seen > expected))
        {
            if (watch.ElapsedMilliseconds > timeoutMs)
            {
                throw new ImcException(ImcStatus.Timeout, $"offset {offset} holds {seen}, waited for {expected}");
            }

            Thread.Yield();
        }

        return seen.ToString(CultureInfo.InvariantCulture);
    }

    // The coherent hammer (in an 8192-byte region): word (i % 512) + 1 takes i, then the counter, in the region's last
    // word (so a copy of the region reads it last), takes i, for i = 1..count.
    private const long CounterOffset = 8192 - 8;

    private static string Hammer(int key, int count)
    {
        var window = s_transmit[key];
        for (long i = 1; i <= count; i++)
        {
            window.Write(8 * (1 + (i % 512)), (ulong)i);
            window.Write(CounterOffset, (ulong)i);
        }

        return count.ToString(CultureInfo.InvariantCulture);
    }

    // Attaches and detaches a coherent region over and over until the hammer's counter reaches its target, checking
    // each time that the copy it got is exact: no word newer than the counter, none older than its last write. A pause
    // between cycles lets the writer through (a join holds the region's write lock while it is applied everywhere).
    private static string JoinCycles(int key, int target, int timeoutMs, int pauseMs)
    {
        var region = s_regions[key];
        var watch = Stopwatch.StartNew();
        long violations = 0;
        long cycles = 0;
        long midway = 0;
        string? first = null;
        var words = new ulong[512];
        ulong counter = 0;
        while (counter < (ulong)target && watch.ElapsedMilliseconds < timeoutMs)
        {
            if (pauseMs > 0 && cycles > 0)
            {
                Thread.Sleep(pauseMs);
            }

            using var window = region.AttachReceive();
            counter = window.Read<ulong>(CounterOffset);
            for (var k = 0; k < 512; k++)
            {
                words[k] = window.Read<ulong>(8 * (1 + k));
            }

            var after = window.Read<ulong>(CounterOffset);
            cycles++;
            if (counter > 0 && counter < (ulong)target)
            {
                midway++;
            }

            for (var k = 0; k < 512; k++)
            {
                var v = words[k];
                // A word is never written with a value of another word's residue, nor ahead of the counter by more
                // than the one write in flight.
                if (v != 0 && (v % 512 != (ulong)k || v > after + 1))
                {
                    violations++;
                    first ??= $"cycle {cycles}: word {k} = {v}, counter {counter}..{after}";
                }

                // The newest write to word k that is not newer than the counter must be there: nothing lost.
                var expectedAtLeast = counter >= (ulong)k ? counter - ((counter - (ulong)k) % 512) : 0;
                if (v < expectedAtLeast)
                {
                    violations++;
                    first ??= $"cycle {cycles}: word {k} = {v}, expected at least {expectedAtLeast} (counter {counter})";
                }
            }
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"cycles={cycles} midway={midway} violations={violations} first={first ?? "none"}");
    }

    private static string VerifyHammer(int key, int count)
    {
        var window = s_receive[key];
        var mismatches = 0;
        for (var k = 0; k < 512; k++)
        {
            var expected = (ulong)(count - ((count - k) % 512 + 512) % 512);
            if (expected > (ulong)count || expected == 0)
            {
                expected = 0;
            }

            if (window.Read<ulong>(8 * (1 + k)) != expected)
            {
                mismatches++;
            }
        }

        return string.Create(CultureInfo.InvariantCulture, $"counter={window.Read<ulong>(CounterOffset)} mismatches={mismatches}");
    }

    // Adds 1 to the counter at offset 0 of a coherent region, under lock 0 of a lock set, n times.
    private static string CountUnderLock(int lockKey, int regionKey, int times)
    {
        var locks = s_locks[lockKey];
        var tx = s_transmit[regionKey];
        var rx = s_receive[regionKey];
        for (var i = 0; i < times; i++)
        {
            locks.Acquire(0);
            tx.Write(0, rx.Read<ulong>(0) + 1);
            locks.Release(0);
        }

        return rx.Read<ulong>(0).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The keys under <paramref name="prefix"/> of this cluster in etcd (IMC_DIRECTORY), comma-separated.</summary>
    private static string EtcdKeys(string prefix)
    {
        var endpoints = Environment.GetEnvironmentVariable("IMC_DIRECTORY")
            ?? throw new InvalidOperationException("etcd-keys needs IMC_DIRECTORY");
        using var store = new Interconnect.Driver.Directory.Etcd.EtcdStore(endpoints,
            Environment.GetEnvironmentVariable("IMC_CLUSTER") ?? "default");
        return string.Join(',', store.List(prefix).Entries.Select(e => e.Key));
    }

    /// <summary>Acquire then release of lock 0, <paramref name="times"/> times: "p50 p99 mean" in µs.</summary>
    private static string LockRoundTrip(int lockKey, int times)
    {
        var locks = s_locks[lockKey];
        var samples = new double[times];
        for (var i = 0; i < times; i++)
        {
            var start = Stopwatch.GetTimestamp();
            locks.Acquire(0);
            locks.Release(0);
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        Array.Sort(samples);
        return string.Create(CultureInfo.InvariantCulture,
            $"{samples[times / 2]:0.0} {samples[Math.Min(times - 1, times * 99 / 100)]:0.0} {samples.Average():0.0}");
    }

    private static string WaitSignals(int count, int timeoutMs)
    {
        var watch = Stopwatch.StartNew();
        while (Volatile.Read(ref s_signals) < count)
        {
            if (watch.ElapsedMilliseconds > timeoutMs)
            {
                throw new ImcException(ImcStatus.Timeout, $"{s_signals} of {count} signals after {timeoutMs} ms");
            }

            Thread.Sleep(5);
        }

        return Volatile.Read(ref s_signals).ToString(CultureInfo.InvariantCulture);
    }

    private static string WaitHostEvent(int timeoutMs)
    {
        var info = Context.GetClusterInfo();
        using var timeout = new CancellationTokenSource(timeoutMs);
        Console.Out.WriteLine("ok waiting");
        Console.Out.Flush();
        var change = Context.WaitForClusterEventAsync(ImcClusterEvents.Host, info, timeout.Token).GetAwaiter().GetResult();
        return $"{change.Kind} {string.Join(',', change.Info.Hosts)}";
    }

    // The manual's error patterns (Examples 10-3 and 10-4). Message i: the error count read before sending at offset
    // 8, 64 payload words of value i from offset 64, then the flag i at offset 0; the receiver acks i in another
    // region. Drops are injected by this sender itself, just before chosen writes ("i:k;...", k = 0 count,
    // 1 payload, 2 flag), so the test knows which messages lost a write.
    private static string ErrorPatternSend(int key, int ackKey, int count, string points, bool retransmit)
    {
        var tx = s_transmit[key];
        var ack = s_receive[ackKey];
        var drops = points.Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split(':'))
            .ToLookup(p => Int(p[0]), p => Int(p[1]));
        var payload = new ulong[64];
        long retransmissions = 0;
        for (var i = 1; i <= count; i++)
        {
            void Write(int step, Action write)
            {
                if (drops[i].Contains(step))
                {
                    ImcControl.InjectErrors(0, 1, "beta");
                }

                write();
            }

            int errorCount;
            while ((errorCount = Context.ReadErrorCount(0)) < 0)
            {
            }

            payload.AsSpan().Fill((ulong)i);
            var first = true;
            do
            {
                if (!first)
                {
                    retransmissions++;
                    drops = drops.Where(g => g.Key != i).SelectMany(g => g.Select(k => (g.Key, k))).ToLookup(x => x.Key, x => x.k);
                }

                first = false;
                var sent = errorCount;
                var message = i;
                Write(0, () => tx.Write(8, sent));
                Write(1, () => tx.Write(64, System.Runtime.InteropServices.MemoryMarshal.AsBytes(payload.AsSpan())));
                Write(2, () => tx.Write(0, (ulong)message));
            }
            while (retransmit && Context.CheckErrorCount(ref errorCount, 0) != ImcStatus.Success);

            // Wait for the receiver's ack; a flag lost on the way is sent again.
            var watch = Stopwatch.StartNew();
            while (ack.Read<ulong>(0) != (ulong)i)
            {
                if (watch.ElapsedMilliseconds > 5)
                {
                    tx.Write(0, (ulong)i);
                    watch.Restart();
                }
            }
        }

        return string.Create(CultureInfo.InvariantCulture, $"sent={count} retransmissions={retransmissions}");
    }

    private static string ErrorPatternReceive(int key, int ackKey, int count, int timeoutMs, bool waitForWhole)
    {
        var rx = s_receive[key];
        var ack = s_transmit[ackKey];
        var watch = Stopwatch.StartNew();
        var flagged = new List<int>();
        long corruptAccepted = 0;
        long waits = 0;
        for (var i = 1; i <= count; i++)
        {
            while (true)
            {
                if (watch.ElapsedMilliseconds > timeoutMs)
                {
                    throw new ImcException(ImcStatus.Timeout, $"message {i} of {count} did not arrive in {timeoutMs} ms");
                }

                if (rx.Read<ulong>(0) != (ulong)i)
                {
                    continue;
                }

                int errorCount;
                while ((errorCount = Context.ReadErrorCount(0)) < 0)
                {
                }

                var sent = rx.Read<int>(8);
                var whole = true;
                for (var j = 0; j < 64; j++)
                {
                    whole &= rx.Read<ulong>(64 + (8 * j)) == (ulong)i;
                }

                if (waitForWhole)
                {
                    // Example 10-4's receiver: a message counts once it is whole and its count says no error;
                    // until then the sender is retransmitting it.
                    if (errorCount == sent && whole)
                    {
                        break;
                    }

                    waits++;
                    continue;
                }

                // Example 10-3's receiver: judge the message by the count alone, once.
                if (errorCount != sent)
                {
                    flagged.Add(i);
                }
                else if (!whole)
                {
                    corruptAccepted++; // the count said "no error" but the data was not whole: the pattern failed
                }

                break;
            }

            ack.Write(0, (ulong)i);
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"received={count} corrupt_accepted={corruptAccepted} waits={waits} flagged={string.Join(',', flagged)}");
    }

    /// <summary>Opens a file directly, bypassing the library: what the operating system allows this user.</summary>
    private static string TryOpen(string path)
    {
        try
        {
            using var stream = File.Open(path, FileMode.Open, FileAccess.Read);
            return "opened";
        }
        catch (UnauthorizedAccessException)
        {
            return "denied";
        }
    }

    private static void HoldDirectory()
    {
        var paths = ClusterPaths.Resolve();
        var cluster = Cluster.Open(paths);
        _ = cluster.EnterDirectory(); // never released: the test kills this process while it holds the lock
    }

    private static string? OrNull(string s) => s == "-" ? null : s;

    private static int Int(string s) => int.Parse(s, CultureInfo.InvariantCulture);

    private static long Long(string s) => long.Parse(s, CultureInfo.InvariantCulture);

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");

    private static void Reply(string line)
    {
        Console.Out.WriteLine(line.TrimEnd());
        Console.Out.Flush();
    }
}
