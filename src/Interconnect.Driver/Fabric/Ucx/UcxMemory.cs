using Interconnect.Driver.Interop;
using Native = Interconnect.Driver.Interop.Ucx;

namespace Interconnect.Driver.Fabric.Ucx;

/// <summary>
/// Memory registered with UCX for remote access (<c>ucp_mem_map</c> over memory the caller mapped). It does not own
/// the memory: disposing unregisters it, and the caller unmaps it afterwards. The unmap runs when the handle is
/// released (<see cref="SafeUcxMemoryHandle"/>): at once, or when a <see cref="PackKey"/> still running on another
/// thread returns; the context is cleaned up only after it.
/// </summary>
internal sealed unsafe class UcxMemory : IDisposable
{
    private readonly UcxContext _context;
    private readonly SafeUcxMemoryHandle _handle;

    internal UcxMemory(UcxContext context, SafeUcxMemoryHandle handle, nint address, long length)
    {
        _context = context;
        _handle = handle;
        Address = address;
        Length = length;
    }

    /// <summary>The first registered byte: peers address it as <c>(ulong)Address + offset</c>.</summary>
    public nint Address { get; }

    public long Length { get; }

    /// <summary>
    /// The remote key a peer unpacks (<see cref="UcxEndpoint.UnpackKey"/>) to reach this memory: UCX's packed key in a
    /// checksummed envelope (<see cref="UcxWireFormat"/>).
    /// </summary>
    public byte[] PackKey()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this); // the marshaller would throw too, naming no class
        nint buffer;
        nuint length;
        UcxException.Check(Native.RkeyPack(_handle.Context, _handle, &buffer, &length), DriverStatus.NoResources,
            $"packing the remote key of {Length} bytes at 0x{Address:x} failed");
        try
        {
            return UcxWireFormat.Wrap(UcxWireFormat.KeyMagic, new ReadOnlySpan<byte>((void*)buffer, checked((int)length)));
        }
        finally
        {
            Native.RkeyBufferRelease(buffer);
        }
    }

    public void Dispose()
    {
        _handle.Dispose(); // once, whichever thread: a SafeHandle's dispose is idempotent and thread-safe
        _context.Forget(this);
    }
}
