using System.Buffers;

namespace Interconnect.Imc.Streams;

/// <summary>
/// A <see cref="MemoryManager{T}"/> over one slot's payload in the receive memory, so that the reader's buffers are
/// the receive memory itself (zero-copy). The mapping lives as long as the receive window: pinning is a no-op.
/// </summary>
internal sealed unsafe class ReceiveMemory : MemoryManager<byte>
{
    private readonly byte* _pointer;
    private readonly int _length;

    public ReceiveMemory(ReadOnlySpan<byte> mapped)
    {
        fixed (byte* pointer = mapped)
        {
            _pointer = pointer; // mapped memory, not the GC heap: the address stays valid after fixed ends
        }

        _length = mapped.Length;
    }

    public override Span<byte> GetSpan() => new(_pointer, _length);

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)elementIndex, (uint)_length, nameof(elementIndex));
        return new MemoryHandle(_pointer + elementIndex);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}
