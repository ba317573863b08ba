using System.Collections.Concurrent;

namespace Interconnect.Driver;

/// <summary>
/// The write lock of a coherent region across machines: one word in a lock arena (<see cref="RemoteLockWords"/>), held
/// by every write to the region and by a host while it makes its copy of the contents, so a copy is made while no write
/// is half-applied anywhere. Releasing flushes this process's puts first, so a write made under the lock has landed in
/// every copy before the next holder can read one.
/// <para>
/// When the machine that holds the word leaves the cluster, the word goes with it: the next writer that cannot reach it
/// asks the directory to move the lock (<c>rehome</c>: a new free word, on the writer's machine unless another moved it
/// first) and takes it there. A holder on the machine that left is gone with it; one elsewhere fails its release.
/// </para>
/// <para>
/// The word names a process, not a thread; threads of one process (and its joins) take turns on a lock of their own
/// first, so that a second thread never mistakes the process's hold for its own.
/// </para>
/// </summary>
internal sealed class ClusterWriteLock : IDisposable
{
    private static readonly ConcurrentDictionary<(long Owner, int Key), Lock> s_turns = new();
    private readonly Func<LockSetHome, RemoteLockWords> _open;
    private readonly Func<LockSetHome, LockSetHome> _rehome;
    private readonly Lock _turn;
    private readonly int _key;
    private LockSetHome _home;
    private RemoteLockWords _words;

    /// <param name="home">Where the word is, as the region's handle says.</param>
    /// <param name="owner">This process's owner value (see <see cref="RemoteLockWords"/>).</param>
    /// <param name="regionKey">The region's key, for messages.</param>
    /// <param name="open">Opens the word at a home.</param>
    /// <param name="rehome">
    /// Given a home that could not be reached, where the word is now: the same home while its machine is still in the
    /// cluster, else a new one.
    /// </param>
    public ClusterWriteLock(LockSetHome home, long owner, int regionKey, Func<LockSetHome, RemoteLockWords> open,
        Func<LockSetHome, LockSetHome> rehome)
    {
        _home = home;
        _open = open;
        _rehome = rehome;
        _key = regionKey;
        _words = open(home);
        _turn = s_turns.GetOrAdd((owner, regionKey), static _ => new Lock());
    }

    /// <summary>Takes the lock; waits while a process anywhere holds it, and takes it over from one that died.</summary>
    public void Enter()
    {
        _turn.Enter();
        try
        {
            DriverStatus status;
            try
            {
                status = _words.Acquire(0);
            }
            catch (DriverException)
            {
                var moved = _rehome(_home);
                if (moved == _home)
                {
                    throw; // its machine is still in the cluster: the failure is the caller's to see
                }

                _words.Dispose();
                _home = moved;
                _words = _open(moved);
                status = _words.Acquire(0);
            }

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

    /// <summary>
    /// False once this process no longer stands in the cluster (its machine fenced, or joined again since it opened
    /// it): then its lock calls fail, and its coherent writes land nowhere.
    /// </summary>
    public bool Stands => _words.Stands;

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
                    $"the write lock of coherent region key {_key} was not held by this process ({_words.Owner:x16}) when " +
                    $"released: it holds {_words.Holder(0):x16} (word {_home.First} on machine '{_home.Machine}')");
            }
        }
        finally
        {
            _turn.Exit();
        }
    }

    public void Dispose() => _words.Dispose();
}
