using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Interconnect.Driver.Directory;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Store;

namespace Interconnect.Driver;

/// <summary>
/// The data path of a transmit attach: each write reaches the receive memory of every host it is routed to, in the
/// order the writes are issued. The <see cref="Route"/> is a snapshot read from the directory and re-read only when
/// the region's generation word moves; a steady write to receivers on this machine reads that word and its rail's
/// fault word, stores, and counts: no lock (coherent regions take the region's write lock), no allocation, no call
/// through an interface. Everything else goes through <see cref="WriteSlow"/>.
/// </summary>
internal sealed unsafe class Transmitter : IDisposable
{
    private static readonly TimeSpan s_writeLockTimeout = TimeSpan.FromSeconds(30);
    private readonly DriverSession _session;
    private readonly RegionHandle _region;
    private readonly TransmitAttachment _attachment;
    private readonly WindowWords _words;
    private readonly long _length;
    private readonly long _lockValue = ProcessIdentity.Current.LockValue;
    private readonly string _writeLockName;
    private readonly Lock _refreshLock = new();
    private readonly Dictionary<string, IDeliveryTarget> _targets = [];
    private readonly ClusterWriteLock? _clusterLock; // a coherent region across machines: taken before the local write lock
    private Route _route = Route.Stale;

    // The thread whose writes are counted with plain adds (the first to write); 0 until one has written.
    private int _countingThread;

    internal Transmitter(DriverSession session, RegionHandle region, TransmitAttachment attachment)
    {
        _session = session;
        _region = region;
        _attachment = attachment;
        _words = attachment.Words;
        _length = region.Size;
        _writeLockName = $"the write lock of region key {region.Key}";
        _clusterLock = region.Coherent ? session.Directory.OpenWriteLock(session.Registration, region) : null;
        session.Track(this);
    }

    public long Length => _length;

    public RegionHandle Region => _region;

    /// <summary>The host a point-to-point window writes to; -1 for broadcast.</summary>
    public int TargetHost => _attachment.TargetHost;

    public bool Loopback => _attachment.Loopback;

    /// <summary>Writes issued through this window, by every thread.</summary>
    public long Writes => Volatile.Read(ref *_words.Writes) + Volatile.Read(ref *_words.SharedWrites);

    /// <summary>Bytes written through this window, by every thread.</summary>
    public long Bytes => Volatile.Read(ref *_words.Bytes) + Volatile.Read(ref *_words.SharedBytes);

    /// <summary>Deliveries of this window's writes that were lost.</summary>
    public long Drops => Volatile.Read(ref *_words.Drops);

    /// <summary>
    /// Writes <paramref name="source"/> at <paramref name="offset"/> on the fast path; false when this write must go
    /// through <see cref="WriteSlow"/> (routes to refresh, a fault on the rail, a coherent region, receivers elsewhere).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryWrite(long offset, ReadOnlySpan<byte> source)
    {
        if ((ulong)offset > (ulong)_length || (ulong)source.Length > (ulong)(_length - offset))
        {
            ThrowOutside(offset, source.Length);
        }

        var route = _route;
        if (route.FastGeneration != Volatile.Read(ref *_words.Generation) || Volatile.Read(ref *_words.Fault) != 0)
        {
            return false;
        }

        route.Deliver(offset, source);
        Count(source.Length);
        return true;
    }

    /// <summary>Writes an aligned 4-byte value whole on the fast path; false as <see cref="TryWrite"/>, or when unaligned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryWrite32(long offset, uint value)
    {
        if ((ulong)offset > (ulong)(_length - sizeof(uint)) || _length < sizeof(uint))
        {
            ThrowOutside(offset, sizeof(uint));
        }

        var route = _route;
        if (route.FastGeneration != Volatile.Read(ref *_words.Generation) || Volatile.Read(ref *_words.Fault) != 0 ||
            (offset & 3) != 0)
        {
            return false;
        }

        route.Store32(offset, value);
        Count(sizeof(uint));
        return true;
    }

    /// <summary>Writes an aligned 8-byte value whole on the fast path; false as <see cref="TryWrite"/>, or when unaligned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryWrite64(long offset, ulong value)
    {
        if ((ulong)offset > (ulong)(_length - sizeof(ulong)) || _length < sizeof(ulong))
        {
            ThrowOutside(offset, sizeof(ulong));
        }

        var route = _route;
        if (route.FastGeneration != Volatile.Read(ref *_words.Generation) || Volatile.Read(ref *_words.Fault) != 0 ||
            (offset & 7) != 0)
        {
            return false;
        }

        route.Store64(offset, value);
        Count(sizeof(ulong));
        return true;
    }

    /// <summary>
    /// A direct region's one memory, mapped read-write into this process: plain stores into it reach every receiver
    /// on this machine. Valid until this window is disposed; after that, stores land in zero pages nobody reads.
    /// </summary>
    public nint DirectAddress()
    {
        if (!_region.Direct)
        {
            throw new DriverException(DriverStatus.NotSupported,
                $"region key {_region.Key} is not direct: it was created by a .NET program, whose writes go through the " +
                "library; a C transmit pointer needs a region created from C (imc_asalloc in libimc.so), or use imc_bcopy");
        }

        Refresh();
        var address = _route.SingleMapped;
        if (address == 0)
        {
            throw new DriverException(DriverStatus.BadMap, $"the memory of direct region key {_region.Key} could not be mapped");
        }

        return address;
    }

    /// <summary>mb(): every write issued before it is visible to every receiver before any write issued after it.</summary>
    public void Barrier() => _route.Fence();

    /// <summary>Detaches this direction of the process's attach; the receive memory it reached is let go at once.</summary>
    public void Dispose()
    {
        lock (_refreshLock)
        {
            if (ReferenceEquals(_route, Route.Disposed))
            {
                return;
            }

            // Every write made through this window lands on other machines before it is gone, or their counts rise
            // (API.md "Faults across machines": Dispose flushes); on this machine the stores are there already.
            _route.Fence();
            _route = Route.Disposed;
            foreach (var target in _targets.Values)
            {
                target.Dispose(); // a write still under way through the old route lands nowhere, and faults nothing
            }

            _targets.Clear();
        }

        _clusterLock?.Dispose();

        DriverMetrics.Retire(this);
        _session.Untrack(this);
        _session.DetachQuietly(_region, receive: false, transmit: true);
    }

    /// <summary>
    /// A write the fast path declined: refreshes the route if the region's receivers changed, takes the region's write
    /// lock for a coherent region, and acts on the rail's faults. Throws <see cref="DriverException"/> when the window
    /// can no longer reach its region, <see cref="ObjectDisposedException"/> once it is disposed.
    /// </summary>
    public void WriteSlow(long offset, ReadOnlySpan<byte> source)
    {
        if ((ulong)offset > (ulong)_length || (ulong)source.Length > (ulong)(_length - offset))
        {
            ThrowOutside(offset, source.Length);
        }

        while (true)
        {
            var route = _route;
            if (ReferenceEquals(route, Route.Disposed))
            {
                ThrowDisposed();
            }

            if (route.Generation != Volatile.Read(ref *_words.Generation))
            {
                Refresh();
                continue;
            }

            if (!route.Coherent)
            {
                Deliver(route, offset, source);
                return;
            }

            // Coherent: under the region's write lock, so a host making its copy sees no write half-applied. Across
            // machines the clusterwide lock comes first; its release waits until the puts made under it have landed.
            var me = _lockValue;
            if (_clusterLock is not null && !EnterClusterLock())
            {
                return; // this machine is fenced: the write lands nowhere, and its rail counted it
            }

            try
            {
                _ = RobustLock.Enter(ref *_words.WriteLock, me, s_writeLockTimeout, _writeLockName);
                try
                {
                    if (route.Generation != Volatile.Read(ref *_words.Generation))
                    {
                        continue; // a host joined while we waited: take the new route first
                    }

                    Deliver(route, offset, source);
                    return;
                }
                finally
                {
                    RobustLock.Exit(ref *_words.WriteLock, me);
                }
            }
            finally
            {
                ExitClusterLock();
            }
        }
    }

    /// <summary>
    /// Takes the clusterwide write lock of a coherent region across machines; false when this process no longer stands
    /// in the cluster (its machine fenced, or joined again since it opened it), before or while it waited. Then, as
    /// API.md says, its coherent writes land nowhere: the write is lost like any write a fenced machine sends, counted
    /// on the region's rail, and <c>Write</c> returns (a write never fails because the interconnect lost it).
    /// </summary>
    private bool EnterClusterLock()
    {
        try
        {
            if (_clusterLock!.Stands)
            {
                _clusterLock.Enter();
                return true;
            }
        }
        catch (DriverException) when (!_clusterLock!.Stands)
        {
        }

        _session.Directory.RecordDeliveryError(_region.LogicalRail);
        return false;
    }

    /// <summary>
    /// Lets the clusterwide write lock go. A release that fails because the fence came while the write was under way
    /// is the fence's doing: the write's sends to other machines were not made (and counted), and the lock passes
    /// to a waiter once the machine's lease has gone.
    /// </summary>
    private void ExitClusterLock()
    {
        if (_clusterLock is null)
        {
            return;
        }

        try
        {
            _clusterLock.Exit();
        }
        catch (DriverException) when (!_clusterLock.Stands)
        {
        }
    }

    /// <summary>
    /// Delivers one write, acting on its rail's faults: a rail that is down loses the write; armed drops take whole
    /// deliveries out, and the rail's error count rises before anything is delivered.
    /// </summary>
    private void Deliver(Route route, long offset, ReadOnlySpan<byte> source)
    {
        var fault = Volatile.Read(ref *_words.Fault);
        if (fault == 0)
        {
            route.Deliver(offset, source);
            Count(source.Length);
            return;
        }

        if ((fault & Store.Layout.LogicalRailEntry.FaultRailDown) != 0)
        {
            Interlocked.Add(ref *_words.Drops, route.Hosts.Length);
            Count(source.Length);
            return;
        }

        ulong skip = 0;
        var dropped = 0;
        if ((fault & Store.Layout.LogicalRailEntry.FaultDropsPending) != 0)
        {
            var directory = _session.Directory;
            var hosts = route.Hosts;
            for (var i = 0; i < hosts.Length; i++)
            {
                if (directory.TryClaimDrop(_region.LogicalRail, hosts[i]))
                {
                    skip |= 1UL << i;
                    dropped++;
                }
            }
        }

        route.Deliver(offset, source, skip);
        if (dropped != 0)
        {
            Interlocked.Add(ref *_words.Drops, dropped);
        }

        Count(source.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Count(int bytes)
    {
        if (Environment.CurrentManagedThreadId == _countingThread)
        {
            // The counting thread's own words: plain adds, no other thread writes them.
            *_words.Writes += 1;
            *_words.Bytes += bytes;
        }
        else
        {
            CountShared(bytes);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountShared(int bytes)
    {
        var me = Environment.CurrentManagedThreadId;
        // Interlocked: the first thread to write becomes the counting thread, once, for good.
        if (_countingThread == 0 && Interlocked.CompareExchange(ref _countingThread, me, 0) == 0)
        {
            *_words.Writes += 1;
            *_words.Bytes += bytes;
            return;
        }

        // Interlocked: any number of other threads add to the shared words at once.
        Interlocked.Increment(ref *_words.SharedWrites);
        Interlocked.Add(ref *_words.SharedBytes, bytes);
    }

    /// <summary>
    /// Re-reads where this window's writes go and opens a target for each new receive memory. Targets no longer in
    /// the route are let go of at once: their receive memory is released, and a write still under way through the
    /// old route lands nowhere.
    /// </summary>
    private void Refresh()
    {
        lock (_refreshLock)
        {
            if (ReferenceEquals(_route, Route.Disposed))
            {
                return;
            }

            var directory = _session.Directory;
            var routes = _session.ReadRoutes(_region, _attachment);
            var targets = new List<IDeliveryTarget>(routes.Receivers.Count);
            var hosts = new List<int>(routes.Receivers.Count);
            var names = new HashSet<string>();
            foreach (var receiver in routes.Receivers)
            {
                var identity = receiver.Identity;
                if (!_targets.TryGetValue(identity, out var target))
                {
                    try
                    {
                        target = _session.Targets.Open(receiver, routes.MappedLength);
                    }
                    catch (DriverException e) when (e.Status is DriverStatus.OpenError or DriverStatus.BadMap)
                    {
                        // A receive memory removed or resized behind the library's back cannot be delivered to: that
                        // host's deliveries are lost, and the rail's error count says so. imcs --check names it.
                        directory.RecordDeliveryError(_region.LogicalRail);
                        continue;
                    }

                    _targets[identity] = target;
                }

                targets.Add(target);
                hosts.Add(receiver.Host);
                names.Add(identity);
            }

            foreach (var stale in _targets.Keys.Where(k => !names.Contains(k)).ToList())
            {
                _targets.Remove(stale, out var target);
                target!.Dispose();
            }

            _route = new Route(routes.Generation, [.. targets], [.. hosts], _region.Coherent);
        }
    }

    [DoesNotReturn]
    private void ThrowOutside(long offset, int length) =>
        throw new ArgumentOutOfRangeException(nameof(offset),
            $"a write of {length} bytes at offset {offset} does not fit in region key {_region.Key} of {_length} bytes");

    [DoesNotReturn]
    private void ThrowDisposed() => throw new ObjectDisposedException(nameof(Transmitter),
        $"the transmit window of region key {_region.Key} is detached");
}
