using Interconnect.Driver.Directory;
using Interconnect.Driver.Directory.Etcd;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Driver.Store;
using Microsoft.Extensions.Logging;

namespace Interconnect.Driver.Agent.Machine;

/// <summary>
/// One machine's agent (<c>imcd</c>): it owns the machine's receive memory as the network sees it (maps each receive
/// file that a local host attached, registers it with UCX, publishes where it is and its remote key), runs UCX's
/// progress, keeps the machine's lease in etcd (its hosts leave when the lease expires), and applies the cluster's
/// changes to this machine's control file: when a receive memory appears or goes anywhere, it moves the generation of
/// the local region of that key, so local writers re-read their routes, and then acknowledges in etcd. An attach for
/// receive waits for every machine's acknowledgement. The agent is not on the data path: writes already routed keep
/// landing without it (over RDMA; over tcp, puts need its progress).
/// <para>
/// It works on changes, and level-triggered underneath: a watch on the cluster's prefix hands it each change, which it
/// applies alone (a receiver of this machine: register that memory; a memory anywhere: apply it and acknowledge) or
/// by re-reading only the part it touches (hosts, rails, ...; <see cref="ChangeRouter"/>). The watch resumes where it broke
/// (EtcdStreams), so a whole pass, which re-reads everything and converges, runs only at the start, after etcd was out
/// of reach or compacted past the watch, after a failure, and when this machine alone changed in a way no watch
/// reports (a process died: <see cref="PassLoop"/>'s look at the control file four times a second). An idle machine
/// makes no request of etcd but its lease's keep-alives.
/// </para>
/// <para>
/// This type only puts the parts together: the lease (<see cref="LeaseKeeper"/>), the machine's name, epoch and hosts
/// (<see cref="Membership"/>), its receive memory (<see cref="ReceiveRegistrations"/>), regions' records
/// (<see cref="RegionWithdrawals"/>), events (<see cref="ClusterEvents"/>), locks (<see cref="MachineLocks"/>), and
/// the loop that drives them (<see cref="PassLoop"/>). It starts them in order and stops them in the reverse order.
/// </para>
/// </summary>
internal sealed class MachineAgent : IDisposable
{
    private readonly string _machine;
    private readonly ControlFileDirectory _local;
    private readonly EtcdStore _store;
    private readonly EtcdStreams _streams;
    private readonly IMachineNic _nic;
    private readonly CancellationTokenSource _stop = new();
    private readonly ChangeRouter _router;
    private readonly PassReading _reading;
    private readonly LeaseKeeper _lease;
    private readonly Membership _membership;
    private readonly ReceiveRegistrations _registrations;
    private readonly MachineLocks _locks;
    private readonly PassLoop _loop;
    private Task? _watching;
    private AgentServer? _server; // the socket this machine's processes ask

    private MachineAgent(ClusterPaths paths, string machine, string address, int leaseSeconds, ILogger logger,
        ControlFileDirectory local, EtcdStore store, IMachineNic nic)
    {
        _machine = machine;
        _local = local;
        _store = store;
        _streams = new EtcdStreams(store);
        _nic = nic;
        _router = new ChangeRouter(machine);
        _reading = new PassReading(store, machine);
        _lease = new LeaseKeeper(store, _streams, local, machine, leaseSeconds, () => _router.Wake(Work.Everything), logger,
            _stop.Token);
        _membership = new Membership(paths, machine, address, store, local, nic, _lease, _reading, logger);
        _registrations = new ReceiveRegistrations(machine, store, local, nic, _lease, _reading, logger);
        _locks = new MachineLocks(paths, machine, store, local, nic, _lease, _reading, logger);
        _loop = new PassLoop(machine, local, _router, _reading, _lease, _membership, _registrations,
            new RegionWithdrawals(machine, store, local, _reading), new ClusterEvents(machine, store, local, _lease, _reading),
            _locks, logger, _stop.Token);
    }

    /// <summary>What this machine's NIC did with writes from other machines: applied, refused, counted as lost.</summary>
    internal NicCounts NicCounts => _nic.Counts;

    /// <summary>Why this machine's NIC stopped (imcd must then leave the cluster), or null while it runs.</summary>
    internal Exception? NicFailure => _nic.Failure;

    public string Machine => _machine;

    public long Lease => _lease.Id;

    /// <summary>
    /// Starts serving: makes the machine's control file if needed, joins the cluster in etcd under a new lease, and
    /// runs progress and the passes until <see cref="Dispose"/>.
    /// </summary>
    public static MachineAgent Start(ClusterPaths paths, EtcdConnection etcd, string machine, string address, int leaseSeconds,
        ProgressMode progress, ILogger logger)
    {
        paths = paths.ForAgent(); // imcd trusts no file of the cluster that another user owns, whatever its own uid
        ClusterPaths.ValidateName(machine, "machine name (--machine, IMC_MACHINE)");
        var store = new EtcdStore(etcd, paths.Cluster);
        ControlFileDirectory? local = null;
        UcxMachineNic? nic = null;
        try
        {
            local = ControlFileDirectory.OpenOrCreate(paths);
            // The NIC applies only what comes on connections that presented the cluster key: made by the first imcd to
            // join, read from etcd by every later one.
            nic = UcxMachineNic.Start(local.LogicalRails, local.RecordDeliveryError, progress, store.ClusterKey());
            var agent = new MachineAgent(paths, machine, address, leaseSeconds, logger, local, store, nic);
            agent.Join();
            try
            {
                agent._server = AgentServer.Start(paths, machine, AgentMode.Machine,
                    registered => EtcdDirectory.Serve(paths, store, machine, Directories.ProcessFabric, registered), logger);
                local.RegisteredUid = agent._server.RegisteredUid; // a Kill from another machine, too
            }
            catch
            {
                agent.Dispose();
                throw;
            }

            return agent;
        }
        catch
        {
            nic?.Dispose();
            local?.Dispose();
            store.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Joins: a lease, the machine's name under it (the lease revoked if the name is refused), the hosts that were up
    /// here before a restart, a first pass; then the watch from the revision after that pass's reading, the fence
    /// watch, and the loop.
    /// </summary>
    private void Join()
    {
        _lease.Grant();
        try
        {
            _membership.ClaimName();
        }
        catch
        {
            _stop.Cancel(); // the lease's keep-alive
            _lease.Revoke();
            throw;
        }

        _membership.RestartHosts();
        _loop.Pass();
        // From the revision after the pass's reading: every change since comes as a change.
        _watching = _streams.WatchAsync(_router.WatchedPrefixes(), _reading.Revision + 1, _router.OnChanges, _stop.Token);
        _lease.WatchFence();
        _ = Task.Run(_loop.RunAsync);
    }

    /// <summary>Leaves the cluster: this machine's hosts leave (each a host leave), then the lease and everything bound to it.</summary>
    public void Dispose()
    {
        if (_stop.IsCancellationRequested || !_lease.BeginLeaving())
        {
            return;
        }

        _server?.Dispose(); // no process asks anything of a machine that leaves; what they held is released
        _membership.TakeHostsDown();
        _lease.Revoke(); // the machine's keys go at once, not when the lease would expire
        _lease.Dispose(); // the fence watch
        _stop.Cancel(); // the watch and the keep-alive too
        try
        {
            // Before their channels go (below); both end at once on the cancellation, and never fail.
            _ = Task.WaitAll([_watching ?? Task.CompletedTask, _lease.KeepingAlive], TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
        }

        _nic.Dispose(); // its progress stops first: nothing touches the memory below any more
        _locks.Dispose();
        _registrations.Dispose();
        _local.Dispose();
        _streams.Dispose();
        _store.Dispose();
    }
}
