using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using Interconnect.Imc;
using Interconnect.Latency.Protocol;
using Interconnect.Latency.Reporting;
using Interconnect.Latency.Transports;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// The processes of the across-machines scenario, each a host on a simulated machine (this program started with
/// <c>--peer</c> inside the machine's namespaces). The ping side (machine 1) and the echo side (machine 2) first
/// ping-pong 8 B through regions "ping" and "pong", then stream 64 KiB writes through a ring with a credit word; the
/// attach side allocates and receive-attaches one key per command and prints the time it took.
/// </summary>
internal static class MachinesPeers
{
    public const string Ping = "machines-ping";
    public const string Echo = "machines-echo";
    public const string Attach = "machines-attach";

    public const int PingKey = 1001;    // ping side transmits, echo side receives
    public const int PongKey = 1002;    // echo side transmits, ping side receives
    public const int RingKey = 1003;    // ping side streams into it, echo side receives
    public const int CreditKey = 1004;  // echo side writes how many chunks it consumed, ping side receives

    public const int Chunk = 65536;
    public const int Slots = 8;
    public const long HeadOffset = (long)Slots * Chunk;          // the count of chunks written, after the ring
    public const long RingSize = HeadOffset + 64;
    public const ulong StreamEnd = ulong.MaxValue;

    private static readonly TimeSpan s_command = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Machine 1's host: sets up, says "ready", waits for "go"; ping-pong (printing the round-trip histogram of each
    /// size as "bucket SIZE NS COUNT" lines and "warmup MS"), then --repeats timed streams of
    /// --chunks chunks after a warm-up stream (printing "stream BYTES NS" for each).
    /// </summary>
    public static long RunPing(Dictionary<string, string> values)
    {
        var sizes = values["--sizes"].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var samples = new long[Int(values, "--samples")];
        Array.Fill(samples, 1L);
        var plan = new MeasurePlan(TimeSpan.FromMilliseconds(Int(values, "--warmup-ms")), TimeSpan.FromSeconds(10),
            TimeSpan.FromMilliseconds(Int(values, "--duration-ms")), samples.Length);
        using var context = ImcContext.Open(ImcLayout.Options(values["--root"], values["--cluster"], values["--host"]));
        using var ping = context.AllocateRegion(PingKey, PingPongProtocol.MessageArea);
        using var pong = context.AllocateRegion(PongKey, PingPongProtocol.MessageArea);
        using var ring = context.AllocateRegion(RingKey, RingSize);
        using var credit = context.AllocateRegion(CreditKey, 4096);
        using var pongRx = pong.AttachReceive();
        using var creditRx = credit.AttachReceive();
        using var pingTx = ping.AttachTransmit();
        using var ringTx = ring.AttachTransmit();
        PeerMain.Ready();
        Expect("go");
        var parts = Parts(values);
        long jit = 0;
        if (parts.Contains("latency"))
        {
            jit = PingPong(values, pingTx, pongRx, plan, sizes, samples);
        }

        if (parts.Contains("stream"))
        {
            var chunks = Int(values, "--chunks");
            var stream = new Streamer(ringTx, creditRx);
            var fabric = Interconnect.Driver.Directory.Directories.ProcessFabric.Value;
            _ = stream.Run(Math.Max(chunks / 4, Slots * 4)); // warm-up
            for (var i = 0; i < Int(values, "--repeats"); i++)
            {
                var (puts, waited, waitTicks) = fabric.SendCounters();
                var elapsed = stream.Run(chunks);
                Console.WriteLine(FormattableString.Invariant($"stream {(long)chunks * Chunk} {elapsed}"));
                var (putsNow, waitedNow, waitTicksNow) = fabric.SendCounters();
                Console.WriteLine(FormattableString.Invariant(
                    $"streamucx {putsNow - puts} {waitedNow - waited} {Ticks.ToNanoseconds(waitTicksNow - waitTicks)}"));
                Console.WriteLine(FormattableString.Invariant(
                    $"streamparts {Ticks.ToNanoseconds(stream.ChunkTicks)} {Ticks.ToNanoseconds(stream.HeadTicks)} {Ticks.ToNanoseconds(stream.CreditTicks)}"));
            }

            ringTx.Write(HeadOffset, StreamEnd);
        }

        return jit;
    }

    /// <summary>The parts the round runs (--parts: latency, stream; both when not given).</summary>
    private static string[] Parts(Dictionary<string, string> values) =>
        values.TryGetValue("--parts", out var parts) ? parts.Split(',') : ["latency", "stream"];

    /// <summary>The ping side's 8-byte writes and ping-pong; returns the methods compiled while measuring.</summary>
    private static long PingPong(Dictionary<string, string> values, ImcTransmitWindow pingTx, ImcReceiveWindow pongRx,
        MeasurePlan plan, int[] sizes, long[] samples)
    {
        // The writer's own cost of one 8-byte write to a host on the other machine (the payload word only: the echo
        // side waits for a flag, so these land unseen), before the ping-pong.
        var writes = new long[Math.Min(samples.Length, 5000)];
        for (var i = 0; i < writes.Length * 2; i++)
        {
            var start = Stopwatch.GetTimestamp();
            pingTx.Write(0, (ulong)i);
            writes[i % writes.Length] = Stopwatch.GetTimestamp() - start;
        }

        foreach (var (value, count) in Ticks.ToHistogram(writes, writes.Length).Buckets())
        {
            Console.WriteLine(FormattableString.Invariant($"write 8 {value} {count}"));
        }

        var payload = new byte[PingPongProtocol.MessageArea];
        payload.AsSpan().Fill(PingPongProtocol.PayloadByte);
        var channel = new ImcPingChannel(pingTx, pongRx, payload);
        var result = PingPongDriver.Run(ref channel, sizes, plan, samples);
        foreach (var (size, histogram) in result.Histograms)
        {
            foreach (var (value, count) in histogram.Buckets())
            {
                Console.WriteLine(FormattableString.Invariant($"bucket {size} {value} {count}"));
            }
        }

        Console.WriteLine(FormattableString.Invariant($"warmup {result.Warmup.TotalMilliseconds:0} {result.MethodsCompiledWhileMeasuring}"));
        return result.MethodsCompiledWhileMeasuring;
    }

    /// <summary>Machine 2's host: echoes the ping-pong until Stop, then consumes the stream until its end.</summary>
    public static long RunEcho(Dictionary<string, string> values)
    {
        using var context = ImcContext.Open(ImcLayout.Options(values["--root"], values["--cluster"], values["--host"]));
        using var ping = context.AllocateRegion(PingKey, PingPongProtocol.MessageArea);
        using var pong = context.AllocateRegion(PongKey, PingPongProtocol.MessageArea);
        using var ring = context.AllocateRegion(RingKey, RingSize);
        using var credit = context.AllocateRegion(CreditKey, 4096);
        using var pingRx = ping.AttachReceive();
        using var ringRx = ring.AttachReceive();
        using var pongTx = pong.AttachTransmit();
        using var creditTx = credit.AttachTransmit();
        PeerMain.Ready();
        var parts = Parts(values);
        long jit = 0;
        if (parts.Contains("latency"))
        {
            var channel = new ImcEchoChannel(pingRx, pongTx);
            jit = EchoLoop.Run(ref channel, PingPongProtocol.Sizes[0]);
        }

        if (parts.Contains("stream"))
        {
            Consume(ringRx, creditTx);
        }

        return jit;
    }

    /// <summary>
    /// A host on any machine: for each line "key K" allocates region K (4 KiB) and attaches it for receive, and prints
    /// "took NS"; on "end" lets every region go.
    /// </summary>
    public static long RunAttach(Dictionary<string, string> values)
    {
        using var context = ImcContext.Open(ImcLayout.Options(values["--root"], values["--cluster"], values["--host"]));
        var held = new List<IDisposable>();
        try
        {
            PeerMain.Ready();
            string? line;
            while ((line = Console.In.ReadLine()) is not null && line != "end")
            {
                var key = int.Parse(line.AsSpan("key ".Length), CultureInfo.InvariantCulture);
                var start = Stopwatch.GetTimestamp();
                var region = context.AllocateRegion(key, 4096);
                var rx = region.AttachReceive();
                var took = Stopwatch.GetElapsedTime(start);
                held.Add(region);
                held.Add(rx);
                Console.WriteLine(FormattableString.Invariant($"took {(long)(took.TotalMilliseconds * 1e6)}"));
            }
        }
        finally
        {
            for (var i = held.Count - 1; i >= 0; i--)
            {
                held[i].Dispose();
            }
        }

        return JitInfo.GetCompiledMethodCount();
    }

    /// <summary>
    /// The stream's consumer: whenever the head (chunks written) moves, checks the stamps of each new chunk (its
    /// number in its first and last 8 bytes: a stale or torn chunk fails the run) and writes back how many it consumed.
    /// </summary>
    private static void Consume(ImcReceiveWindow ring, ImcTransmitWindow credit)
    {
        ulong consumed = 0;
        var spins = 0;
        long since = 0;
        while (true)
        {
            var head = ring.Read<ulong>(HeadOffset);
            if (head == StreamEnd)
            {
                return;
            }

            if (head == consumed)
            {
                if (++spins == Stall.CheckEvery)
                {
                    spins = 0;
                    Stall.Check(ref since, "the next stream chunk");
                }

                continue;
            }

            since = 0;
            for (; consumed < head; consumed++)
            {
                var slot = (long)(consumed % Slots) * Chunk;
                var first = ring.Read<ulong>(slot);
                var last = ring.Read<ulong>(slot + Chunk - sizeof(ulong));
                if (first != consumed || last != consumed)
                {
                    throw new InvalidOperationException(
                        $"stream chunk {consumed}: stamps {first}/{last} (a stale or torn chunk behind the head {head})");
                }
            }

            credit.Write(0, consumed);
        }
    }

    private static void Expect(string command)
    {
        var line = Console.In.ReadLine();
        if (line != command)
        {
            throw new InvalidOperationException($"expected '{command}' on stdin, got '{line}'");
        }
    }

    private static int Int(Dictionary<string, string> values, string name) =>
        int.Parse(values[name], NumberStyles.Integer, CultureInfo.InvariantCulture);

    /// <summary>
    /// The stream's producer: chunk n (stamped with n) into slot n mod <see cref="Slots"/> once the consumer has freed
    /// it (credit), then the head n + 1; a run's time ends when the consumer has credited its last chunk.
    /// </summary>
    private sealed class Streamer(ImcTransmitWindow ring, ImcReceiveWindow credit)
    {
        private readonly byte[] _chunk = new byte[Chunk];
        private ulong _next;

        /// <summary>The last run's time in the chunk writes, the head writes and the waits for credit.</summary>
        public long ChunkTicks { get; private set; }

        public long HeadTicks { get; private set; }

        public long CreditTicks { get; private set; }

        /// <summary>Streams <paramref name="chunks"/> chunks; returns the nanoseconds from the first write to the last credit.</summary>
        public long Run(int chunks)
        {
            var start = Stopwatch.GetTimestamp();
            var end = _next + (ulong)chunks;
            long chunkTicks = 0, headTicks = 0, creditTicks = 0;
            for (; _next < end; _next++)
            {
                var t0 = Stopwatch.GetTimestamp();
                WaitCredit(_next + 1 > Slots ? _next + 1 - Slots : 0);
                BinaryPrimitives.WriteUInt64LittleEndian(_chunk, _next);
                BinaryPrimitives.WriteUInt64LittleEndian(_chunk.AsSpan(Chunk - sizeof(ulong)), _next);
                var t1 = Stopwatch.GetTimestamp();
                ring.Write((long)(_next % Slots) * Chunk, _chunk);
                var t2 = Stopwatch.GetTimestamp();
                ring.Write(HeadOffset, _next + 1);
                var t3 = Stopwatch.GetTimestamp();
                creditTicks += t1 - t0;
                chunkTicks += t2 - t1;
                headTicks += t3 - t2;
            }

            var last = Stopwatch.GetTimestamp();
            WaitCredit(end);
            (ChunkTicks, HeadTicks, CreditTicks) = (chunkTicks, headTicks, creditTicks + (Stopwatch.GetTimestamp() - last));
            return (long)Stopwatch.GetElapsedTime(start).TotalNanoseconds;
        }

        private void WaitCredit(ulong atLeast)
        {
            var spins = 0;
            long since = 0;
            while (credit.Read<ulong>(0) < atLeast)
            {
                if (++spins == Stall.CheckEvery)
                {
                    spins = 0;
                    Stall.Check(ref since, "the stream's credit");
                }
            }
        }
    }
}
