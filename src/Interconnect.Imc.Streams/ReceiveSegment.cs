using System.Buffers;

namespace Interconnect.Imc.Streams;

/// <summary>One slot's payload as a segment of the reader's buffer; relinked on each read, never allocated per read.</summary>
internal sealed class ReceiveSegment : ReadOnlySequenceSegment<byte>
{
    public ReceiveSegment(int slot, ReadOnlyMemory<byte> slotPayload)
    {
        Slot = slot;
        SlotPayload = slotPayload;
    }

    public int Slot { get; }

    public ReadOnlyMemory<byte> SlotPayload { get; }

    public void Set(int length, long runningIndex)
    {
        Memory = SlotPayload[..length];
        RunningIndex = runningIndex;
        Next = null;
    }

    public void Link(ReceiveSegment next) => Next = next;
}
