using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver;

/// <summary>
/// The data path of a transmit attach: each write is copied into the receive memory of every host it reaches, in
/// the order the writes are issued. The set of receive memories is a snapshot (<see cref="Routes"/>) taken under the
/// directory lock and re-taken only when the region's generation word moves; a steady write reads that word and its
/// rail's fault word, copies, and counts, with no lock (coherent regions take the region's write lock) and no
/// allocation.
/// </summary>
public sealed unsafe class Transmitter : IDisposable
{
    private readonly DriverSession _session;
    private readonly RegionHandle _region;
    private readonly int _attachment;
    private readonly int _targetHost;
    private readonly bool _loopback;
    private readonly long _length;
    private readonly int* _generation;
    private readonly int* _fault;
    private readonly long* _writeLock;
    private readonly long* _writes;
    private readonly long* _bytes;
    private readonly long* _drops;
    private static readonly TimeSpan s_writeLockTimeout = TimeSpan.FromSeconds(30);
    private readonly long _lockValue = ProcessIdentity.Current.LockValue;
    private readonly string _writeLockName;
    private readonly Lock _refreshLock = new();
    private readonly Dictionary<ReceiveFileName, MappedFile> _mappings = [];
    private Routes _routes = Routes.Stale;

    internal Transmitter(DriverSession session, RegionHandle region, int attachment, int targetHost, bool loopback)
    {
        _session = session;
        _region = region;
        _attachment = attachment;
        _targetHost = targetHost;
        _loopback = loopback;
        _length = region.Size;
        _writeLockName = $"the write lock of region key {region.Key}";
        var control = session.Cluster.Control;
        _generation = (int*)Unsafe.AsPointer(ref control.Region(region.Slot).Generation);
        _writeLock = (long*)Unsafe.AsPointer(ref control.Region(region.Slot).WriteOwner);
        _fault = (int*)Unsafe.AsPointer(ref control.Rail(region.LogicalRail).FaultWord);
        _writes = (long*)Unsafe.AsPointer(ref control.Attachment(attachment).Writes);
        _bytes = (long*)Unsafe.AsPointer(ref control.Attachment(attachment).Bytes);
        _drops = (long*)Unsafe.AsPointer(ref control.Attachment(attachment).Drops);
        session.Track(this);
    }

    public long Length => _length;

    public RegionHandle Region => _region;

    /// <summary>The host a point-to-point window writes to; -1 for broadcast.</summary>
    public int TargetHost => _targetHost;

    public bool Loopback => _loopback;

    /// <summary>Writes issued through this window (its own counter in the control file).</summary>
    public long Writes => Volatile.Read(ref *_writes);

    /// <summary>Bytes written through this window.</summary>
    public long Bytes => Volatile.Read(ref *_bytes);

    /// <summary>Deliveries of this window's writes that were lost.</summary>
    public long Drops => Volatile.Read(ref *_drops);

    /// <summary>Copies <paramref name="source"/> to <paramref name="offset"/> in every receiving host's memory.</summary>
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        if ((ulong)offset > (ulong)_length || (ulong)source.Length > (ulong)(_length - offset))
        {
            ThrowOutside(offset, source.Length);
        }

        var routes = _routes;
        if (routes.Generation != Volatile.Read(ref *_generation) || Volatile.Read(ref *_fault) != 0 || routes.Coherent)
        {
            WriteSlow(offset, source);
            return;
        }

        CopyToAll(routes, offset, source);
        Count(source.Length);
    }

    /// <summary>Writes an aligned 4-byte value so that every receiver sees it whole.</summary>
    public void Write32(long offset, uint value)
    {
        if ((ulong)offset > (ulong)(_length - sizeof(uint)) || _length < sizeof(uint))
        {
            ThrowOutside(offset, sizeof(uint));
        }

        var routes = _routes;
        if (routes.Generation != Volatile.Read(ref *_generation) || Volatile.Read(ref *_fault) != 0 || routes.Coherent ||
            (offset & 3) != 0)
        {
            WriteSlow(offset, new ReadOnlySpan<byte>(&value, sizeof(uint)));
            return;
        }

        var targets = routes.Targets;
        for (var i = 0; i < targets.Length; i++)
        {
            // Volatile: a release store, so on weakly ordered CPUs every earlier write lands before this value.
            Volatile.Write(ref *(uint*)((byte*)targets[i] + offset), value);
        }

        Count(sizeof(uint));
        GC.KeepAlive(routes);
    }

    /// <summary>Writes an aligned 8-byte value so that every receiver sees it whole.</summary>
    public void Write64(long offset, ulong value)
    {
        if ((ulong)offset > (ulong)(_length - sizeof(ulong)) || _length < sizeof(ulong))
        {
            ThrowOutside(offset, sizeof(ulong));
        }

        var routes = _routes;
        if (routes.Generation != Volatile.Read(ref *_generation) || Volatile.Read(ref *_fault) != 0 || routes.Coherent ||
            (offset & 7) != 0)
        {
            WriteSlow(offset, new ReadOnlySpan<byte>(&value, sizeof(ulong)));
            return;
        }

        var targets = routes.Targets;
        for (var i = 0; i < targets.Length; i++)
        {
            // Volatile: a release store, so on weakly ordered CPUs every earlier write lands before this value.
            Volatile.Write(ref *(ulong*)((byte*)targets[i] + offset), value);
        }

        Count(sizeof(ulong));
        GC.KeepAlive(routes);
    }

    /// <summary>mb(): every write issued before it is visible to every receiver before any write issued after it.</summary>
    public static void Barrier() => Interlocked.MemoryBarrier();

    /// <summary>Detaches this direction of the process's attach.</summary>
    public void Dispose()
    {
        lock (_refreshLock)
        {
            if (ReferenceEquals(_routes, Routes.Disposed))
            {
                return;
            }

            _routes = Routes.Disposed;
            // Mappings are not unmapped here: a thread still inside a write holds its routes, and with them the
            // mappings; the finalizer unmaps each one once nothing refers to it.
            _mappings.Clear();
        }

        DriverMetrics.Retire(this);
        _session.Untrack(this);
        try
        {
            _session.Detach(_region, receive: false, transmit: true);
        }
        catch (DriverException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Copies to every target but those whose bit is set in <paramref name="skip"/> (dropped deliveries).</summary>
    private static void CopyToAll(Routes routes, long offset, ReadOnlySpan<byte> source, ulong skip = 0)
    {
        var targets = routes.Targets;
        if (source.Length == sizeof(ulong) && (offset & 7) == 0)
        {
            var value = Unsafe.ReadUnaligned<ulong>(ref Unsafe.AsRef(in source[0]));
            for (var i = 0; i < targets.Length; i++)
            {
                if ((skip & (1UL << i)) == 0)
                {
                    // Volatile: a release store, whole, after every earlier write.
                    Volatile.Write(ref *(ulong*)((byte*)targets[i] + offset), value);
                }
            }
        }
        else if (source.Length == sizeof(uint) && (offset & 3) == 0)
        {
            var value = Unsafe.ReadUnaligned<uint>(ref Unsafe.AsRef(in source[0]));
            for (var i = 0; i < targets.Length; i++)
            {
                if ((skip & (1UL << i)) == 0)
                {
                    // Volatile: a release store, whole, after every earlier write.
                    Volatile.Write(ref *(uint*)((byte*)targets[i] + offset), value);
                }
            }
        }
        else
        {
            // Orders this copy after every earlier write (a compiler-only barrier on x86, whose stores stay in order).
            Volatile.WriteBarrier();
            for (var i = 0; i < targets.Length; i++)
            {
                if ((skip & (1UL << i)) == 0)
                {
                    source.CopyTo(new Span<byte>((byte*)targets[i] + offset, source.Length));
                }
            }
        }

        GC.KeepAlive(routes);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteSlow(long offset, ReadOnlySpan<byte> source)
    {
        while (true)
        {
            var routes = _routes;
            if (ReferenceEquals(routes, Routes.Disposed))
            {
                ThrowDisposed();
            }

            if (routes.Generation != Volatile.Read(ref *_generation))
            {
                try
                {
                    Refresh();
                }
                catch (DriverException e)
                {
                    throw _session.Translate(e);
                }

                continue;
            }

            if (!routes.Coherent)
            {
                Deliver(routes, offset, source);
                return;
            }

            // Coherent: under the region's write lock, so a host making its copy sees no write half-applied.
            var me = _lockValue;
            try
            {
                _ = RobustLock.Enter(ref *_writeLock, me, s_writeLockTimeout, _writeLockName);
            }
            catch (DriverException e)
            {
                throw _session.Translate(e);
            }

            try
            {
                if (routes.Generation != Volatile.Read(ref *_generation))
                {
                    continue; // a host joined while we waited: take the new routes first
                }

                Deliver(routes, offset, source);
                return;
            }
            finally
            {
                RobustLock.Exit(ref *_writeLock, me);
            }
        }
    }

    /// <summary>
    /// Delivers one write, acting on its rail's faults: a rail that is down loses the write; armed drops take whole
    /// deliveries out, and the rail's error count rises before anything is delivered.
    /// </summary>
    private void Deliver(Routes routes, long offset, ReadOnlySpan<byte> source)
    {
        var fault = Volatile.Read(ref *_fault);
        if (fault == 0)
        {
            CopyToAll(routes, offset, source);
            Count(source.Length);
            return;
        }

        var cluster = _session.Cluster;
        if ((fault & LogicalRailEntry.FaultRailDown) != 0)
        {
            *_drops += routes.Targets.Length;
            Count(source.Length);
            return;
        }

        ulong skip = 0;
        var dropped = 0;
        if ((fault & LogicalRailEntry.FaultDropsPending) != 0)
        {
            for (var i = 0; i < routes.Hosts.Length; i++)
            {
                if (cluster.TryClaimDrop(_region.LogicalRail, routes.Hosts[i]))
                {
                    skip |= 1UL << i;
                    dropped++;
                    cluster.RecordDeliveryError(_region.LogicalRail);
                }
            }
        }

        CopyToAll(routes, offset, source, skip);
        *_drops += dropped;
        Count(source.Length);
    }

    private void Count(int bytes)
    {
        // One writer per window: plain read-modify-write of this attachment's own counters (imcs reads them).
        *_writes += 1;
        *_bytes += bytes;
    }

    /// <summary>Re-reads which hosts this window reaches, under the directory lock, and maps any new receive memory.</summary>
    private void Refresh()
    {
        lock (_refreshLock)
        {
            if (ReferenceEquals(_routes, Routes.Disposed))
            {
                return;
            }

            var cluster = _session.Cluster;
            using var scope = _session.EnterRegistered();
            ref var region = ref cluster.Control.Region(_region.Slot);
            if (!cluster.IsRegionLive(_region.Slot, _region.Id) ||
                cluster.Control.Attachment(_attachment).State != AttachmentEntry.StateLive)
            {
                throw new DriverException(DriverStatus.NotAllocated,
                    $"region key {_region.Key} is no longer attached for transmit by this process");
            }

            var generation = Volatile.Read(ref region.Generation);
            var mask = region.ReceiveFileMask;
            var hosts = new List<int>();
            for (var host = 0; host < ControlLayout.MaxHosts; host++)
            {
                if ((mask & (1u << host)) == 0)
                {
                    continue;
                }

                var reaches = _region.Coherent ||
                    (_targetHost >= 0 ? host == _targetHost : host != _session.Host || _loopback);
                if (reaches)
                {
                    hosts.Add(host);
                }
            }

            var mapped = new List<MappedFile>(hosts.Count);
            var reached = new List<int>(hosts.Count);
            var names = new HashSet<ReceiveFileName>();
            var mappedLength = cluster.PageRounded(_region.Size);
            foreach (var host in hosts)
            {
                var name = cluster.FileName(_region.Slot, host);
                if (!_mappings.TryGetValue(name, out var file))
                {
                    try
                    {
                        file = cluster.Fabric.MapForTransmit(name, mappedLength);
                    }
                    catch (DriverException e) when (e.Status is DriverStatus.OpenError or DriverStatus.BadMap)
                    {
                        // A receive file removed or resized behind the library's back cannot be delivered to: that
                        // host's deliveries are lost, and the rail's error count says so. imcs --check names the file.
                        cluster.RecordDeliveryError(_region.LogicalRail);
                        continue;
                    }

                    _mappings[name] = file;
                }

                mapped.Add(file);
                reached.Add(host);
                names.Add(name);
            }

            foreach (var stale in _mappings.Keys.Where(k => !names.Contains(k)).ToList())
            {
                _mappings.Remove(stale); // unmapped by its finalizer once no routes refer to it
            }

            _routes = new Routes(generation, [.. mapped], [.. reached], _region.Coherent);
        }
    }

    [DoesNotReturn]
    private void ThrowOutside(long offset, int length) =>
        throw new ArgumentOutOfRangeException(nameof(offset),
            $"a write of {length} bytes at offset {offset} does not fit in region key {_region.Key} of {_length} bytes");

    [DoesNotReturn]
    private void ThrowDisposed() => throw new ObjectDisposedException(nameof(Transmitter),
        $"the transmit window of region key {_region.Key} is detached");

    /// <summary>An immutable snapshot of where writes go. It holds its mappings, so they live while a write uses them.</summary>
    private sealed class Routes
    {
        public static readonly Routes Stale = new(-1, [], [], coherent: false);
        public static readonly Routes Disposed = new(-2, [], [], coherent: false);

        public Routes(int generation, MappedFile[] files, int[] hosts, bool coherent)
        {
            Generation = generation;
            Files = files;
            Hosts = hosts;
            Coherent = coherent;
            Targets = new nint[files.Length];
            for (var i = 0; i < files.Length; i++)
            {
                Targets[i] = (nint)files[i].Pointer;
            }
        }

        public int Generation { get; }

        public MappedFile[] Files { get; }

        /// <summary>The host of each target, for drops aimed at one host.</summary>
        public int[] Hosts { get; }

        public nint[] Targets { get; }

        public bool Coherent { get; }
    }
}
