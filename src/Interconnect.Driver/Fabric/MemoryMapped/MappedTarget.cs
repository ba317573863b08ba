using Interconnect.Driver.Interop;

namespace Interconnect.Driver.Fabric.MemoryMapped;

/// <summary>
/// A receive memory on this machine, mapped read-write into the writer: a put is a store. <see cref="Route"/> takes
/// its <see cref="LocalAddress"/> and stores directly on the fast path; the interface methods serve everything else.
/// </summary>
internal sealed unsafe class MappedTarget(MappedFile file) : IDeliveryTarget
{
    public nint LocalAddress => (nint)file.Pointer;

    public void Put(long offset, ReadOnlySpan<byte> source)
    {
        // Orders this copy after every earlier put (a compiler-only barrier on x86, whose stores stay in order).
        Volatile.WriteBarrier();
        source.CopyTo(new Span<byte>(file.Pointer + offset, source.Length));
    }

    // Volatile: release stores, whole, after every earlier put.
    public void Put32(long offset, uint value) => Volatile.Write(ref *(uint*)(file.Pointer + offset), value);

    public void Put64(long offset, ulong value) => Volatile.Write(ref *(ulong*)(file.Pointer + offset), value);

    // A store is visible to every process that maps the file once it leaves this CPU's store buffer.
    public void Fence() => Interlocked.MemoryBarrier();

    /// <summary>
    /// Releases the receive file's pages at once; the address range stays valid (zeros) until no route refers to
    /// this target, so a write still under way through an old route faults nothing.
    /// </summary>
    public void Dispose() => file.Retire(keepContents: false);
}
