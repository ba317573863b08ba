using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Latency.Protocol;
using Interconnect.Latency.Reporting;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// The across-machines profile: a put ping-pong straight through the driver's UCX types (UcxContext, UcxWorker,
/// UcxEndpoint), no Imc and no imcd: each side registers 4 KiB of its own memory, and while waiting it progresses its
/// own worker and reads its own word, as ucx_perftest's ucp_put_lat does. Each put goes as the driver's UcxTarget sends
/// it: a worker fence, then the put, waited for until it completes locally. The two sides swap their worker address,
/// key and buffer address through the harness ("me ..." on stdout, "peer ..." on stdin).
/// </summary>
internal static unsafe class RawUcxPeers
{
    public const string Ping = "ucx-raw-ping";
    public const string Echo = "ucx-raw-echo";

    public static long Run(Dictionary<string, string> values, bool ping)
    {
        // Its puts are one-sided, which no context of the product enables any more.
        using var context = UcxContext.Create(UcxOperations.MessagesAndOneSided);
        using var worker = context.CreateWorker();
        var buffer = (nint)NativeMemory.AlignedAlloc(4096, 4096);
        try
        {
            new Span<byte>((void*)buffer, 4096).Clear();
            using var memory = context.Map(buffer, 4096);
            Console.WriteLine($"me {Convert.ToBase64String(worker.Address)} {Convert.ToBase64String(memory.PackKey())} {(ulong)buffer}");
            Console.Out.Flush();
            var peer = (Console.In.ReadLine() ?? throw new InvalidOperationException("no peer line on stdin")).Split(' ');
            using var endpoint = worker.Connect(Convert.FromBase64String(peer[1]), "the other raw UCX side");
            using var key = endpoint.UnpackKey(Convert.FromBase64String(peer[2]));
            var remote = ulong.Parse(peer[3], CultureInfo.InvariantCulture);
            var local = (ulong*)buffer;
            if (!ping)
            {
                PeerMain.Ready();
                for (ulong expected = 1; ; expected++)
                {
                    var value = Wait(worker, local, expected);
                    Put(endpoint, worker, key, remote, value);
                    if (value == ulong.MaxValue)
                    {
                        endpoint.Flush();
                        Thread.Sleep(500); // the ping side's endpoint flushes as it closes: be there for it
                        return JitInfo.GetCompiledMethodCount();
                    }
                }
            }

            var samples = new long[int.Parse(values["--samples"], CultureInfo.InvariantCulture)];
            Array.Fill(samples, 1L);
            ulong sequence = 0;
            var warm = Stopwatch.StartNew();
            while (warm.Elapsed < TimeSpan.FromSeconds(2))
            {
                RoundTrip(endpoint, worker, key, remote, local, ++sequence);
            }

            var t = Stopwatch.GetTimestamp();
            for (var i = 0; i < samples.Length; i++)
            {
                RoundTrip(endpoint, worker, key, remote, local, ++sequence);
                var t2 = Stopwatch.GetTimestamp();
                samples[i] = t2 - t;
                t = t2;
            }

            // The end: a marker above every sequence, which the echo side returns before it leaves.
            Put(endpoint, worker, key, remote, ulong.MaxValue);
            _ = Wait(worker, local, ulong.MaxValue);
            foreach (var (value, count) in Ticks.ToHistogram(samples, samples.Length).Buckets())
            {
                Console.WriteLine(FormattableString.Invariant($"bucket 8 {value} {count}"));
            }

            return JitInfo.GetCompiledMethodCount();
        }
        finally
        {
            NativeMemory.AlignedFree((void*)buffer);
        }
    }

    private static void RoundTrip(UcxEndpoint endpoint, UcxWorker worker, UcxRemoteKey key, ulong remote, ulong* local, ulong sequence)
    {
        Put(endpoint, worker, key, remote, sequence);
        _ = Wait(worker, local, sequence);
    }

    private static void Put(UcxEndpoint endpoint, UcxWorker worker, UcxRemoteKey key, ulong remote, ulong value)
    {
        worker.Fence();
        endpoint.Put(new ReadOnlySpan<byte>(&value, sizeof(ulong)), remote, key);
    }

    /// <summary>Progresses this side's worker until the word holds <paramref name="expected"/> (or, for the end marker, anything at least it).</summary>
    private static ulong Wait(UcxWorker worker, ulong* local, ulong expected)
    {
        var spins = 0;
        long since = 0;
        ulong value;
        while ((value = Volatile.Read(ref *local)) < expected)
        {
            _ = worker.Progress();
            if (++spins == Stall.CheckEvery / 64)
            {
                spins = 0;
                Stall.Check(ref since, "the raw UCX echo");
            }
        }

        return value;
    }
}
