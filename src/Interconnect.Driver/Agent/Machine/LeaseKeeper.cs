using Interconnect.Driver.Directory.Etcd;
using Interconnect.Driver.Store;
using Microsoft.Extensions.Logging;

namespace Interconnect.Driver.Agent.Machine;

/// <summary>
/// The machine's lease in etcd, which every key this machine writes is bound to (its hosts leave when it expires):
/// granted at the join and again at a rejoin, kept alive until the next one or the agent stops, revoked when the
/// machine leaves. It guarantees the fence: a machine that has not reached etcd for its lease less a second fences
/// itself (<see cref="FenceIfCut"/>, on a timer of its own) before the cluster can take it for dead, and stays fenced
/// until a pass finds it back in the cluster (<see cref="Unfence"/>). It owns the two states other threads read: fenced,
/// and leaving.
/// </summary>
internal sealed partial class LeaseKeeper : IDisposable
{
    private static readonly TimeSpan s_fenceCheck = TimeSpan.FromMilliseconds(100);

    private readonly EtcdStore _store;
    private readonly EtcdStreams _streams;
    private readonly ControlFileDirectory _local;
    private readonly string _machine;
    private readonly int _seconds;
    private readonly Action _lost;
    private readonly CancellationToken _stop;
    private readonly ILogger _logger;
    private Task? _keepAlive;
    private CancellationTokenSource? _keepingAlive; // stops the keep-alive of the current lease
    private long _lease;
    private int _leaving; // 1 once the agent began to leave: no pass starts after that (the lease is about to go)
    private int _fenced; // 1 while this machine is fenced: it has not reached etcd for its lease less a margin
    private Timer? _fenceWatch;

    /// <summary>
    /// A keeper that calls <paramref name="lost"/> (on the keep-alive's thread) when etcd answers that the lease is gone,
    /// and keeps no lease alive once <paramref name="stop"/> is cancelled.
    /// </summary>
    public LeaseKeeper(EtcdStore store, EtcdStreams streams, ControlFileDirectory local, string machine, int seconds,
        Action lost, ILogger logger, CancellationToken stop)
    {
        _store = store;
        _streams = streams;
        _local = local;
        _machine = machine;
        _seconds = seconds;
        _lost = lost;
        _logger = logger;
        _stop = stop;
    }

    /// <summary>The current lease.</summary>
    public long Id => _lease;

    /// <summary>The lease's time-to-live.</summary>
    public int Seconds => _seconds;

    /// <summary>True while this machine is fenced (<see cref="FenceIfCut"/>).</summary>
    public bool IsFenced => Volatile.Read(ref _fenced) != 0; // set by the fence watch's timer thread

    /// <summary>True once the machine began to leave (<see cref="BeginLeaving"/>): no pass starts after that.</summary>
    public bool IsLeaving => Volatile.Read(ref _leaving) != 0; // set by the thread that disposes the agent

    /// <summary>The current lease's keep-alive: it ends once the stop is cancelled.</summary>
    public Task KeepingAlive => _keepAlive ?? Task.CompletedTask;

    /// <summary>A new lease for the machine, kept alive until the next one or the stop.</summary>
    public void Grant()
    {
        var lease = _store.GrantLease(_seconds);
        var keeping = CancellationTokenSource.CreateLinkedTokenSource(_stop);
        if (_keepingAlive is { } previous)
        {
            previous.Cancel(); // the old lease's keep-alive: that lease is gone
            _ = _keepAlive!.ContinueWith(_ => previous.Dispose(), CancellationToken.None, TaskContinuationOptions.None,
                TaskScheduler.Default); // once its loop has let go of the token
        }

        _keepingAlive = keeping;
        _lease = lease;
        // Six keep-alives per lease: each answer is contact with etcd (FenceIfCut), so a fence needs several missed.
        var period = TimeSpan.FromMilliseconds(Math.Max(200, _seconds * 1000 / 6));
        _keepAlive = Task.Run(() => _streams.KeepAliveAsync(lease, period, _lost, keeping.Token));
    }

    /// <summary>
    /// Revokes the lease: the machine's keys go at once, not when the lease would expire. A failure is logged, not
    /// thrown (the lease then expires by itself).
    /// </summary>
    public void Revoke()
    {
        try
        {
            _store.RevokeLease(_lease);
        }
        catch (DriverException e)
        {
            LeaseNotRevoked(_logger, e.Message);
        }
    }

    /// <summary>The machine begins to leave: true the first time only.</summary>
    public bool BeginLeaving() => Interlocked.Exchange(ref _leaving, 1) == 0;

    /// <summary>Starts looking at the contact with etcd (<see cref="FenceIfCut"/>), until <see cref="Dispose"/>.</summary>
    public void WatchFence() => _fenceWatch = new Timer(_ => FenceIfCut(), null, s_fenceCheck, s_fenceCheck);

    /// <summary>Stops the fence watch. The keep-alive ends with the stop, and the lease with <see cref="Revoke"/>.</summary>
    public void Dispose() => _fenceWatch?.Dispose();

    /// <summary>
    /// Fences this machine once it has not reached etcd for its lease less a second: by then the cluster may take it
    /// for dead at any moment (its lease expiring in etcd), so every rail here is held in error processing and its
    /// readers read a negative count (the manual's "error processing") until the machine is back in the cluster.
    /// Runs on a timer of its own, since a pass blocks for the directory's timeout while etcd is out of reach; any answer
    /// of etcd counts as contact (the lease's keep-alive is answered six times a lease).
    /// </summary>
    private void FenceIfCut()
    {
        if (Volatile.Read(ref _fenced) != 0 || Volatile.Read(ref _leaving) != 0 ||
            Environment.TickCount64 - _store.AnsweredMs <= (_seconds * 1000L) - 1000)
        {
            return;
        }

        if (Interlocked.Exchange(ref _fenced, 1) == 0)
        {
            _local.Fence(); // first: from here on, this machine's processes take no lock and send nothing
            _local.HoldErrorProcessing();
            Fenced(_logger, _machine, _seconds - 1);
        }
    }

    /// <summary>
    /// Back in the cluster (a pass read etcd and the machine holds a lease, its old one or, after a rejoin, a new one):
    /// every rail's count rises, which also ends the error processing the fence held, so a reader sees that writes may
    /// have been lost while it was cut off.
    /// </summary>
    public void Unfence()
    {
        if (Volatile.Read(ref _fenced) == 0)
        {
            return;
        }

        for (var rail = 0; rail < _local.LogicalRails; rail++)
        {
            _local.RecordDeliveryError(rail);
        }

        Volatile.Write(ref _fenced, 0);
        Unfenced(_logger, _machine);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "machine '{Machine}' is fenced: no contact with etcd for {Seconds} s (its lease less " +
        "a second); its readers see error processing until it is back in the cluster")]
    private static partial void Fenced(ILogger logger, string machine, int seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "machine '{Machine}' is back in the cluster: its error counts rose and the fence is lifted")]
    private static partial void Unfenced(ILogger logger, string machine);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the lease could not be revoked (it expires by itself): {Reason}")]
    private static partial void LeaseNotRevoked(ILogger logger, string reason);
}
