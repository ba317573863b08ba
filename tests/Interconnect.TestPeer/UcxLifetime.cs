using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Interconnect.Driver.Fabric.Ucx;

namespace Interconnect.TestPeer;

/// <summary>
/// Peer commands that dispose UCX objects under other threads' calls, or leave them to the finalizer. They run in a
/// child process because a native handle destroyed too early crashes the process (a use after free in UCX) rather than
/// failing a call. Each answers with what it counted, or fails naming the first unexpected exception.
/// </summary>
internal static unsafe class UcxLifetime
{
    private static readonly TimeSpan s_join = TimeSpan.FromSeconds(20);

    /// <summary>
    /// <paramref name="rounds"/> times: a worker is disposed while one thread progresses and arms it (as imcd's progress
    /// loop does) and another signals it (which takes no lock). Every call must work or throw
    /// <see cref="ObjectDisposedException"/>, and both threads must end. Answers with the calls made before the
    /// disposes, summed.
    /// </summary>
    public static string DisposeWorkerRace(int rounds)
    {
        using var context = UcxContext.Create(UcxOperations.MessagesAndOneSided);
        long calls = 0;
        for (var round = 0; round < rounds; round++)
        {
            var worker = context.CreateWorker();
            calls += Race(worker.Dispose,
            [
                () =>
                {
                    worker.Progress();
                    worker.Arm();
                },
                worker.Signal,
            ]);
        }

        return calls.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// <paramref name="rounds"/> times: a context is disposed while one thread puts and flushes through an endpoint made
    /// from it (to the target at <paramref name="address"/>) and another signals its worker. As in
    /// <see cref="DisposeWorkerRace"/>, every call works or throws <see cref="ObjectDisposedException"/>; the endpoint
    /// is closed under none of them. Answers with the calls made, summed.
    /// </summary>
    public static string DisposeContextRace(string address, string key, ulong remoteBase, int rounds)
    {
        long calls = 0;
        var word = new byte[8];
        for (var round = 0; round < rounds; round++)
        {
            var context = UcxContext.Create(UcxOperations.MessagesAndOneSided);
            var worker = context.CreateWorker();
            var endpoint = worker.Connect(Convert.FromHexString(address), "the target peer");
            var remoteKey = endpoint.UnpackKey(Convert.FromHexString(key));
            calls += Race(context.Dispose,
            [
                () =>
                {
                    endpoint.Put(word, remoteBase, remoteKey);
                    endpoint.Flush();
                },
                worker.Signal,
            ]);
        }

        return calls.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The context's handle goes first, as the finalizer may take it before its worker's: the worker made from it stays
    /// usable (it holds the context's handle, so <c>ucp_cleanup</c> waits for the worker's destroy). Puts
    /// <paramref name="value"/> at the target's first word through a new endpoint, flushes, reads it back and answers
    /// with it; then disposes the worker, which lets the context go.
    /// </summary>
    public static string ParentFirst(string address, string key, ulong remoteBase, ulong value)
    {
        var context = UcxContext.Create(UcxOperations.MessagesAndOneSided);
        var worker = context.CreateWorker();
        context.Handle.Dispose();

        var endpoint = worker.Connect(Convert.FromHexString(address), "the target peer");
        var remoteKey = endpoint.UnpackKey(Convert.FromHexString(key));
        endpoint.Put(BitConverter.GetBytes(value), remoteBase, remoteKey);
        endpoint.Flush();
        var back = new byte[8];
        endpoint.Get(back, remoteBase, remoteKey);
        worker.Progress();
        worker.Dispose();
        context.Dispose();
        return BitConverter.ToUInt64(back).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// <paramref name="rounds"/> times: a context, a worker, an endpoint to the target with a key, and a registration,
    /// used once and dropped undisposed; then the collector runs their finalizers, in an order of its own. Answers with
    /// how many of their native handles are still not finalized (0 when each was released).
    /// </summary>
    public static string Abandon(string address, string key, ulong remoteBase, int rounds)
    {
        var handles = new List<WeakReference>();
        for (var round = 0; round < rounds; round++)
        {
            handles.AddRange(Abandoned(address, key, remoteBase));
        }

        for (var i = 0; i < 3 && handles.Any(h => h.IsAlive); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        return handles.Count(h => h.IsAlive).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Makes and uses the objects; returns long weak references to their handles (alive until finalized).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference[] Abandoned(string address, string key, ulong remoteBase)
    {
        var context = UcxContext.Create(UcxOperations.MessagesAndOneSided);
        var worker = context.CreateWorker();
        var endpoint = worker.Connect(Convert.FromHexString(address), "the target peer");
        var remoteKey = endpoint.UnpackKey(Convert.FromHexString(key));
        var memory = context.Map((nint)NativeMemory.AlignedAlloc(4096, 4096), 4096); // never freed: 4 KiB a round
        endpoint.Put(new byte[8], remoteBase + 8, remoteKey);
        endpoint.Flush();
        _ = memory.PackKey();
        return [new(context.Handle, trackResurrection: true), new(worker.Handle, trackResurrection: true),
            new(remoteKey.Handle, trackResurrection: true)];
    }

    /// <summary>
    /// Starts a thread per call, each making its call over and over until it throws; once all have made one,
    /// waits a random moment and runs <paramref name="dispose"/>. Returns the calls made; throws if a call failed with
    /// anything but <see cref="ObjectDisposedException"/>, or a thread did not end.
    /// </summary>
    private static long Race(Action dispose, Action[] calls)
    {
        var failures = new ConcurrentQueue<Exception>();
        using var started = new CountdownEvent(calls.Length);
        long made = 0;
        var threads = calls.Select(call => new Thread(() =>
        {
            var first = true;
            try
            {
                while (true)
                {
                    call();
                    Interlocked.Increment(ref made);
                    if (first)
                    {
                        first = false;
                        started.Signal();
                    }
                }
            }
            catch (ObjectDisposedException)
            {
                // the expected end
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
            }
            finally
            {
                if (first)
                {
                    started.Signal(); // disposed before its first call completed: also fine
                }
            }
        })
        { IsBackground = true }).ToList();
        threads.ForEach(t => t.Start());
        started.Wait(s_join);
        Thread.SpinWait(Random.Shared.Next(0, 50_000));
        dispose();
        foreach (var thread in threads)
        {
            if (!thread.Join(s_join))
            {
                throw new InvalidOperationException("a caller went on after the dispose: it never saw ObjectDisposedException");
            }
        }

        if (failures.TryDequeue(out var failure))
        {
            throw new InvalidOperationException($"a call failed otherwise than disposed: {failure.GetType().Name}: {failure.Message}");
        }

        return Interlocked.Read(ref made);
    }
}
