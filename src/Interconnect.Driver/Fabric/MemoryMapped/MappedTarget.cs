using Interconnect.Driver.Interop;

namespace Interconnect.Driver.Fabric.MemoryMapped;

/// <summary>
/// A receive memory on this machine, mapped read-write into the writer: a put is a store. <see cref="Route"/> takes
/// its <see cref="LocalAddress"/> and stores directly on the fast path; the interface methods serve everything else.
/// </summary>
internal sealed unsafe class MappedTarget(MappedFile file) : IDeliveryTarget
{
    public nint LocalAddress => (nint)file.Pointer;

    public bool Start(long offset, byte* source, int length)
    {
        var target = file.Pointer + offset;
        if (length == sizeof(ulong) && (offset & 7) == 0)
        {
            Volatile.Write(ref *(ulong*)target, *(ulong*)source); // a release store, whole, after every earlier put
        }
        else if (length == sizeof(uint) && (offset & 3) == 0)
        {
            Volatile.Write(ref *(uint*)target, *(uint*)source);
        }
        else
        {
            // Orders this copy after every earlier put (a compiler-only barrier on x86, whose stores stay in order).
            Volatile.WriteBarrier();
            Buffer.MemoryCopy(source, target, length, length);
        }

        return false; // a store: done
    }

    public bool TryComplete() => true;

    // A store is visible to every process that maps the file once it leaves this CPU's store buffer.
    public void Fence() => Interlocked.MemoryBarrier();

    /// <summary>
    /// Releases the receive file's pages at once; the address range stays valid (zeros) until no route refers to
    /// this target, so a write still under way through an old route faults nothing.
    /// </summary>
    public void Dispose() => file.Retire(keepContents: false);
}
