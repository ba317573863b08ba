using System.Diagnostics;
using System.Runtime.InteropServices;
using Interconnect.Driver.Fabric.Ucx;

namespace Interconnect.TestPeer;

/// <summary>
/// <c>imc-test-peer --ucx-bench [iterations]</c>: latencies of the UCX binding over whatever <c>UCX_TLS</c> selects,
/// between a client and a target in this process (two contexts, as two processes would have; the target's worker
/// spins on its own thread). A measurement printed for a person, not a test.
/// </summary>
internal static unsafe class UcxBench
{
    public static int Run(int iterations)
    {
        using var targetContext = UcxContext.Create(UcxOperations.MessagesAndOneSided);
        var target = targetContext.CreateWorker();
        const int Size = 1 << 20;
        var memory = NativeMemory.AlignedAlloc(Size, 4096);
        NativeMemory.Clear(memory, Size);
        var registration = targetContext.Map((nint)memory, Size);
        var stop = 0;
        var progress = new Thread(() =>
        {
            while (Volatile.Read(ref stop) == 0) // set once at the end
            {
                target.Progress();
            }
        });
        progress.Start();

        using var clientContext = UcxContext.Create(UcxOperations.MessagesAndOneSided);
        var client = clientContext.CreateWorker();
        var endpoint = client.Connect(target.Address, "the bench target");
        var key = endpoint.UnpackKey(registration.PackKey());
        var remote = (ulong)registration.Address;
        var word = new byte[8];

        Report("put 8 B + flush (round trip)", iterations, () =>
        {
            endpoint.Put(word, remote, key);
            endpoint.Flush();
        });
        Report("put 8 B (local completion)", iterations, () => endpoint.Put(word, remote, key));
        endpoint.Flush();
        Report("get 8 B (round trip)", iterations, () => endpoint.Get(word, remote, key));
        Report("compare-and-swap 64 (round trip)", iterations, () => endpoint.CompareAndSwap64(remote, key, 0, 0));
        Report("fetch-and-add 64 (round trip)", iterations, () => endpoint.FetchAdd64(remote + 8, key, 1));
        Report("fence alone", iterations, client.Fence);
        Report("put 8 B, put 8 B (pair, no fence)", iterations, () =>
        {
            endpoint.Put(word, remote, key);
            endpoint.Put(word, remote + 64, key);
        });
        endpoint.Flush();
        Report("put 8 B, fence, put 8 B (pair)", iterations, () =>
        {
            endpoint.Put(word, remote, key);
            client.Fence();
            endpoint.Put(word, remote + 64, key);
        });
        endpoint.Flush();
        var chunk = new byte[1 << 16];
        Bandwidth("64 KiB puts, fence before each, local completion; flush at the end", iterations / 4, chunk.Length, () =>
        {
            client.Fence();
            endpoint.Put(chunk, remote, key);
        }, endpoint.Flush);
        Bandwidth("64 KiB puts, no fence, local completion; flush at the end", iterations / 4, chunk.Length,
            () => endpoint.Put(chunk, remote, key), endpoint.Flush);
        Bandwidth("64 KiB put + flush each", iterations / 4, chunk.Length, () =>
        {
            endpoint.Put(chunk, remote, key);
            endpoint.Flush();
        }, () => { });
        var mebibyte = new byte[1 << 20];
        Bandwidth("1 MiB put + flush each", iterations / 40, mebibyte.Length, () =>
        {
            endpoint.Put(mebibyte, remote, key);
            endpoint.Flush();
        }, () => { });
        var gate = new Lock();
        Report("uncontended lock enter+exit (the worker's serialisation)", iterations * 100, () =>
        {
            lock (gate)
            {
            }
        });

        Volatile.Write(ref stop, 1);
        progress.Join();
        clientContext.Dispose();
        targetContext.Dispose();
        NativeMemory.AlignedFree(memory);
        return 0;
    }

    private static void Bandwidth(string what, int iterations, int bytes, Action operation, Action end)
    {
        for (var i = 0; i < Math.Min(iterations, 200); i++)
        {
            operation();
        }

        end();
        var total = Stopwatch.StartNew();
        for (var i = 0; i < iterations; i++)
        {
            operation();
        }

        end();
        total.Stop();
        Console.WriteLine(
            $"{what,-58} {(double)iterations * bytes / total.Elapsed.TotalSeconds / 1e9,8:F3} GB/s  " +
            $"({iterations} × {bytes} B, {string.Join(' ', UcxContext.TcpSegments.Select(s => $"{s.Key}={s.Value}"))})");
    }

    private static void Report(string what, int iterations, Action operation)
    {
        for (var i = 0; i < Math.Min(iterations, 1000); i++)
        {
            operation();
        }

        var samples = new long[iterations];
        var total = Stopwatch.StartNew();
        for (var i = 0; i < iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            operation();
            samples[i] = Stopwatch.GetTimestamp() - start;
        }

        total.Stop();
        Array.Sort(samples);
        double Us(long ticks) => ticks * 1e6 / Stopwatch.Frequency;
        Console.WriteLine(
            $"{what,-58} p50 {Us(samples[iterations / 2]),8:F3} µs  p99 {Us(samples[iterations * 99 / 100]),8:F3} µs  " +
            $"mean {total.Elapsed.TotalMicroseconds / iterations,8:F3} µs");
    }
}
