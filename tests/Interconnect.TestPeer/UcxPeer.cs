using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Interconnect.Driver.Fabric.Ucx;

namespace Interconnect.TestPeer;

/// <summary>
/// Peer commands for the UCX binding's tests (run with <c>UCX_TLS=tcp</c>). A target ("ucx-serve") registers
/// zeroed memory, publishes its worker address, key and base address, and progresses its worker on a background
/// thread, as imcd will over tcp; it reads its own memory on request. A client ("ucx-connect") connects to such a
/// target and runs workloads against it.
/// </summary>
internal static unsafe class UcxPeer
{
    private static UcxContext? s_context;
    private static UcxWorker? s_worker;
    private static UcxMemory? s_memory;
    private static byte* s_base;
    private static Thread? s_progress;
    private static UcxEndpoint? s_endpoint;
    private static UcxRemoteKey? s_key;
    private static ulong s_remoteBase;

    public static string Execute(string[] w) => w[0] switch
    {
        // ucx-serve size → worker-address-hex key-hex base
        "ucx-serve" => Serve(long.Parse(w[1], CultureInfo.InvariantCulture)),
        // ucx-hash offset length → SHA-256 of the target's own bytes
        "ucx-hash" => Convert.ToHexString(SHA256.HashData(Own(Long(w[1]), (int)Long(w[2])))),
        // ucx-read64 offset → the target's own 64-bit word
        "ucx-read64" => Volatile.Read(ref *(ulong*)(s_base + Long(w[1]))).ToString(CultureInfo.InvariantCulture),
        // ucx-watch payload-offset words flag-offset count timeout-ms → observed stale torn last
        "ucx-watch" => Watch(Long(w[1]), (int)Long(w[2]), Long(w[3]), Long(w[4]), (int)Long(w[5])),
        // ucx-connect worker-address-hex key-hex base
        "ucx-connect" => Connect(w[1], w[2], ulong.Parse(w[3], CultureInfo.InvariantCulture)),
        // ucx-lock-increments counter-offset lock-offset times id → done
        "ucx-lock-increments" => LockIncrements(Long(w[1]), Long(w[2]), (int)Long(w[3]), ulong.Parse(w[4], CultureInfo.InvariantCulture)),
        // ucx-null-reference → caught: a managed null dereference (a SIGSEGV the runtime turns into an exception)
        "ucx-null-reference" => CatchNullReference(),
        // ucx-prologue function → the first 16 bytes of a C library function, in hex (UCX's hooks patch them)
        "ucx-prologue" => Prologue(w[1]),
        // ucx-dispose-worker-race rounds → calls made before the disposes
        "ucx-dispose-worker-race" => UcxLifetime.DisposeWorkerRace((int)Long(w[1])),
        // ucx-dispose-context-race worker-address-hex key-hex base rounds → calls made before the disposes
        "ucx-dispose-context-race" => UcxLifetime.DisposeContextRace(w[1], w[2], ulong.Parse(w[3], CultureInfo.InvariantCulture), (int)Long(w[4])),
        // ucx-parent-first worker-address-hex key-hex base value → the value read back
        "ucx-parent-first" => UcxLifetime.ParentFirst(w[1], w[2], ulong.Parse(w[3], CultureInfo.InvariantCulture), ulong.Parse(w[4], CultureInfo.InvariantCulture)),
        // ucx-abandon worker-address-hex key-hex base rounds → handles not finalized
        "ucx-abandon" => UcxLifetime.Abandon(w[1], w[2], ulong.Parse(w[3], CultureInfo.InvariantCulture), (int)Long(w[4])),
        // ucx-stranger none|wrong machine region-key host → answers=N bytes=N flushed=N
        "ucx-stranger" => UcxStranger.Run(w[1], w[2], (int)Long(w[3]), w[4]),
        _ => throw new ArgumentException($"unknown command {w[0]}"),
    };

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string CatchNullReference()
    {
        try
        {
            return Length(null!).ToString(CultureInfo.InvariantCulture);
        }
        catch (NullReferenceException)
        {
            return "caught";
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        static int Length(int[] array) => array.Length; // a load through null: the hardware faults, the runtime's handler throws
    }

    private static string Prologue(string function)
    {
        var libc = NativeLibrary.Load("libc.so.6");
        return Convert.ToHexString(new ReadOnlySpan<byte>((void*)NativeLibrary.GetExport(libc, function), 16));
    }

    private static string Serve(long size)
    {
        s_context = UcxContext.Create(UcxOperations.MessagesAndOneSided);
        s_worker = s_context.CreateWorker();
        s_base = (byte*)NativeMemory.AlignedAlloc((nuint)size, 4096);
        NativeMemory.Clear(s_base, (nuint)size);
        s_memory = s_context.Map((nint)s_base, size);
        var worker = s_worker;
        s_progress = new Thread(() =>
        {
            // Spins, as imcd's spinning mode does; ends with the process.
            while (true)
            {
                worker.Progress();
            }
        })
        { IsBackground = true, Name = "ucx progress" };
        s_progress.Start();
        return $"{Convert.ToHexString(s_worker.Address)} {Convert.ToHexString(s_memory.PackKey())} {(ulong)s_memory.Address}";
    }

    private static ReadOnlySpan<byte> Own(long offset, int length) => new(s_base + offset, length);

    /// <summary>
    /// Spins on the flag word until it reaches <paramref name="count"/>: each time it changes, every payload word must
    /// be whole (its two halves equal) and not older than the flag (a later message may already have overwritten it).
    /// </summary>
    private static string Watch(long payloadOffset, int words, long flagOffset, long count, int timeoutMs)
    {
        var flag = (ulong*)(s_base + flagOffset);
        var payload = (ulong*)(s_base + payloadOffset);
        long observed = 0, stale = 0, torn = 0;
        ulong last = 0;
        var watch = Stopwatch.StartNew();
        while (last < (ulong)count)
        {
            var seen = Volatile.Read(ref *flag); // acquire: payload reads below are not hoisted above it
            if (seen == last)
            {
                if (watch.ElapsedMilliseconds > timeoutMs)
                {
                    break;
                }

                continue;
            }

            observed++;
            last = seen;
            for (var i = 0; i < words; i++)
            {
                var word = Volatile.Read(ref payload[i]);
                if (word >> 32 != (word & 0xffff_ffff))
                {
                    torn++;
                }
                else if ((word & 0xffff_ffff) < seen)
                {
                    stale++;
                }
            }
        }

        return $"{observed} {stale} {torn} {last}";
    }

    private static string Connect(string address, string key, ulong remoteBase)
    {
        s_context = UcxContext.Create(UcxOperations.MessagesAndOneSided);
        s_worker = s_context.CreateWorker();
        s_endpoint = s_worker.Connect(Convert.FromHexString(address), "the target peer");
        s_key = s_endpoint.UnpackKey(Convert.FromHexString(key));
        s_remoteBase = remoteBase;
        return "";
    }

    /// <summary>
    /// <paramref name="times"/> increments of the target's counter under a spinlock word: CAS 0→id to acquire, get
    /// the counter, put counter+1, flush (so the put is at the target before the lock is free), CAS id→0 to release.
    /// </summary>
    private static string LockIncrements(long counterOffset, long lockOffset, int times, ulong id)
    {
        var endpoint = s_endpoint ?? throw new InvalidOperationException("send ucx-connect first");
        var key = s_key!;
        var lockWord = s_remoteBase + (ulong)lockOffset;
        var counter = s_remoteBase + (ulong)counterOffset;
        Span<byte> value = stackalloc byte[8];
        long contended = 0;
        for (var i = 0; i < times; i++)
        {
            while (endpoint.CompareAndSwap64(lockWord, key, 0, id) != 0)
            {
                contended++;
            }

            endpoint.Get(value, counter, key);
            var next = BitConverter.ToUInt64(value) + 1;
            BitConverter.TryWriteBytes(value, next);
            endpoint.Put(value, counter, key);
            endpoint.Flush();
            var holder = endpoint.CompareAndSwap64(lockWord, key, id, 0);
            if (holder != id)
            {
                throw new InvalidOperationException($"lock word held {holder} while {id} released it");
            }
        }

        return contended.ToString(CultureInfo.InvariantCulture);
    }

    private static long Long(string s) => long.Parse(s, CultureInfo.InvariantCulture);
}
