using System.Runtime.CompilerServices;

namespace Interconnect.Driver.Fabric;

/// <summary>
/// An immutable snapshot of where a transmit window's writes go: one delivery target per receiving host. Targets
/// mapped into this process (a <see cref="IDeliveryTarget.LocalAddress"/>) are kept as raw addresses and written with
/// plain stores, the sealed fast path chosen here, once per route refresh; any other target is called through
/// <see cref="IDeliveryTarget"/>. A route holds its targets, so they stay alive while a write uses it.
/// </summary>
internal sealed unsafe class Route
{
    /// <summary>A route that matches no generation: the next write refreshes.</summary>
    public static readonly Route Stale = new(-1, [], [], coherent: false);

    /// <summary>The route of a disposed window.</summary>
    public static readonly Route Disposed = new(-2, [], [], coherent: false);

    private readonly nint[] _local;
    private readonly IDeliveryTarget[] _other;

    /// <param name="generation">The region's generation word when the receivers were read.</param>
    /// <param name="targets">One target per receiving host.</param>
    /// <param name="hosts">The host of each target, in the same order.</param>
    /// <param name="coherent">Writes take the region's write lock, so every write goes the slow way.</param>
    public Route(int generation, IDeliveryTarget[] targets, int[] hosts, bool coherent)
    {
        Generation = generation;
        Coherent = coherent;
        var local = new List<nint>(targets.Length);
        var localHosts = new List<int>(targets.Length);
        var other = new List<IDeliveryTarget>();
        var otherHosts = new List<int>();
        for (var i = 0; i < targets.Length; i++)
        {
            if (targets[i].LocalAddress is var address and not 0)
            {
                local.Add(address);
                localHosts.Add(hosts[i]);
            }
            else
            {
                other.Add(targets[i]);
                otherHosts.Add(hosts[i]);
            }
        }

        _local = [.. local];
        _other = [.. other];
        Hosts = [.. localHosts, .. otherHosts];
        Targets = targets;
        // The fast path compares this one word with the region's generation: a route that must go the slow way
        // (coherent, or with targets outside this process) never matches.
        FastGeneration = coherent || _other.Length > 0 ? int.MinValue : generation;
    }

    public int Generation { get; }

    /// <summary>The address of the one target when the route is exactly one mapped target (a direct region); else 0.</summary>
    public nint SingleMapped => _local.Length == 1 && _other.Length == 0 ? _local[0] : 0;

    /// <summary><see cref="Generation"/> when every write may take the fast path; otherwise a value no word holds.</summary>
    public int FastGeneration { get; }

    public bool Coherent { get; }

    /// <summary>The host of each delivery, in delivery order: mapped targets first, then the others.</summary>
    public int[] Hosts { get; }

    /// <summary>Every target: holding them keeps the mappings behind the raw addresses alive as long as the route.</summary>
    public IDeliveryTarget[] Targets { get; }

    /// <summary>Stores an aligned 4-byte value into every mapped target (fast path: no other targets).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store32(long offset, uint value)
    {
        var local = _local;
        for (var i = 0; i < local.Length; i++)
        {
            // Volatile: a release store, so on weakly ordered CPUs every earlier write lands before this value.
            Volatile.Write(ref *(uint*)((byte*)local[i] + offset), value);
        }

        GC.KeepAlive(this); // this route holds the mappings behind the addresses until the stores are done
    }

    /// <summary>Stores an aligned 8-byte value into every mapped target (fast path: no other targets).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store64(long offset, ulong value)
    {
        var local = _local;
        for (var i = 0; i < local.Length; i++)
        {
            // Volatile: a release store, so on weakly ordered CPUs every earlier write lands before this value.
            Volatile.Write(ref *(ulong*)((byte*)local[i] + offset), value);
        }

        GC.KeepAlive(this); // this route holds the mappings behind the addresses until the stores are done
    }

    /// <summary>
    /// Delivers one write to every target but those whose bit (in <see cref="Hosts"/> order) is set in
    /// <paramref name="skip"/>: aligned 4- and 8-byte writes as whole stores, others as copies after every earlier write.
    /// </summary>
    public void Deliver(long offset, ReadOnlySpan<byte> source, ulong skip = 0)
    {
        var local = _local;
        if (source.Length == sizeof(ulong) && (offset & 7) == 0)
        {
            var value = Unsafe.ReadUnaligned<ulong>(ref Unsafe.AsRef(in source[0]));
            for (var i = 0; i < local.Length; i++)
            {
                if ((skip & (1UL << i)) == 0)
                {
                    // Volatile: a release store, whole, after every earlier write.
                    Volatile.Write(ref *(ulong*)((byte*)local[i] + offset), value);
                }
            }
        }
        else if (source.Length == sizeof(uint) && (offset & 3) == 0)
        {
            var value = Unsafe.ReadUnaligned<uint>(ref Unsafe.AsRef(in source[0]));
            for (var i = 0; i < local.Length; i++)
            {
                if ((skip & (1UL << i)) == 0)
                {
                    // Volatile: a release store, whole, after every earlier write.
                    Volatile.Write(ref *(uint*)((byte*)local[i] + offset), value);
                }
            }
        }
        else
        {
            // Orders this copy after every earlier write (a compiler-only barrier on x86, whose stores stay in order).
            Volatile.WriteBarrier();
            for (var i = 0; i < local.Length; i++)
            {
                if ((skip & (1UL << i)) == 0)
                {
                    source.CopyTo(new Span<byte>((byte*)local[i] + offset, source.Length));
                }
            }
        }

        if (_other.Length > 0)
        {
            DeliverOther(offset, source, skip >> local.Length);
        }

        GC.KeepAlive(this); // this route holds the mappings behind the addresses until the stores are done
    }

    /// <summary>mb(): every write delivered before it is visible before any write delivered after it.</summary>
    public void Fence()
    {
        Interlocked.MemoryBarrier(); // orders this process's stores into every mapped target
        foreach (var target in _other)
        {
            target.Fence();
        }
    }

    /// <summary>
    /// Delivers one write to the targets outside this process: starts it at every one before waiting for any, so a
    /// target that does not take its bytes (a stalled machine) holds this call until its deadline but delays no other
    /// target's copy; then completes them all, each step on every target still in flight.
    /// </summary>
    private void DeliverOther(long offset, ReadOnlySpan<byte> source, ulong skip)
    {
        var other = _other;
        fixed (byte* data = source) // pinned until every target is done with it
        {
            ulong inFlight = 0;
            for (var i = 0; i < other.Length; i++)
            {
                if ((skip & (1UL << i)) == 0 && other[i].Start(offset, data, source.Length))
                {
                    inFlight |= 1UL << i;
                }
            }

            for (var round = 0; inFlight != 0; round++)
            {
                for (var i = 0; i < other.Length; i++)
                {
                    if ((inFlight & (1UL << i)) != 0 && other[i].TryComplete())
                    {
                        inFlight &= ~(1UL << i);
                    }
                }

                if (inFlight != 0 && round >= 64)
                {
                    Thread.Yield(); // a target that takes long: let the machine's other threads (its agent) run
                }
            }
        }
    }
}
