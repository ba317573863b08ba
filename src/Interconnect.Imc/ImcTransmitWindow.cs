using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Interconnect.Driver;
using Interconnect.Imc.Internal;

namespace Interconnect.Imc;

/// <summary>
/// A transmit attach: write-only, as the hardware's transmit mapping. Writes reach every receiving host in the order
/// they are issued; an aligned 4- or 8-byte value lands whole. Writes allocate nothing.
/// </summary>
public sealed class ImcTransmitWindow : IDisposable
{
    private readonly ImcRegion _region;
    private readonly Transmitter _transmitter;

    internal ImcTransmitWindow(ImcRegion region, Transmitter transmitter)
    {
        _region = region;
        _transmitter = transmitter;
    }

    /// <summary>The region's size in bytes.</summary>
    public long Length => _transmitter.Length;

    /// <summary>Writes <paramref name="value"/> at <paramref name="offset"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value does not fit in the window at that offset.</exception>
    public void Write<T>(long offset, T value)
        where T : unmanaged
    {
        if (Unsafe.SizeOf<T>() == sizeof(uint))
        {
            if (!_transmitter.TryWrite32(offset, Unsafe.As<T, uint>(ref value)))
            {
                WriteSlow(offset, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));
            }
        }
        else if (Unsafe.SizeOf<T>() == sizeof(ulong))
        {
            if (!_transmitter.TryWrite64(offset, Unsafe.As<T, ulong>(ref value)))
            {
                WriteSlow(offset, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));
            }
        }
        else
        {
            Write(offset, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));
        }
    }

    /// <summary>Copies <paramref name="source"/> to <paramref name="offset"/> (<c>imc_bcopy</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The bytes do not fit in the window at that offset.</exception>
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        if (!_transmitter.TryWrite(offset, source))
        {
            WriteSlow(offset, source);
        }
    }

    /// <summary>
    /// mb(): a full barrier. Writes through a window are already seen in order, so ported code's barriers between a
    /// payload and its flag cost little and change nothing.
    /// </summary>
    public void Barrier() => _transmitter.Barrier();

    /// <summary>A direct region's memory for plain stores (see <see cref="Transmitter.DirectAddress"/>).</summary>
    internal nint DirectAddress() => _transmitter.DirectAddress();

    /// <summary>Detaches this direction.</summary>
    public void Dispose()
    {
        _transmitter.Dispose();
        _region.Detached(this);
    }

    /// <summary>A write the fast path declined (see <see cref="Transmitter.WriteSlow"/>): the API's boundary for the data path.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteSlow(long offset, ReadOnlySpan<byte> source)
    {
        try
        {
            _transmitter.WriteSlow(offset, source);
        }
        catch (DriverException e)
        {
            ThrowHelper.From(e);
        }
    }
}
