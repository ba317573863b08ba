using System.Diagnostics;
using Interconnect.Driver.Store;
using Microsoft.Extensions.Logging;

namespace Interconnect.Driver.Agent.Machine;

/// <summary>
/// The agent's one loop of work. It applies the watch's changes as they come (<see cref="ChangeRouter"/>), each with
/// only the re-reading it needs, and runs a whole pass, which re-reads everything and converges, only at the start,
/// after etcd was out of reach or compacted past the watch, after a failure, and when this machine alone changed in a
/// way no watch reports (<see cref="LocalWork"/>, a look at the control file four times a second). A pass that finds the
/// machine's lease gone, or the machine fenced, first joins again (<see cref="Rejoin"/>). The parts it drives are used
/// from this loop (and, before it starts, by the agent's start); only the router and the lease keeper are shared with
/// other threads.
/// </summary>
internal sealed partial class PassLoop
{
    private static readonly TimeSpan s_look = TimeSpan.FromMilliseconds(250);

    private readonly string _machine;
    private readonly ControlFileDirectory _local;
    private readonly ChangeRouter _router;
    private readonly PassReading _reading;
    private readonly LeaseKeeper _lease;
    private readonly Membership _membership;
    private readonly ReceiveRegistrations _registrations;
    private readonly RegionWithdrawals _regions;
    private readonly ClusterEvents _events;
    private readonly MachineLocks _locks;
    private readonly ILogger _logger;
    private readonly CancellationToken _stop;
    private List<string>? _rejoinHosts; // the hosts a rejoin under way brings up again

    public PassLoop(string machine, ControlFileDirectory local, ChangeRouter router, PassReading reading, LeaseKeeper lease,
        Membership membership, ReceiveRegistrations registrations, RegionWithdrawals regions, ClusterEvents events,
        MachineLocks locks, ILogger logger, CancellationToken stop)
    {
        _machine = machine;
        _local = local;
        _router = router;
        _reading = reading;
        _lease = lease;
        _membership = membership;
        _registrations = registrations;
        _regions = regions;
        _events = events;
        _locks = locks;
        _logger = logger;
        _stop = stop;
    }

    /// <summary>
    /// Applies the watch's changes as they come, runs a whole pass when a change, a look at this machine
    /// (<see cref="LocalWork"/>, every <see cref="s_look"/>) or the keep-alive asks for it, and after a failure, again
    /// every <see cref="s_look"/> until one succeeds; until the stop, or the machine begins to leave.
    /// </summary>
    public async Task RunAsync()
    {
        var failing = false;
        var clock = Stopwatch.StartNew();
        var nextLook = clock.Elapsed + s_look;
        while (!_stop.IsCancellationRequested && !_lease.IsLeaving)
        {
            try
            {
                await _router.WaitAsync(nextLook - clock.Elapsed, _stop).ConfigureAwait(false);
                if (_lease.IsLeaving)
                {
                    return;
                }

                var work = _router.TakeWork();
                if (clock.Elapsed >= nextLook)
                {
                    work |= LocalWork();
                    nextLook = clock.Elapsed + s_look;
                }

                if (failing || (work & Work.Everything) != 0)
                {
                    Pass();
                }
                else if (work != Work.None)
                {
                    Apply(work);
                }

                failing = false;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (DriverException e)
            {
                // etcd unreachable or the control file busy: the data path goes on; try again at the next pass.
                failing = true;
                PassFailed(_logger, e.Message);
            }
        }
    }

    /// <summary>
    /// One pass: converge this machine's registrations and control file on what etcd says, as read at its start in one
    /// round trip (<see cref="PassReading"/>). Changes that come meanwhile are applied between its steps, so a receive
    /// attach does not wait for a whole pass.
    /// </summary>
    public void Pass()
    {
        _registrations.ReadAt(_reading.Read());
        try
        {
            var leaseLost = !_membership.HoldsLease();
            if (leaseLost || _lease.IsFenced)
            {
                Rejoin(leaseLost);
                _lease.Unfence();
                _router.Wake(Work.Everything); // the next pass at once, on a fresh reading
                return;
            }

            _lease.Unfence();
            PassSteps();
        }
        finally
        {
            _reading.End();
        }
    }

    private void PassSteps()
    {
        _membership.TrackEpochs();
        // These two first, with no change applied since the reading: they withdraw and unapply what the reading lacks.
        _registrations.PublishReceivers();
        _registrations.ApplyMemory();
        ApplyChanges();
        _regions.Withdraw();
        ApplyChanges();
        _events.Pass();
        ApplyChanges();
        _locks.Pass();
        ApplyChanges();
    }

    /// <summary>
    /// What changed on this machine alone, which no watch reports, read from the control file with no request of
    /// etcd: a receive memory whose attachers are gone, a region no longer allocated here, a lock owner here that died
    /// (each left by a process that died before it could say so in etcd), words reserved here whose creator never used
    /// them, due for collection.
    /// </summary>
    private Work LocalWork()
    {
        var work = Work.None;
        if (_registrations.AnyAttachersGone())
        {
            work |= Work.Everything; // PublishReceivers withdraws it, from a reading of receivers/
        }

        if (_regions.AllocationChanged())
        {
            work |= Work.Regions;
        }

        if (_locks.NeedsPass())
        {
            work |= Work.Locks;
        }

        return work;
    }

    /// <summary>Does what the changes since the last round asked for, and no more.</summary>
    private void Apply(Work work)
    {
        ApplyChanges();
        if ((work & Work.Hosts) != 0)
        {
            _events.ApplyHosts();
        }

        if ((work & Work.Rails) != 0)
        {
            _events.ApplyRails();
        }

        if ((work & Work.Drops) != 0)
        {
            _events.ApplyDrops();
        }

        if ((work & Work.Raises) != 0)
        {
            _events.ApplyRaises();
        }

        if ((work & Work.Signals) != 0)
        {
            _events.DeliverSignals();
        }

        if ((work & Work.Regions) != 0)
        {
            _regions.Withdraw();
        }

        if ((work & Work.Locks) != 0)
        {
            _locks.Pass();
        }
    }

    /// <summary>Applies the queued receiver and memory changes, in order, each alone (<see cref="ReceiveRegistrations.Apply"/>).</summary>
    private void ApplyChanges()
    {
        while (_router.TryTakeChange(out var change))
        {
            _registrations.Apply(change);
        }
    }

    /// <summary>
    /// The machine's lease expired while this agent ran (it stalled longer than the lease: a frozen VM, a stopped
    /// process, etcd out of reach), or the machine fenced itself and etcd answers again. Either way the cluster has
    /// taken the machine for dead, or is about to (a fenced machine's lease is revoked here first), as it takes one whose
    /// agent was killed: its hosts leave, every machine raises its error counts, its receive memory leaves the routes,
    /// and locks its processes held pass to waiters. Nothing done here in the old epoch is to be trusted, so the hosts
    /// here are taken down too (their processes are let go: each gets NotInitialized once, and opens the cluster
    /// again), and the machine joins again under a new lease and a new epoch, with the same hosts up again at once.
    /// Every acknowledgement is written again by the next pass, under the new lease.
    /// </summary>
    private void Rejoin(bool leaseLost)
    {
        if (leaseLost)
        {
            LeaseLost(_logger, _machine, _lease.Seconds);
        }
        else
        {
            // Fenced, and etcd answers again: the cluster may or may not have taken the machine for dead yet. Make it
            // so, at once, rather than let the old epoch live on: its owners' locks pass to waiters, every machine raises
            // its counts for the hosts' leave, and nothing of the old epoch is accepted anywhere once it has gone.
            _lease.Revoke();
            FencedRejoin(_logger, _machine);
        }

        // Remembered until they are up again: a rejoin that fails half-way (etcd gone again) is made again by the next
        // pass, when they are already down here.
        var hosts = _rejoinHosts ??= [.. _local.UpHostNames()];
        _membership.TakeHostsDown();

        _lease.Grant();
        _membership.ClaimName(); // a transaction, as at the start: another machine may have taken the name while this one was away
        _events.ForgetHostsAndRails();
        _registrations.ForgetApplied();
        // The hosts come back up by themselves, under the new epoch: their old processes were let go above (each gets
        // NotInitialized once, then opens the cluster again), new ones register as usual, nobody runs imc_init again.
        foreach (var host in hosts)
        {
            try
            {
                _ = _local.InitializeHost(host, null, null);
                _membership.RepublishHost(host);
            }
            catch (DriverException e)
            {
                HostNotBackUp(_logger, host, e.Message);
            }
        }

        _rejoinHosts = null;
        Rejoined(_logger, _machine, _lease.Id, hosts.Count);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "machine '{Machine}' lost its lease: this imcd made no contact with etcd for " +
        "{LeaseSeconds} s and the cluster took the machine for dead; its hosts are taken down and it joins again (start its programs again)")]
    private static partial void LeaseLost(ILogger logger, string machine, int leaseSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "machine '{Machine}' joined again under lease {Lease:x} (its new epoch), " +
        "with its {Hosts} hosts up again")]
    private static partial void Rejoined(ILogger logger, string machine, long lease, int hosts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "machine '{Machine}' reached etcd again after its fence: it leaves the " +
        "cluster (its lease revoked) and joins again under a new epoch")]
    private static partial void FencedRejoin(ILogger logger, string machine);

    [LoggerMessage(Level = LogLevel.Warning, Message = "host '{Host}' could not be brought up again: {Reason}")]
    private static partial void HostNotBackUp(ILogger logger, string host, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "a pass failed, the next one retries: {Reason}")]
    private static partial void PassFailed(ILogger logger, string reason);
}
