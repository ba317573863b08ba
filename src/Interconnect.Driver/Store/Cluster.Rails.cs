using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// Rails, error counts and faults. Every change here is an atomic operation on the words file, without the
/// directory lock, because the data path makes some of them (a dropped delivery raises the count) and must never
/// wait for the directory. Under imcd only imcd makes them; a process counts its own losses in its user's tally
/// (<see cref="RaiseTalliedError"/>), which every read of a count adds in.
/// </summary>
internal sealed partial class Cluster
{
    public const int OneMinuteMs = 60_000;

    public bool IsFailoverPair => Control.Header.RailStyle == ClusterConfiguration.FailoverPair;

    public int LogicalRailOf(int physical) => IsFailoverPair ? physical / 2 : physical;

    /// <summary>
    /// The clusterwide error count of a logical rail (its own, plus what users' loss tallies count), or a negative value
    /// while it processes an error.
    /// </summary>
    public int ReadErrorCount(int rail)
    {
        // The manual's receiver reads a message, then the count: the message's reads must not move after this one.
        Volatile.ReadBarrier();
        ref var entry = ref Control.Rail(rail);
        var count = Volatile.Read(ref entry.ErrorCount); // acquire: what was delivered before the count rose is visible
        var now = NowMs();
        var processing = now < Volatile.Read(ref entry.ProcessingUntilMs);
        count += TalliedErrors(rail, now, ref processing);
        return processing ? (int)DriverStatus.McError : count;
    }

    /// <summary>
    /// <c>imc_ckerrcnt_mr</c>: Success when no error happened on the rail since <paramref name="count"/> was read and
    /// none is outstanding or being processed; McError otherwise, with <paramref name="count"/> brought up to date.
    /// </summary>
    public DriverStatus CheckErrorCount(ref int count, int rail)
    {
        // A full fence, as mb(): the writes being checked were issued before the count is read.
        Interlocked.MemoryBarrier();
        ref var entry = ref Control.Rail(rail);
        var current = Volatile.Read(ref entry.ErrorCount);
        var now = NowMs();
        var outstanding = (Volatile.Read(ref entry.FaultWord) & LogicalRailEntry.FaultRailDown) != 0 ||
            now < Volatile.Read(ref entry.ProcessingUntilMs);
        current += TalliedErrors(rail, now, ref outstanding);
        var moved = current != count;
        count = current;
        return outstanding || moved ? DriverStatus.McError : DriverStatus.Success;
    }

    /// <summary>
    /// An error on a logical rail: it is "processing" for the error window, and its count rises. Called before
    /// anything sent after the fault is delivered, so a receiver that sees later data also sees the new count.
    /// </summary>
    public void RaiseError(int rail)
    {
        ref var entry = ref Control.Rail(rail);
        RaiseError(ref entry.ProcessingUntilMs, ref entry.ErrorCount);
    }

    /// <summary>An error on a count (a rail's, or a user's tally of it): processing for the error window, and one more.</summary>
    private void RaiseError(ref long processingUntilMs, ref int errorCount)
    {
        Volatile.Write(ref processingUntilMs, NowMs() + Control.Header.ErrorWindowMs);
        Interlocked.Increment(ref errorCount); // full fence: the count is visible before the writer's next delivery
    }

    /// <summary>
    /// Holds a logical rail in error processing until <see cref="RaiseError(int)"/> next runs on it: its count reads negative
    /// (McError) meanwhile. A machine that fenced itself (it lost the cluster) does this to every rail.
    /// </summary>
    public void HoldErrorProcessing(int rail) => Volatile.Write(ref Control.Rail(rail).ProcessingUntilMs, long.MaxValue);

    /// <summary>Across machines: the machine is in <paramref name="epoch"/> from now on, and not fenced.</summary>
    public void JoinEpoch(long epoch)
    {
        Volatile.Write(ref Control.Header.MachineEpoch, epoch);
        Volatile.Write(ref Control.Header.FencedUnixMs, 0);
    }

    /// <summary>Across machines: the machine fenced itself (processes of its epoch stand for nothing from now on).</summary>
    public void Fence() => Volatile.Write(ref Control.Header.FencedUnixMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    /// <summary>The standing of a process that opens the cluster on <paramref name="machine"/> now.</summary>
    public MachineStanding Standing(string machine, Func<byte[]>? clusterKey = null) =>
        new(this, machine, Volatile.Read(ref Control.Header.MachineEpoch), clusterKey);

    /// <summary>Arms the next <paramref name="count"/> deliveries on a rail (to one host, or any: -1) to be dropped.</summary>
    public void InjectDrops(int rail, int count, int host)
    {
        ref var entry = ref Control.Rail(rail);
        Volatile.Write(ref entry.DropHost, host);
        Volatile.Write(ref entry.PendingDrops, count);
        SetFault(ref entry, LogicalRailEntry.FaultDropsPending, count > 0);
    }

    /// <summary>Claims one pending drop for a delivery to <paramref name="host"/>; true when this delivery must be dropped.</summary>
    public bool TryClaimDrop(int rail, int host)
    {
        ref var entry = ref Control.Rail(rail);
        var target = Volatile.Read(ref entry.DropHost);
        if (target >= 0 && target != host)
        {
            return false;
        }

        while (true)
        {
            var pending = Volatile.Read(ref entry.PendingDrops);
            if (pending <= 0)
            {
                SetFault(ref entry, LogicalRailEntry.FaultDropsPending, false);
                return false;
            }

            // Interlocked: each pending drop is claimed by exactly one delivery, in any process.
            if (Interlocked.CompareExchange(ref entry.PendingDrops, pending - 1, pending) == pending)
            {
                if (pending == 1)
                {
                    SetFault(ref entry, LogicalRailEntry.FaultDropsPending, false);
                }

                return true;
            }
        }
    }

    /// <summary>A delivery on a logical rail was lost: the rail's count rises and its active physical rail records an error.</summary>
    public void RecordDeliveryError(int rail)
    {
        RaiseError(rail);
        RecordPhysicalError(Volatile.Read(ref Control.Rail(rail).ActivePhysical));
    }

    /// <summary>
    /// An error on a physical rail; in a failover pair, the eleventh within one minute fails the rail over.
    /// </summary>
    public unsafe void RecordPhysicalError(int physical)
    {
        ref var entry = ref Control.PhysicalRail(physical);
        Interlocked.Increment(ref entry.Errors);
        var now = NowMs();
        var slot = (Interlocked.Increment(ref entry.ErrorCursor) - 1) % PhysicalRailEntry.ErrorRing;
        Volatile.Write(ref entry.ErrorTimesMs[slot < 0 ? slot + PhysicalRailEntry.ErrorRing : slot], now);
        if (!IsFailoverPair || Volatile.Read(ref entry.Errors) <= 10)
        {
            return;
        }

        for (var i = 0; i < PhysicalRailEntry.ErrorRing; i++)
        {
            if (now - Volatile.Read(ref entry.ErrorTimesMs[i]) > OneMinuteMs)
            {
                return; // fewer than eleven errors in the last minute
            }
        }

        if (Volatile.Read(ref Control.Rail(LogicalRailOf(physical)).ActivePhysical) == physical)
        {
            FailPhysicalRail(physical);
        }
    }

    /// <summary>
    /// A physical rail fails: its logical rail's count rises; a failover pair moves traffic to the other rail if it is
    /// up, otherwise (and always in single-rail style) the logical rail goes down. False when it had failed already.
    /// </summary>
    public bool FailPhysicalRail(int physical)
    {
        ref var entry = ref Control.PhysicalRail(physical);
        // Interlocked: one process fails a rail; the others see it failed.
        if (Interlocked.CompareExchange(ref entry.State, PhysicalRailEntry.StateFailed, PhysicalRailEntry.StateUp) !=
            PhysicalRailEntry.StateUp)
        {
            return false;
        }

        Volatile.Write(ref entry.LastFailureMs, NowMs());
        var rail = LogicalRailOf(physical);
        ref var logical = ref Control.Rail(rail);
        if (IsFailoverPair)
        {
            var partner = physical ^ 1;
            if (Volatile.Read(ref logical.ActivePhysical) == physical)
            {
                if (Volatile.Read(ref Control.PhysicalRail(partner).State) == PhysicalRailEntry.StateUp)
                {
                    Volatile.Write(ref logical.ActivePhysical, partner); // the failover: transparent to writers
                }
                else
                {
                    SetFault(ref logical, LogicalRailEntry.FaultRailDown, true); // a second failover waits for repair
                }
            }
        }
        else
        {
            SetFault(ref logical, LogicalRailEntry.FaultRailDown, true);
        }

        RaiseError(rail);
        RecordRailChange();
        return true;
    }

    /// <summary>A failed physical rail is repaired; a logical rail that was down comes back. False when it was up.</summary>
    public bool RepairPhysicalRail(int physical)
    {
        ref var entry = ref Control.PhysicalRail(physical);
        if (Interlocked.CompareExchange(ref entry.State, PhysicalRailEntry.StateUp, PhysicalRailEntry.StateFailed) !=
            PhysicalRailEntry.StateFailed)
        {
            return false;
        }

        ref var logical = ref Control.Rail(LogicalRailOf(physical));
        if ((Volatile.Read(ref logical.FaultWord) & LogicalRailEntry.FaultRailDown) != 0)
        {
            Volatile.Write(ref logical.ActivePhysical, physical);
            SetFault(ref logical, LogicalRailEntry.FaultRailDown, false);
        }

        RecordRailChange();
        return true;
    }

    public bool IsRailDown(int rail) => (Volatile.Read(ref Control.Rail(rail).FaultWord) & LogicalRailEntry.FaultRailDown) != 0;

    /// <summary>Every rail's state and counters, read without the directory lock (counters are live).</summary>
    public unsafe RailStatus ReadRails()
    {
        ref var header = ref Control.Header;
        var writes = new long[header.LogicalRails];
        var bytes = new long[header.LogicalRails];
        var drops = new long[header.LogicalRails];
        for (var i = 0; i < ControlLayout.MaxAttachments; i++)
        {
            ref var a = ref Control.Attachment(i);
            if (Volatile.Read(ref a.State) != AttachmentEntry.StateLive ||
                a.Kind is not (AttachmentEntry.KindTransmit or AttachmentEntry.KindTransmitPointToPoint) ||
                (uint)a.Target >= ControlLayout.MaxRegions)
            {
                continue;
            }

            var rail = Control.Region(a.Target).LogicalRail;
            if ((uint)rail < (uint)header.LogicalRails)
            {
                var windows = WindowsOf(a.Target); // null for a region this user has no right to: not counted here
                if (windows is null)
                {
                    continue;
                }

                ref var counters = ref RegionWindowsFile.Window(windows, i);
                writes[rail] += counters.TotalWrites;
                bytes[rail] += counters.TotalBytes;
                drops[rail] += Volatile.Read(ref counters.Drops);
            }
        }

        var now = NowMs();
        var logical = new List<LogicalRailStatus>();
        for (var r = 0; r < header.LogicalRails; r++)
        {
            ref var rail = ref Control.Rail(r);
            var processing = now < Volatile.Read(ref rail.ProcessingUntilMs);
            var errors = Volatile.Read(ref rail.ErrorCount) + TalliedErrors(r, now, ref processing);
            logical.Add(new LogicalRailStatus(r, errors, processing, IsRailDown(r), Volatile.Read(ref rail.ActivePhysical),
                Volatile.Read(ref rail.PendingDrops), writes[r] + Volatile.Read(ref rail.RetiredWrites),
                bytes[r] + Volatile.Read(ref rail.RetiredBytes), drops[r] + Volatile.Read(ref rail.RetiredDrops)));
        }

        var physical = new List<PhysicalRailStatus>();
        for (var p = 0; p < header.PhysicalRails; p++)
        {
            ref var entry = ref Control.PhysicalRail(p);
            var failed = Volatile.Read(ref entry.State) == PhysicalRailEntry.StateFailed;
            var rail = LogicalRailOf(p);
            physical.Add(new PhysicalRailStatus(p, rail, failed,
                !failed && Volatile.Read(ref Control.Rail(rail).ActivePhysical) == p, Volatile.Read(ref entry.Errors)));
        }

        return new RailStatus(header.RailStyle, logical, physical);
    }

    private void RecordRailChange()
    {
        ref var header = ref Control.Words;
        Interlocked.Increment(ref header.RailSequence);
        Interlocked.Increment(ref header.EventSequence); // event waiters sleep on this word
        ClusterEventWatcher.WakeAll(ref header.EventSequence);
    }

    private static void SetFault(ref LogicalRailEntry entry, int bit, bool on)
    {
        while (true)
        {
            var word = Volatile.Read(ref entry.FaultWord);
            var next = on ? word | bit : word & ~bit;
            // Interlocked: the fault word's bits are set and cleared by different processes at once.
            if (next == word || Interlocked.CompareExchange(ref entry.FaultWord, next, word) == word)
            {
                return;
            }
        }
    }

    private static long NowMs() => Environment.TickCount64;
}
