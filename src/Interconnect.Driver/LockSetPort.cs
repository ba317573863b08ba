using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver;

/// <summary>
/// The locks of an allocated lock set: words in the set's own file (<see cref="LockSetFile"/>), mapped by the port with
/// the process's own rights, taken with one compare-and-swap when free. A
/// waiter spins briefly, then sleeps on the word's futex; a release wakes one sleeper only when one sleeps. A lock
/// whose holder died is taken over by the next acquirer.
/// <para>
/// A set across machines (<see cref="LockSetHandle.Home"/> set) has no words here: every operation goes to
/// <see cref="RemoteLockWords"/> (UCX atomics on the home machine's words). That choice is one test of a readonly field
/// after the index check, not an interface call, so the local path stays as it was.
/// </para>
/// </summary>
internal sealed unsafe class LockSetPort : IDisposable
{
    private const int SpinIterations = 200;
    private static readonly TimeSpan s_sleepSlice = TimeSpan.FromMilliseconds(50);
    private readonly DriverSession _session;
    private readonly LockWord* _words;
    // The mapping of _words. Never unmapped by Dispose: a thread may still be waiting on a word when another disposes
    // the port (imc_lkdealloc), so the mapping goes with the port, by its finalizer, once nothing reaches the port (the
    // session holds it until it is disposed).
    private readonly MappedFile? _file;
    private readonly RemoteLockWords? _remote;
    private readonly long _me;
    private int _disposed;
    private long _acquisitions;       // the counting thread's acquisitions: plain adds
    private long _sharedAcquisitions; // every other thread's: atomic adds
    private int _countingThread;      // the first thread to acquire through this port; 0 until one has
    private long _waits;

    internal LockSetPort(DriverSession session, LockSetHandle handle)
    {
        _session = session;
        Handle = handle;
        _remote = session.Directory.OpenRemoteLocks(session.Registration, handle);
        _file = _remote is null ? session.Directory.MapLockWords(handle) : null;
        _words = _file is null ? null : (LockWord*)_file.Pointer;
        _me = _remote?.Owner ?? session.Registration.LockOwner;
        session.Track(this);
    }

    public LockSetHandle Handle { get; }

    public int Count => Handle.Count;

    /// <summary>Locks taken through this port.</summary>
    public long Acquisitions => Volatile.Read(ref _acquisitions) + Volatile.Read(ref _sharedAcquisitions);

    /// <summary>Acquisitions that found the lock held and waited.</summary>
    public long Waits => Volatile.Read(ref _waits) + (_remote?.Waits ?? 0);

    /// <summary>
    /// Takes lock <paramref name="index"/>, waiting as long as it takes: <see cref="DriverStatus.Success"/>, or
    /// <see cref="DriverStatus.BadLock"/> (no such lock) or <see cref="DriverStatus.LockPrior"/> (held by this process).
    /// </summary>
    public DriverStatus Acquire(int index)
    {
        if ((uint)index >= (uint)Handle.Count)
        {
            return DriverStatus.BadLock;
        }

        if (_remote is not null)
        {
            return Remote(index, RemoteOperation.Acquire);
        }

        ref var word = ref Word(index);
        var owner = Volatile.Read(ref word.Owner);
        if (owner == _me)
        {
            return DriverStatus.LockPrior;
        }

        // Interlocked: the compare-and-swap that takes a free lock is also the acquire fence.
        if (owner == 0 && Interlocked.CompareExchange(ref word.Owner, _me, 0) == 0)
        {
            CountAcquisition();
            return DriverStatus.Success;
        }

        Interlocked.Increment(ref _waits);
        AcquireSlow(ref word);
        CountAcquisition();
        return DriverStatus.Success;
    }

    /// <summary>
    /// Takes lock <paramref name="index"/> if it is free (or its holder died): <see cref="DriverStatus.Success"/>, or
    /// <see cref="DriverStatus.NoLockGot"/> when another holds it, or as <see cref="Acquire"/>.
    /// </summary>
    public DriverStatus TryAcquire(int index)
    {
        if ((uint)index >= (uint)Handle.Count)
        {
            return DriverStatus.BadLock;
        }

        if (_remote is not null)
        {
            return Remote(index, RemoteOperation.TryAcquire);
        }

        ref var word = ref Word(index);
        var owner = Volatile.Read(ref word.Owner);
        if (owner == _me)
        {
            return DriverStatus.LockPrior;
        }

        var taken = owner == 0
            ? Interlocked.CompareExchange(ref word.Owner, _me, 0) == 0 // acquire fence when taken
            : !_session.Directory.IsLockOwnerAlive(owner) && Interlocked.CompareExchange(ref word.Owner, _me, owner) == owner;
        if (!taken)
        {
            return DriverStatus.NoLockGot;
        }

        CountAcquisition();
        return DriverStatus.Success;
    }

    /// <summary>
    /// Releases lock <paramref name="index"/>: <see cref="DriverStatus.Success"/>, or <see cref="DriverStatus.BadLock"/>
    /// or <see cref="DriverStatus.LockNotHeld"/> (this process does not hold it).
    /// </summary>
    public DriverStatus Release(int index)
    {
        if ((uint)index >= (uint)Handle.Count)
        {
            return DriverStatus.BadLock;
        }

        if (_remote is not null)
        {
            return Remote(index, RemoteOperation.Release);
        }

        ref var word = ref Word(index);
        // Interlocked: a full fence, so everything done under the lock is visible before it reads free.
        if (Interlocked.CompareExchange(ref word.Owner, 0, _me) != _me)
        {
            return DriverStatus.LockNotHeld;
        }

        Cluster.WakeOne(ref word);
        return DriverStatus.Success;
    }

    /// <summary>
    /// Counts an acquisition exactly without an atomic add on the common path: the thread that acquired first adds
    /// to its own count, any other thread atomically to a second one (as a transmit window counts its writes).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CountAcquisition()
    {
        if (Environment.CurrentManagedThreadId == _countingThread)
        {
            _acquisitions++;
        }
        else
        {
            CountAcquisitionShared();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountAcquisitionShared()
    {
        // Interlocked: the first thread to acquire becomes the counting thread, once, for good.
        if (_countingThread == 0 && Interlocked.CompareExchange(ref _countingThread, Environment.CurrentManagedThreadId, 0) == 0)
        {
            _acquisitions++;
            return;
        }

        Interlocked.Increment(ref _sharedAcquisitions); // any number of other threads at once
    }

    /// <summary>Whether this process holds lock <paramref name="index"/>.</summary>
    public bool Holds(int index)
    {
        if ((uint)index >= (uint)Handle.Count)
        {
            return false;
        }

        if (_remote is not null)
        {
            ThrowIfDisposed();
            try
            {
                return _remote.Holds(index);
            }
            catch (DriverException)
            {
                return false; // the home machine does not answer: nothing there to release from here
            }
        }

        return Volatile.Read(ref Word(index).Owner) == _me;
    }

    /// <summary>Stops the port; its locks stay as they are until released or reclaimed.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            DriverMetrics.Retire(this);
            _session.Untrack(this);
            _remote?.Dispose();
        }
    }

    private void AcquireSlow(ref LockWord word)
    {
        for (var i = 0; i < SpinIterations; i++)
        {
            Thread.SpinWait(8);
            if (Volatile.Read(ref word.Owner) == 0 && Interlocked.CompareExchange(ref word.Owner, _me, 0) == 0)
            {
                return;
            }
        }

        var lastLivenessCheck = Stopwatch.GetTimestamp();
        while (true)
        {
            var sequence = Volatile.Read(ref word.Sequence);
            // Interlocked: announce the sleeper before the last look at the owner, so a release either sees it or
            // happens before that look (both are full fences).
            Interlocked.Increment(ref word.Waiters);
            try
            {
                var owner = Volatile.Read(ref word.Owner);
                if (owner == 0)
                {
                    if (Interlocked.CompareExchange(ref word.Owner, _me, 0) == 0)
                    {
                        return;
                    }

                    continue;
                }

                if (Stopwatch.GetElapsedTime(lastLivenessCheck) >= s_sleepSlice)
                {
                    lastLivenessCheck = Stopwatch.GetTimestamp();
                    if (!_session.Directory.IsLockOwnerAlive(owner) &&
                        Interlocked.CompareExchange(ref word.Owner, _me, owner) == owner)
                    {
                        return; // the holder died: the lock passes to us
                    }
                }

                fixed (int* futex = &word.Sequence)
                {
                    _ = Libc.FutexWaitShared(futex, sequence, s_sleepSlice);
                }
            }
            finally
            {
                Interlocked.Decrement(ref word.Waiters);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref LockWord Word(int index)
    {
        ThrowIfDisposed();
        return ref _words[index];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            ThrowDisposed();
        }
    }

    /// <summary>
    /// An operation on a set across machines. It throws <see cref="DriverException"/> when the set's home or the
    /// directory did not answer (McError, Timeout) or this process's machine is fenced (McError), with what happened.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private DriverStatus Remote(int index, RemoteOperation operation)
    {
        ThrowIfDisposed();
        var status = operation switch
        {
            RemoteOperation.Acquire => _remote!.Acquire(index),
            RemoteOperation.TryAcquire => _remote!.TryAcquire(index),
            _ => _remote!.Release(index),
        };
        if (status == DriverStatus.Success && operation != RemoteOperation.Release)
        {
            CountAcquisition();
        }

        return status;
    }

    private enum RemoteOperation
    {
        Acquire,
        TryAcquire,
        Release,
    }

    [DoesNotReturn]
    private void ThrowDisposed() => throw new ObjectDisposedException(nameof(LockSetPort),
        $"lock set key {Handle.Key} was deallocated by this process, or its context was disposed");
}
