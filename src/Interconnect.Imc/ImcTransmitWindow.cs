using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Interconnect.Driver;

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
            _transmitter.Write32(offset, Unsafe.As<T, uint>(ref value));
        }
        else if (Unsafe.SizeOf<T>() == sizeof(ulong))
        {
            _transmitter.Write64(offset, Unsafe.As<T, ulong>(ref value));
        }
        else
        {
            _transmitter.Write(offset, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));
        }
    }

    /// <summary>Copies <paramref name="source"/> to <paramref name="offset"/> (<c>imc_bcopy</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The bytes do not fit in the window at that offset.</exception>
    public void Write(long offset, ReadOnlySpan<byte> source) => _transmitter.Write(offset, source);

    /// <summary>
    /// mb(): a full barrier. Writes through a window are already seen in order, so ported code's barriers between a
    /// payload and its flag cost little and change nothing.
    /// </summary>
#pragma warning disable CA1822 // an instance method, as mb() is used on a mapping in ported code
    public void Barrier() => Transmitter.Barrier();
#pragma warning restore CA1822

    /// <summary>Detaches this direction.</summary>
    public void Dispose()
    {
        _transmitter.Dispose();
        _region.Detached(this);
    }
}
