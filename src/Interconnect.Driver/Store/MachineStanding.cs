namespace Interconnect.Driver.Store;

/// <summary>
/// A process's standing across machines: the epoch its machine was in when the process opened the cluster, against
/// what the machine's control file says now. The machine's imcd writes the epoch there when it joins and marks the
/// fence when it loses etcd (<see cref="ControlFileDirectory.JoinEpoch"/>, <see cref="ControlFileDirectory.Fence"/>).
/// Once the machine is fenced, or has joined again under a new epoch, the process stands for nothing in the cluster:
/// the cluster may have taken its machine for dead and handed its locks to others, so its lock operations fail with
/// McError and its writes toward other machines are not sent (and are refused there: they carry the old epoch).
/// One read of two words of the mapped control file: cheap enough for every write. It also carries the process's
/// credential toward other machines: the cluster key, which its connections to their NICs present.
/// </summary>
internal sealed class MachineStanding
{
    private readonly Cluster _cluster;
    private readonly string _machine;
    private readonly Func<byte[]>? _clusterKey;

    internal MachineStanding(Cluster cluster, string machine, long epoch, Func<byte[]>? clusterKey = null)
    {
        _cluster = cluster;
        _machine = machine;
        _clusterKey = clusterKey;
        Epoch = epoch;
    }

    /// <summary>
    /// The cluster key this process presents to other machines' NICs (from its machine's imcd, which hands it to its
    /// registered processes only). Throws <see cref="DriverException"/> when it cannot be had.
    /// </summary>
    public byte[] ClusterKey() => _clusterKey is { } key
        ? key()
        : throw new DriverException(DriverStatus.NotInitialized,
            $"this process has no cluster key for machine '{_machine}''s cluster: only a process registered through its " +
            "machine's imcd reaches other machines");

    /// <summary>The epoch this process stands in (its machine's when it opened the cluster).</summary>
    public long Epoch { get; }

    /// <summary>True while the machine is not fenced and still in this process's epoch.</summary>
    public bool IsCurrent
    {
        get
        {
            ref var header = ref _cluster.Control.Header;
            return Volatile.Read(ref header.FencedUnixMs) == 0 && Volatile.Read(ref header.MachineEpoch) == Epoch;
        }
    }

    /// <summary>Throws McError, saying what happened to the machine, unless <see cref="IsCurrent"/>.</summary>
    public void ThrowIfLost(string what)
    {
        if (IsCurrent)
        {
            return;
        }

        ref var header = ref _cluster.Control.Header;
        var fenced = Volatile.Read(ref header.FencedUnixMs);
        var cause = fenced != 0
            ? $"machine '{_machine}' fenced itself at {DateTimeOffset.FromUnixTimeMilliseconds(fenced):HH:mm:ss.fff} UTC (its imcd " +
              "had not reached etcd for its lease less a second, so the cluster may take it for dead)"
            : $"machine '{_machine}' left the cluster and joined again (epoch {Volatile.Read(ref header.MachineEpoch):x}) " +
              $"after this process opened it (epoch {Epoch:x})";
        throw new DriverException(DriverStatus.McError,
            $"{what}: {cause}; locks this process held are lost and its writes land on no other machine: open the " +
            "cluster again (a new context) once the machine is back");
    }
}
