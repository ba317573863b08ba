using Interconnect.Driver;
using Interconnect.Imc.Internal;
using Microsoft.Extensions.Logging;

namespace Interconnect.Imc;

/// <summary>
/// A set of clusterwide spinlocks (<c>imc_lkalloc</c>). A waiter spins briefly, then sleeps; a lock whose holder
/// died passes to the next acquirer. Locks are held by the process (the context), not by a thread.
/// </summary>
public sealed class ImcLockSet : IDisposable
{
    private readonly DriverSession _session;
    private readonly LockSetPort _port;
    private readonly Lock _lock = new();
    private readonly ILogger _logger;
    private bool _deallocated;
    private bool _disposed;

    internal ImcLockSet(DriverSession session, LockSetPort port, ILogger logger)
    {
        _session = session;
        _port = port;
        _logger = logger;
    }

    /// <summary>The set's clusterwide key.</summary>
    public int Key => _port.Handle.Key;

    /// <summary>The number of locks in the set (the creator's count, whatever a later allocator asked).</summary>
    public int Count => _port.Count;

    /// <summary>Takes lock <paramref name="index"/>, waiting as long as it is held (<c>IMC_LOCKWAIT</c>).</summary>
    /// <exception cref="ImcException"><see cref="ImcStatus.BadLock"/>, <see cref="ImcStatus.LockPrior"/>.</exception>
    public void Acquire(int index)
    {
        DriverStatus status;
        try
        {
            status = _port.Acquire(index);
        }
        catch (DriverException e)
        {
            throw ImcException.From(e); // a set across machines: its home or the directory did not answer, or a fence
        }
        if (status != DriverStatus.Success)
        {
            ThrowHelper.Lock(status, Key, index, Count);
        }
    }

    /// <summary>Takes lock <paramref name="index"/> if it is free (<c>IMC_LOCKNOWAIT</c>); false when another holds it.</summary>
    /// <exception cref="ImcException"><see cref="ImcStatus.BadLock"/>, <see cref="ImcStatus.LockPrior"/>.</exception>
    public bool TryAcquire(int index)
    {
        DriverStatus status;
        try
        {
            status = _port.TryAcquire(index);
        }
        catch (DriverException e)
        {
            throw ImcException.From(e); // a set across machines: its home or the directory did not answer, or a fence
        }
        if (status is not (DriverStatus.Success or DriverStatus.NoLockGot))
        {
            ThrowHelper.Lock(status, Key, index, Count);
        }

        return status == DriverStatus.Success;
    }

    /// <summary>Releases lock <paramref name="index"/> (<c>imc_lkrelease</c>).</summary>
    /// <exception cref="ImcException"><see cref="ImcStatus.BadLock"/>, <see cref="ImcStatus.LockNotHeld"/>.</exception>
    public void Release(int index)
    {
        DriverStatus status;
        try
        {
            status = _port.Release(index);
        }
        catch (DriverException e)
        {
            throw ImcException.From(e); // a set across machines: its home or the directory did not answer, or a fence
        }
        if (status != DriverStatus.Success)
        {
            ThrowHelper.Lock(status, Key, index, Count);
        }
    }

    /// <summary>
    /// Deallocates (<c>imc_lkdealloc</c>): <see cref="ImcStatus.LockActive"/> while this process holds one of its
    /// locks. The set is freed when its last user deallocates it or exits.
    /// </summary>
    public void Deallocate()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_deallocated)
            {
                throw new ImcException(ImcStatus.NotAllocated, $"lock set key {Key} was deallocated by this process");
            }

            Boundary.Run(() => _session.DeallocateLockSet(_port.Handle));

            _deallocated = true;
            _port.Dispose();
            Log.LockSetDeallocated(_logger, Key);
        }
    }

    /// <summary>Releases the locks this process holds, then deallocates; never throws.</summary>
    public void Dispose()
    {
        try
        {
            lock (_lock)
            {
                if (_deallocated)
                {
                    return;
                }

                for (var i = 0; i < Count; i++)
                {
                    if (_port.Holds(i))
                    {
                        _ = _port.Release(i);
                    }
                }
            }

            Deallocate();
        }
        catch (ImcException)
        {
        }
        catch (DriverException)
        {
            // a set across machines whose home does not answer: the locks go with this process's owner key
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            lock (_lock)
            {
                _disposed = true; // from here on, every call throws ObjectDisposedException
                _port.Dispose();
            }
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"lock set key {Key}, {Count} lock(s)";
}
