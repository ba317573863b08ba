using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Interconnect.Driver.Directory;

namespace Interconnect.Driver.Fabric.Ucx;

/// <summary>
/// This process's way to other machines: one UCX context for the process, made on the first use of another machine
/// (<see cref="Directories.ProcessFabric"/> holds the one instance; the directories and lock words of the process are
/// given it). Everything goes through the emulated NIC, one <see cref="NicLink"/> per remote machine's agent, each on a
/// UCX worker of its own: writes, reads of a coherent region's first copy, and lock-word operations (the agent applies
/// them; no one-sided operation names an address on another machine).
/// </summary>
/// <remarks>
/// A worker is used under its lock, and a send that the target does not take in (its agent stalled, its socket full)
/// holds that lock until it completes or the worker's deadline breaks the connection. With a worker per link, that
/// wait is the stalled machine's alone: writes to other machines, and lock calls homed on them, go on.
/// </remarks>
internal sealed unsafe class UcxFabric
{
    private static readonly TimeSpan s_exitFlush = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan s_flushAtLeast = TimeSpan.FromMilliseconds(100);
    private readonly UcxContext _context;
    private readonly Dictionary<string, NicLink> _links = [];
    private readonly List<NicLink> _linksByIndex = [];
    // Unique in the cluster, and not to be guessed: with the reply endpoint it names this process's connections at the
    // targets (NicReceiver), so it comes from the system's random source.
    private readonly ulong _writer = BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(sizeof(ulong))) | 1;
    private GCHandle _self;
    private long _refused;
    private long _unsent;

    internal UcxFabric()
    {
        _context = UcxContext.Create(UcxOperations.Messages); // nothing one-sided: a peer reaches only our handlers
        _self = GCHandle.Alloc(this);
        // Writes this process completed land before it is gone, or their receivers' counts rise (API.md: exit flushes).
        // A .NET process raises ProcessExit; a C program through libimc.so does not (NativeAOT in a host it does not
        // own), and calls FlushAtExit from its own atexit handler instead.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => FlushAtExit();
    }

    /// <summary>The exit flush: every write so far lands, or its receivers count it, within a bounded wait.</summary>
    internal void FlushAtExit() => FlushWithin(s_exitFlush);

    /// <summary>
    /// Raises this machine's error count of a logical rail: a write of this process was refused by its target (the
    /// memory was withdrawn). Set by the directory that routes this process's writes.
    /// </summary>
    public Action<int>? RefusedOnRail { get; set; }

    /// <summary>Writes of this process that a target machine refused.</summary>
    public long Refused => Volatile.Read(ref _refused);

    /// <summary>
    /// The sends of every worker of this process so far (<see cref="UcxWorker.Puts"/> and its kin, summed): how many,
    /// how many did not complete at once, and the stopwatch ticks spent waiting for those.
    /// </summary>
    internal (long Sends, long Waited, long WaitTicks) SendCounters()
    {
        UcxWorker[] workers;
        lock (_links)
        {
            workers = [.. _linksByIndex.Select(l => l.Worker)];
        }

        return (workers.Sum(w => w.Puts), workers.Sum(w => w.PutsWaited), workers.Sum(w => w.PutWaitTicks));
    }

    /// <summary>Writes of this process that were not sent: its machine was fenced, or is in a later epoch.</summary>
    public long Unsent => Volatile.Read(ref _unsent);

    /// <summary>
    /// Opens the way into one remote receive memory, for a process that stands in the cluster as
    /// <paramref name="standing"/> says: its writes carry that epoch, and are not sent once it is not current.
    /// </summary>
    public IDeliveryTarget OpenTarget(RemoteMemory memory, Store.MachineStanding standing) =>
        new NicTarget(this, Link(memory, standing), memory.Id, memory.Rail, memory.Length, standing);

    /// <summary>The link to the agent of <paramref name="memory"/>'s machine, made on first use.</summary>
    private NicLink Link(RemoteMemory memory, Store.MachineStanding standing) => Link(memory.Worker, memory.Machine, standing);

    /// <summary>
    /// The link to <paramref name="machine"/>'s agent, at <paramref name="address"/>, made on first use with the cluster
    /// key of <paramref name="standing"/> (fetched from this machine's imcd then, once per process: an agent's address
    /// names one cluster's).
    /// </summary>
    private NicLink Link(byte[] address, string machine, Store.MachineStanding standing)
    {
        lock (_links)
        {
            var id = Convert.ToBase64String(address);
            if (!_links.TryGetValue(id, out var link))
            {
                // A worker of its own (see the remarks above), which takes in the target's answers as it progresses.
                var key = standing.ClusterKey(); // before the worker: a key that cannot be had leaves nothing behind
                var worker = _context.CreateWorker();
                worker.SetMessageHandler(NicMessages.Flushed, &OnFlushed, GCHandle.ToIntPtr(_self));
                worker.SetMessageHandler(NicMessages.Refused, &OnRefused, GCHandle.ToIntPtr(_self));
                worker.SetMessageHandler(NicMessages.ReadData, &OnReadData, GCHandle.ToIntPtr(_self));
                link = new NicLink(worker, address, $"machine '{machine}'", _writer, _linksByIndex.Count, key);
                _links[id] = link;
                _linksByIndex.Add(link);
            }

            return link;
        }
    }

    /// <summary>A write not sent because this process's machine is fenced or in a later epoch: counted on its rail.</summary>
    internal void CountUnsent(int rail)
    {
        Interlocked.Increment(ref _unsent);
        RefusedOnRail?.Invoke(rail);
    }

    /// <summary>
    /// Opens the <paramref name="words"/> words of <paramref name="machine"/>'s lock arena, reached through its agent
    /// (<paramref name="worker"/>), for a process that stands in the cluster as <paramref name="standing"/> says: its
    /// operations carry that epoch, and the agent refuses them once the epoch ended.
    /// </summary>
    public ILockWords OpenWords(string machine, byte[] worker, int words, Store.MachineStanding standing) =>
        new NicLockWords(Link(worker, machine, standing), words, standing);

    /// <summary>
    /// Reads the first <paramref name="length"/> bytes of a remote receive memory into <paramref name="destination"/>,
    /// through its machine's agent (the emulated NIC's reads, <see cref="NicMessages.Read"/>, of at most
    /// <see cref="NicMessages.MaxPayload"/> each), for a process that stands in the cluster as <paramref name="standing"/>
    /// says. Throws <see cref="DriverException"/> when the agent cannot be reached, does not answer, or refuses (the
    /// memory was withdrawn).
    /// </summary>
    public void Read(RemoteMemory memory, byte* destination, long length, Store.MachineStanding standing)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, memory.Length);
        standing.ThrowIfLost("the first copy of a coherent region could not be read from another machine");
        var link = Link(memory, standing);
        for (long done = 0; done < length; done += NicMessages.MaxPayload)
        {
            link.Read(memory.Id, standing.Epoch, done, destination + done, (int)Math.Min(NicMessages.MaxPayload, length - done));
        }
    }

    /// <summary>
    /// Returns once every write this process issued so far toward other machines has been applied there, or counted
    /// there as lost; a machine that cannot be reached within <see cref="UcxWorker.DefaultTimeout"/> is given up on (its
    /// counts rise when it is next reached). True when every machine answered.
    /// </summary>
    public bool FlushAll() => FlushWithin(UcxWorker.DefaultTimeout);

    private bool FlushWithin(TimeSpan timeout)
    {
        NicLink[] links;
        lock (_links)
        {
            links = [.. _linksByIndex];
        }

        // One deadline for all (a machine that does not answer takes its time from the others), but each gets a moment:
        // an answering machine answers within a round trip.
        var deadline = DateTime.UtcNow + timeout;
        var all = true;
        foreach (var link in links)
        {
            var left = deadline - DateTime.UtcNow;
            all &= link.Flush(left > s_flushAtLeast ? left : s_flushAtLeast);
        }

        return all;
    }

    /// <summary>
    /// The link an answer's token names (<see cref="NicLink.IndexOf"/>), or null. Called inside progress, under that
    /// link's worker's lock: the links list only grows, under its own lock.
    /// </summary>
    private NicLink? LinkOf(ulong token)
    {
        var index = NicLink.IndexOf(token);
        lock (_links)
        {
            return index < _linksByIndex.Count ? _linksByIndex[index] : null;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static sbyte OnFlushed(nint argument, byte* header, nuint headerLength, byte* data, nuint length,
        Interop.Ucx.AmRecvParam* param)
    {
        try
        {
            if (headerLength == (nuint)sizeof(NicMessages.FlushedHeader))
            {
                var self = (UcxFabric)GCHandle.FromIntPtr(argument).Target!;
                var token = Unsafe.ReadUnaligned<NicMessages.FlushedHeader>(header).Token;
                self.LinkOf(token)?.OnFlushed(token);
            }
        }
        catch (Exception)
        {
            // Nothing may leave a handler that UCX called; the flush that waits for this answer times out instead.
        }

        return Interop.Ucx.Ok;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static sbyte OnReadData(nint argument, byte* header, nuint headerLength, byte* data, nuint length,
        Interop.Ucx.AmRecvParam* param)
    {
        try
        {
            if (headerLength == (nuint)sizeof(NicMessages.ReadDataHeader) && (param->RecvAttr & Interop.Ucx.AmRecvAttrFlagRndv) == 0)
            {
                var self = (UcxFabric)GCHandle.FromIntPtr(argument).Target!;
                var answer = Unsafe.ReadUnaligned<NicMessages.ReadDataHeader>(header);
                self.LinkOf(answer.Token)?.OnReadData(answer.Token, answer.Refusal, data, (long)length);
            }
        }
        catch (Exception)
        {
            // As in OnFlushed: the read waiting for this answer times out instead.
        }

        return Interop.Ucx.Ok;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static sbyte OnRefused(nint argument, byte* header, nuint headerLength, byte* data, nuint length,
        Interop.Ucx.AmRecvParam* param)
    {
        try
        {
            if (headerLength == (nuint)sizeof(NicMessages.RefusedHeader))
            {
                var self = (UcxFabric)GCHandle.FromIntPtr(argument).Target!;
                var refused = Unsafe.ReadUnaligned<NicMessages.RefusedHeader>(header);
                Interlocked.Increment(ref self._refused);
                if ((uint)refused.Rail < NicMessages.Rails)
                {
                    self.RefusedOnRail?.Invoke(refused.Rail); // counted on the writer's rail (API.md, a withdrawn receive memory)
                }
            }
        }
        catch (Exception)
        {
            // As above: the refusal is counted in Refused, if not on the rail.
        }

        return Interop.Ucx.Ok;
    }
}

/// <summary>
/// The words of another machine's lock arena, reached through its agent (<see cref="NicMessages.Words"/>): the agent
/// applies every operation, so every process, on that machine too, shares one atomicity domain, and refuses the
/// operations of an ended epoch. The link repairs itself, so these words never break; an operation whose answer did
/// not come throws, and may have been applied.
/// </summary>
internal sealed class NicLockWords(NicLink link, int words, Store.MachineStanding standing) : ILockWords
{
    public bool IsBroken => false; // the link connects again by itself on the next operation

    public long CompareAndSwap(int index, long expected, long desired)
    {
        Span<long> old = stackalloc long[1];
        link.Words(NicMessages.WordOp.CompareAndSwap, standing.Epoch, Check(index, 1), 1, expected, desired, [], old);
        return old[0];
    }

    public void Read(int index, Span<long> destination) =>
        link.Words(NicMessages.WordOp.Read, standing.Epoch, Check(index, destination.Length), destination.Length, 0, 0, [], destination);

    public void Write(int index, ReadOnlySpan<long> source) =>
        link.Words(NicMessages.WordOp.Write, standing.Epoch, Check(index, source.Length), source.Length, 0, 0, source, []);

    public void Dispose()
    {
        // The link is the process's and stays.
    }

    private int Check(int index, int count) =>
        index >= 0 && count is >= 1 and <= NicMessages.MaxWords && index <= words - count
            ? index
            : throw new ArgumentOutOfRangeException(nameof(index), $"words {index} to {index + count - 1} are outside the {words} words of the arena");
}

/// <summary>
/// One receive memory on another machine, reached through the emulated NIC (<see cref="NicLink"/>): writes through
/// every target on one link land in the order issued, aligned words whole, and a write never throws because the
/// machine is away (its receivers' error counts rise instead).
/// </summary>
internal sealed class NicTarget(UcxFabric peers, NicLink link, ulong memory, int rail, long size, Store.MachineStanding standing)
    : IDeliveryTarget
{
    public nint LocalAddress => 0; // another machine's memory: every put is a message

    public unsafe bool Start(long offset, byte* source, int length)
    {
        if ((ulong)offset + (ulong)length > (ulong)size)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"a put of {length} bytes at {offset} leaves the remote memory of {size} bytes");
        }

        if (!standing.IsCurrent)
        {
            peers.CountUnsent(rail); // fenced, or a later epoch: the cluster may hold this machine for dead
            return false;
        }

        return link.Start(memory, rail, standing.Epoch, offset, source, length);
    }

    public bool TryComplete() => link.TryComplete();

    /// <summary>Returns once every earlier write through the link has been applied at the target (or counted there as lost).</summary>
    public void Fence() => link.Flush(link.Timeout);

    public void Dispose()
    {
        // The link is the process's and stays; a write still under way through an old route is refused by the target
        // once the memory is withdrawn.
    }
}
