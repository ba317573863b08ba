using System.Runtime.InteropServices;

namespace Interconnect.Benchmarks;

/// <summary>
/// N page-aligned native buffers standing in for N receivers' memory: what the baselines copy into, with the same
/// .NET calls the transmitter makes, but no library around them.
/// </summary>
public sealed unsafe class NativeTargets : IDisposable
{
    private readonly nint[] _buffers;

    public NativeTargets(int count, int length)
    {
        Length = length;
        _buffers = new nint[count];
        for (var i = 0; i < count; i++)
        {
            _buffers[i] = (nint)NativeMemory.AlignedAlloc((nuint)length, 4096);
            NativeMemory.Clear((void*)_buffers[i], (nuint)length);
        }
    }

    public int Length { get; }

    public int Count => _buffers.Length;

    public byte* this[int index] => (byte*)_buffers[index];

    public void Dispose()
    {
        for (var i = 0; i < _buffers.Length; i++)
        {
            NativeMemory.AlignedFree((void*)_buffers[i]);
            _buffers[i] = 0;
        }
    }
}
