using Interconnect.Driver.Directory;

namespace Interconnect.Driver.Fabric.Ucx;

/// <summary>
/// This process's way to other machines' receive memory: one UCX context and worker for the process, made on the
/// first write toward another machine, and one endpoint per remote machine's agent, shared by every target there.
/// </summary>
internal sealed class UcxPeers
{
    private static readonly Lazy<UcxPeers> s_shared = new(() => new UcxPeers(), LazyThreadSafetyMode.ExecutionAndPublication);
    private readonly UcxContext _context;
    private readonly UcxWorker _worker;
    private readonly Dictionary<string, UcxEndpoint> _endpoints = [];

    private UcxPeers()
    {
        _context = UcxContext.Create();
        _worker = _context.CreateWorker();
    }

    public static UcxPeers Shared => s_shared.Value;

    /// <summary>Opens the way into one remote receive memory.</summary>
    public IDeliveryTarget OpenTarget(RemoteMemory memory)
    {
        lock (_endpoints)
        {
            var endpoint = Endpoint(memory.Worker, memory.Machine);
            return new UcxTarget(endpoint, endpoint.UnpackKey(memory.RemoteKey), memory.Address, memory.Length);
        }
    }

    /// <summary>Opens 8-byte words in memory that <paramref name="machine"/>'s agent registered (a lock arena).</summary>
    public UcxWords OpenWords(string machine, byte[] worker, ulong address, byte[] packedKey, int words)
    {
        lock (_endpoints)
        {
            var endpoint = Endpoint(worker, machine);
            return new UcxWords(endpoint, endpoint.UnpackKey(packedKey), address, words);
        }
    }

    /// <summary>
    /// Reads the first <paramref name="length"/> bytes of a remote receive memory into <paramref name="destination"/>
    /// (gets of at most 1 MiB each, so each stays well within the worker's deadline).
    /// </summary>
    public unsafe void Read(RemoteMemory memory, byte* destination, long length)
    {
        const int Piece = 1 << 20;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, memory.Length);
        UcxEndpoint endpoint;
        UcxRemoteKey key;
        lock (_endpoints)
        {
            endpoint = Endpoint(memory.Worker, memory.Machine);
            key = endpoint.UnpackKey(memory.RemoteKey);
        }

        using (key)
        {
            for (long done = 0; done < length; done += Piece)
            {
                var size = (int)Math.Min(Piece, length - done);
                endpoint.Get(new Span<byte>(destination + done, size), memory.Address + (ulong)done, key);
            }
        }
    }

    /// <summary>
    /// Returns once every put this process issued so far has landed in its remote memory: each endpoint is flushed
    /// (one that has nothing outstanding completes at once).
    /// </summary>
    public void FlushAll()
    {
        UcxEndpoint[] endpoints;
        lock (_endpoints)
        {
            endpoints = [.. _endpoints.Values];
        }

        foreach (var endpoint in endpoints)
        {
            if (!endpoint.IsBroken)
            {
                endpoint.Flush(); // a broken one lost its puts anyway: the receivers' error counts say so
            }
        }
    }

    /// <summary>This process's worker, for its counters.</summary>
    internal UcxWorker Worker => _worker;

    /// <summary>Whether any endpoint was opened: a process that never reached another machine has nothing to flush.</summary>
    public static bool Started => s_shared.IsValueCreated;

    /// <summary>The endpoint to a machine's agent, made again when broken. Under the lock.</summary>
    private UcxEndpoint Endpoint(byte[] worker, string machine)
    {
        var id = Convert.ToBase64String(worker);
        if (!_endpoints.TryGetValue(id, out var endpoint) || endpoint.IsBroken)
        {
            endpoint?.Dispose();
            endpoint = _worker.Connect(worker, $"machine '{machine}'");
            _endpoints[id] = endpoint;
        }

        return endpoint;
    }
}

/// <summary>
/// 8-byte words in another machine's registered memory (a lock arena), changed only by UCX atomics, so that every
/// process, on that machine too, shares one atomicity domain: the target's UCX.
/// </summary>
internal sealed class UcxWords(UcxEndpoint endpoint, UcxRemoteKey key, ulong address, int words) : IDisposable
{
    /// <summary>True once the endpoint broke (the home machine's agent failed or a call timed out): open the words again.</summary>
    public bool IsBroken => endpoint.IsBroken;

    /// <summary>Replaces word <paramref name="index"/> by <paramref name="desired"/> if it holds <paramref name="expected"/>; returns what it held.</summary>
    public long CompareAndSwap(int index, long expected, long desired) =>
        (long)endpoint.CompareAndSwap64(At(index), key, (ulong)expected, (ulong)desired);

    /// <summary>Reads words from <paramref name="index"/> into <paramref name="destination"/> (each word whole).</summary>
    public void Read(int index, Span<long> destination)
    {
        _ = At(index + destination.Length - 1);
        endpoint.Get(System.Runtime.InteropServices.MemoryMarshal.AsBytes(destination), At(index), key);
    }

    /// <summary>Writes words from <paramref name="index"/> and returns once they have landed.</summary>
    public void Write(int index, ReadOnlySpan<long> source)
    {
        _ = At(index + source.Length - 1);
        endpoint.Put(System.Runtime.InteropServices.MemoryMarshal.AsBytes(source), At(index), key);
        endpoint.Flush();
    }

    public void Dispose() => key.Dispose();

    private ulong At(int index) =>
        (uint)index < (uint)words
            ? address + ((ulong)index * sizeof(long))
            : throw new ArgumentOutOfRangeException(nameof(index), $"word {index} is outside the {words} words of the arena");
}

/// <summary>
/// One receive memory on another machine, reached by one-sided puts through the endpoint to that machine's agent.
/// Puts from one writer land in the order issued: UCP does not promise order between puts, so each put is preceded by
/// a worker fence (about 0.07 µs here; over one tcp connection the order held without it in 100,000 payload-then-flag
/// messages, but not every transport keeps it). Aligned 4- and 8-byte puts land whole.
/// </summary>
internal sealed class UcxTarget(UcxEndpoint endpoint, UcxRemoteKey key, ulong address, long length) : IDeliveryTarget
{
    public void Put(long offset, ReadOnlySpan<byte> source)
    {
        if ((ulong)offset + (ulong)source.Length > (ulong)length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"a put of {source.Length} bytes at {offset} leaves the remote memory of {length} bytes");
        }

        endpoint.Worker.Fence(); // after every earlier put from this process
        endpoint.Put(source, address + (ulong)offset, key);
    }

    public void Put32(long offset, uint value)
    {
        Span<byte> word = stackalloc byte[sizeof(uint)];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(word, value);
        Put(offset, word);
    }

    public void Put64(long offset, ulong value)
    {
        Span<byte> word = stackalloc byte[sizeof(ulong)];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(word, value);
        Put(offset, word);
    }

    /// <summary>Returns once every earlier put has landed in the remote memory (a flush of the endpoint).</summary>
    public void Fence() => endpoint.Flush();

    public void Dispose() => key.Dispose();
}
