using System.Runtime.CompilerServices;
using Interconnect.Driver;

namespace Interconnect.Imc;

/// <summary>
/// A receive attach: this host's receive memory of the region, read with plain loads (zero-copy, no lock, no call
/// into the operating system).
/// </summary>
public sealed class ImcReceiveWindow : IDisposable
{
    private readonly ImcRegion _region;
    private readonly ReceivePort _port;

    internal ImcReceiveWindow(ImcRegion region, ReceivePort port)
    {
        _region = region;
        _port = port;
    }

    /// <summary>The region's size in bytes.</summary>
    public long Length => _port.Length;

    /// <summary>Reads a value with acquire semantics: reads after it see at least what was written before it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value does not fit in the window at that offset.</exception>
    public T Read<T>(long offset)
        where T : unmanaged
    {
        if (Unsafe.SizeOf<T>() == sizeof(uint))
        {
            var value = _port.Read32(offset);
            return Unsafe.As<uint, T>(ref value);
        }

        if (Unsafe.SizeOf<T>() == sizeof(ulong))
        {
            var value = _port.Read64(offset);
            return Unsafe.As<ulong, T>(ref value);
        }

        return _port.Read<T>(offset);
    }

    /// <summary>Copies bytes from <paramref name="offset"/> into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The bytes do not fit in the window at that offset.</exception>
    public void Read(long offset, Span<byte> destination) => _port.Read(offset, destination);

    /// <summary>A zero-copy view of the receive memory, valid until this window is disposed.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range does not fit in the window.</exception>
    public ReadOnlySpan<byte> AsSpan(long offset, int length) => _port.AsSpan(offset, length);

    /// <summary>Detaches this direction.</summary>
    public void Dispose()
    {
        _port.Dispose();
        _region.Detached(this);
    }
}
