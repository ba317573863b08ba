using Native = Interconnect.Driver.Interop.Ucx;

namespace Interconnect.Driver.Fabric.Ucx;

/// <summary>
/// Memory registered with UCX for remote access (<c>ucp_mem_map</c> over memory the caller mapped). It does not own
/// the memory: disposing unregisters it, and the caller unmaps it afterwards.
/// </summary>
internal sealed unsafe class UcxMemory : IDisposable
{
    private readonly UcxContext _context;
    private nint _handle;

    internal UcxMemory(UcxContext context, nint handle, nint address, long length)
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
        ObjectDisposedException.ThrowIf(_handle == 0, this);
        nint buffer;
        nuint length;
        UcxException.Check(Native.RkeyPack(_context.Handle, _handle, &buffer, &length), DriverStatus.NoResources,
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
        var handle = Interlocked.Exchange(ref _handle, 0); // one disposer unmaps, whichever thread
        if (handle != 0)
        {
            _context.Unmap(this, handle);
        }
    }
}
