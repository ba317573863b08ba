using System.Collections.Concurrent;
using Interconnect.Driver.Interop;

namespace Interconnect.Driver.Fabric.Ucx;

/// <summary>
/// A machine's NIC over UCX (<see cref="IMachineNic"/>): its own context and worker and the receiving half of the
/// emulated NIC (<see cref="NicReceiver"/>), used by one progress thread only. Nothing is registered with UCX for
/// one-sided operations. What other threads ask of it (publish, withdraw) runs on that thread, between progress calls, and the
/// caller waits for it: so a withdrawal returns only once no handler can touch the memory any more.
/// </summary>
internal sealed class UcxMachineNic : IMachineNic
{
    private static readonly TimeSpan s_askTimeout = TimeSpan.FromSeconds(10);

    private readonly UcxContext _context;
    private readonly UcxWorker _worker;
    private readonly NicReceiver _receiver;
    private readonly ProgressMode _mode;
    private readonly ConcurrentQueue<Action> _asked = new();
    private readonly Thread _progress;
    private volatile bool _stopping;
    private Exception? _failure;
    private bool _arenaPublished;

    private UcxMachineNic(UcxContext context, UcxWorker worker, int rails, Action<int> raise, ProgressMode mode,
        ReadOnlySpan<byte> clusterKey)
    {
        _context = context;
        _worker = worker;
        _mode = mode;
        _receiver = new NicReceiver(worker, rails, raise, clusterKey);
        Address = worker.Address;
        _progress = new Thread(ProgressLoop) { IsBackground = true, Name = "imcd progress" };
        _progress.Start();
    }

    public byte[] Address { get; }

    public Exception? Failure => Volatile.Read(ref _failure);

    public NicCounts Counts =>
        new(_receiver.Applied, _receiver.Refused, _receiver.Raised, _receiver.Reads, _receiver.Words, _receiver.Malformed,
            _receiver.Unauthenticated);

    /// <summary>Connections that presented the cluster key and have not failed since (read on the progress thread).</summary>
    public int Connections => Ask(() => _receiver.Connections);

    /// <summary>
    /// Starts a NIC for a cluster of <paramref name="rails"/> logical rails; <paramref name="raise"/> raises this
    /// machine's error count of a rail (called on the progress thread); it applies only what comes on connections that
    /// presented <paramref name="clusterKey"/> (<see cref="NicMessages.Hello"/>).
    /// </summary>
    public static UcxMachineNic Start(int rails, Action<int> raise, ProgressMode mode, ReadOnlySpan<byte> clusterKey)
    {
        var context = UcxContext.Create(UcxOperations.Messages); // nothing one-sided: a peer reaches only the NIC's handlers
        try
        {
            return new UcxMachineNic(context, context.CreateWorker(), rails, raise, mode, clusterKey);
        }
        catch
        {
            context.Dispose(); // and the worker made from it
            throw;
        }
    }

    public ulong Publish(nint address, long length, int rail) => Ask(() => _receiver.Publish(address, length, rail));

    public void Withdraw(ulong id) => Ask(() =>
    {
        _receiver.Withdraw(id);
        return 0;
    });

    public void SetEndedEpochs(IReadOnlySet<long> ended) => _receiver.SetEndedEpochs([.. ended]);

    public void PublishArena(nint address, int words) => Ask(() =>
    {
        if (_arenaPublished)
        {
            throw new InvalidOperationException("the lock arena is published already");
        }

        _receiver.PublishArena(address, words);
        _arenaPublished = true;
        return 0;
    });

    /// <summary>Stops the progress thread, then lets go of everything in the order UCX needs (handlers, memory, worker, context).</summary>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _worker.Signal();
        if (!_progress.Join(TimeSpan.FromSeconds(5)))
        {
            return; // a progress call that never returns: leave UCX to the process's exit rather than free under it
        }

        _receiver.Dispose();
        _worker.Dispose();
        _context.Dispose();
    }

    /// <summary>
    /// Runs <paramref name="function"/> on the progress thread and waits for it (inline once that thread was stopped
    /// by <see cref="Dispose"/>). An answer that comes after the deadline is dropped; nothing it touches is gone by then.
    /// </summary>
    private T Ask<T>(Func<T> function)
    {
        if (_failure is { } failure)
        {
            throw new DriverException(DriverStatus.McError, $"imcd's NIC has stopped: {failure.Message}");
        }

        if (!_progress.IsAlive || Thread.CurrentThread == _progress)
        {
            return function();
        }

        var answer = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _asked.Enqueue(() =>
        {
            try
            {
                answer.SetResult(function());
            }
            catch (Exception e)
            {
                answer.SetException(e);
            }
        });
        _worker.Signal();
        try
        {
            return answer.Task.WaitAsync(s_askTimeout).GetAwaiter().GetResult();
        }
        catch (TimeoutException)
        {
            throw new DriverException(DriverStatus.Timeout,
                $"imcd's progress thread did not answer within {s_askTimeout.TotalSeconds:0} s");
        }
    }

    /// <summary>
    /// Progresses the worker: writes from other machines land only while it runs. In wait mode it progresses until
    /// idle, then sleeps on the worker's event descriptor, at a raised priority (nice -10): it stands in for a network
    /// adapter, so a write must not wait behind the application threads that spin on this machine's CPUs for its
    /// data. It uses little CPU, and only when writes arrive. (Measured on a 2-CPU machine under load,
    /// bench/RESULTS.md "Across machines": at nice 0 the agent ran for a moment every few milliseconds while the writer
    /// and the reader spun, and a 64 KiB stream crawled.) <c>IMCD_PROGRESS_NICE</c> sets another nice value (0: the
    /// priority imcd was started with).
    /// </summary>
    private void ProgressLoop()
    {
        var nice = int.TryParse(Environment.GetEnvironmentVariable("IMCD_PROGRESS_NICE"), out var set) ? set : -10;
        if (_mode == ProgressMode.Wait && nice != 0)
        {
            // PRIO_PROCESS with a thread id sets this thread's nice value only; without CAP_SYS_NICE it fails and the
            // thread keeps its priority.
            _ = Libc.SetPriority(Libc.PrioProcess, (uint)Libc.GetTid(), nice);
        }

        try
        {
            while (!_stopping)
            {
                while (_asked.TryDequeue(out var action))
                {
                    action(); // catches what it throws (Ask)
                }

                var events = _worker.Progress();
                _receiver.Collect();
                if (events != 0 || _mode == ProgressMode.Spin)
                {
                    continue;
                }

                if (_worker.Arm())
                {
                    _ = Libc.PollIn(_worker.EventFd, timeoutMs: 100);
                }
            }
        }
        catch (Exception e) when (!_stopping)
        {
            // A NIC that no longer progresses applies nothing: said, not hidden (imcd leaves the cluster on it).
            Volatile.Write(ref _failure, e);
        }

        while (_asked.TryDequeue(out var late))
        {
            late(); // asked while it stopped: answered inline, as after it
        }
    }
}
