using System.Collections.Concurrent;

namespace Interconnect.Driver;

/// <summary>
/// The write lock of a coherent region across machines: one word in a lock arena (<see cref="RemoteLockWords"/>), held
/// by every write to the region and by a host while it makes its copy of the contents, so a copy is made while no write
/// is half-applied anywhere. Releasing flushes this process's puts first, so a write made under the lock has landed in
/// every copy before the next holder can read one.
/// <para>
/// The word names a process, not a thread; threads of one process (and its joins) take turns on a lock of their own
/// first, so that a second thread never mistakes the process's hold for its own.
/// </para>
/// </summary>
internal sealed class ClusterWriteLock : IDisposable
{
    private static readonly ConcurrentDictionary<(long Owner, int Key), Lock> s_turns = new();
    private readonly RemoteLockWords _words;
    private readonly Lock _turn;
    private readonly int _key;

    public ClusterWriteLock(RemoteLockWords words, int regionKey)
    {
        _words = words;
        _key = regionKey;
        _turn = s_turns.GetOrAdd((words.Owner, regionKey), static _ => new Lock());
    }

    /// <summary>Takes the lock; waits while a process anywhere holds it, and takes it over from one that died.</summary>
    public void Enter()
    {
        _turn.Enter();
        try
        {
            var status = _words.Acquire(0);
            if (status is not (DriverStatus.Success or DriverStatus.LockPrior)) // LockPrior: an earlier release failed half-way
            {
                throw new DriverException(status, $"the write lock of coherent region key {_key} could not be taken ({status})");
            }
        }
        catch
        {
            _turn.Exit();
            throw;
        }
    }

    /// <summary>Counts as entered: the word already holds this process (it was made held, before anyone could see it).</summary>
    public void EnterMadeHeld() => _turn.Enter();

    /// <summary>Lets the lock go, once every put this process issued has landed.</summary>
    public void Exit()
    {
        try
        {
            var status = _words.Release(0);
            if (status != DriverStatus.Success)
            {
                throw new DriverException(DriverStatus.McError,
                    $"the write lock of coherent region key {_key} was not held by this process when released ({status}): " +
                    "a waiter took it over, which happens only when this process was thought dead");
            }
        }
        finally
        {
            _turn.Exit();
        }
    }

    public void Dispose() => _words.Dispose();
}
