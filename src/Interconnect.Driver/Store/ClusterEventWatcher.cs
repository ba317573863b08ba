using Interconnect.Driver.Interop;

namespace Interconnect.Driver.Store;

/// <summary>
/// Waits for cluster events on behalf of every waiter of this process: one thread sleeps on the control file's event
/// sequence (a futex word every host or rail change bumps and wakes), and when it moves, completes the waiters
/// whose condition now holds. No waiter, no thread; many waiters, still one thread, asleep.
/// </summary>
internal sealed unsafe class ClusterEventWatcher(Cluster cluster)
{
    private static readonly TimeSpan s_sleepSlice = TimeSpan.FromSeconds(1);
    private readonly List<Waiter> _waiters = [];
    private bool _running;

    public Task<ClusterInfoSnapshot> WaitAsync(Func<ClusterInfoSnapshot, bool> done, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var snapshot = cluster.ReadInfo();
        if (done(snapshot))
        {
            return Task.FromResult(snapshot);
        }

        var waiter = new Waiter(done);
        lock (_waiters)
        {
            _waiters.Add(waiter);
            if (!_running)
            {
                _running = true;
                new Thread(Run) { IsBackground = true, Name = "imc-cluster-events" }.Start();
            }
        }

        if (cancellationToken.CanBeCanceled)
        {
            waiter.Registration = cancellationToken.Register(() =>
            {
                lock (_waiters)
                {
                    _waiters.Remove(waiter);
                }

                waiter.Completion.TrySetCanceled(cancellationToken);
            });
        }

        // The event may have happened between the first look and the registration: the thread looks again first.
        WakeAll(ref cluster.Control.Words.EventSequence);
        return waiter.Completion.Task;
    }

    /// <summary>Wakes every process sleeping on an event word.</summary>
    public static void WakeAll(ref int sequence)
    {
        fixed (int* word = &sequence)
        {
            Libc.FutexWakeShared(word, int.MaxValue);
        }
    }

    private void Run()
    {
        ref var sequence = ref cluster.Control.Words.EventSequence;
        while (true)
        {
            var seen = Volatile.Read(ref sequence); // read before looking, so a change after the look wakes us
            Waiter[] waiters;
            lock (_waiters)
            {
                if (_waiters.Count == 0)
                {
                    _running = false;
                    return;
                }

                waiters = [.. _waiters];
            }

            ClusterInfoSnapshot snapshot;
            try
            {
                snapshot = cluster.ReadInfo();
            }
            catch (DriverException e)
            {
                Fail(waiters, e);
                continue;
            }

            foreach (var waiter in waiters.Where(w => w.Done(snapshot)))
            {
                lock (_waiters)
                {
                    _waiters.Remove(waiter);
                }

                waiter.Registration.Dispose();
                waiter.Completion.TrySetResult(snapshot);
            }

            fixed (int* word = &sequence)
            {
                _ = Libc.FutexWaitShared(word, seen, s_sleepSlice);
            }
        }
    }

    private void Fail(Waiter[] waiters, DriverException e)
    {
        lock (_waiters)
        {
            foreach (var waiter in waiters)
            {
                _waiters.Remove(waiter);
                waiter.Completion.TrySetException(e);
            }
        }
    }

    private sealed class Waiter(Func<ClusterInfoSnapshot, bool> done)
    {
        public Func<ClusterInfoSnapshot, bool> Done { get; } = done;

        public TaskCompletionSource<ClusterInfoSnapshot> Completion { get; } =
            new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationTokenRegistration Registration { get; set; }
    }
}
