using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Interconnect.Driver.Interop;

namespace Interconnect.Driver;

/// <summary>
/// The data path of a receive attach: this host's receive memory of the region, mapped read-only. Reads are plain
/// loads, with no lock and no system call. Disposing never pulls the memory from under a reader: a thread still
/// inside a read, or holding a span from <see cref="AsSpan"/>, keeps reading the last bytes from a private copy
/// (never a fault), and later reads throw <see cref="ObjectDisposedException"/>.
/// </summary>
internal sealed unsafe class ReceivePort : IDisposable
{
    private readonly DriverSession _session;
    private readonly RegionHandle _region;
    private readonly MappedFile _file;
    private readonly long _length;
    private byte* _pointer;

    internal ReceivePort(DriverSession session, RegionHandle region, MappedFile file)
    {
        _session = session;
        _region = region;
        _file = file;
        _length = region.Size;
        _pointer = file.Pointer;
        session.Track(this);
    }

    public long Length => _length;

    public RegionHandle Region => _region;

    /// <summary>An acquire read of an aligned 4-byte value.</summary>
    public uint Read32(long offset)
    {
        var p = At(offset, sizeof(uint));
        // Volatile: an acquire load, so reads after it see at least what was written before this value.
        var value = (offset & 3) == 0 ? Volatile.Read(ref *(uint*)p) : ReadUnalignedAcquire<uint>(p);
        GC.KeepAlive(this); // the mapping behind p lives as long as this port
        return value;
    }

    /// <summary>An acquire read of an aligned 8-byte value.</summary>
    public ulong Read64(long offset)
    {
        var p = At(offset, sizeof(ulong));
        // Volatile: an acquire load, so reads after it see at least what was written before this value.
        var value = (offset & 7) == 0 ? Volatile.Read(ref *(ulong*)p) : ReadUnalignedAcquire<ulong>(p);
        GC.KeepAlive(this); // the mapping behind p lives as long as this port
        return value;
    }

    /// <summary>Reads a value of any unmanaged type, then orders later reads after it.</summary>
    public T Read<T>(long offset)
        where T : unmanaged
    {
        var p = At(offset, sizeof(T));
        var value = ReadUnalignedAcquire<T>(p);
        GC.KeepAlive(this); // the mapping behind p lives as long as this port
        return value;
    }

    public void Read(long offset, Span<byte> destination)
    {
        var p = At(offset, destination.Length);
        new ReadOnlySpan<byte>(p, destination.Length).CopyTo(destination);
        Volatile.ReadBarrier(); // later reads are not satisfied before this copy
        GC.KeepAlive(this); // the mapping behind p lives as long as this port
    }

    /// <summary>
    /// A view of the receive memory itself. After the window is disposed the view shows the last bytes, as long as
    /// the window object is reachable.
    /// </summary>
    public ReadOnlySpan<byte> AsSpan(long offset, int length) => new(At(offset, length), length);

    public void Dispose()
    {
        var pointer = _pointer;
        if (pointer == null)
        {
            return;
        }

        _pointer = null;
        // Not unmapped: a reader may be inside a read, or hold a span. A copy of the last bytes takes the file's place
        // (taken while the file is still there), the file's pages go with the detach below (its last receive attach
        // removes it), and the finalizer unmaps the copy once no one can reach it.
        _file.Retire(keepContents: true);
        _session.Untrack(this);
        _session.DetachQuietly(_region, receive: true, transmit: false);
    }

    private static T ReadUnalignedAcquire<T>(byte* p)
        where T : unmanaged
    {
        var value = Unsafe.ReadUnaligned<T>(p);
        Volatile.ReadBarrier(); // acquire: later reads are not satisfied before this one
        return value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* At(long offset, int length)
    {
        var pointer = _pointer;
        if (pointer == null)
        {
            ThrowDisposed();
        }

        if ((ulong)offset > (ulong)_length || (ulong)(uint)length > (ulong)(_length - offset) || length < 0)
        {
            ThrowOutside(offset, length);
        }

        return pointer + offset;
    }

    [DoesNotReturn]
    private void ThrowOutside(long offset, int length) =>
        throw new ArgumentOutOfRangeException(nameof(offset),
            $"a read of {length} bytes at offset {offset} does not fit in region key {_region.Key} of {_length} bytes");

    [DoesNotReturn]
    private void ThrowDisposed() => throw new ObjectDisposedException(nameof(ReceivePort),
        $"the receive window of region key {_region.Key} is detached");
}
