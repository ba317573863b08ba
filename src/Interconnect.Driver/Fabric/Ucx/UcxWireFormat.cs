using System.Buffers.Binary;
using System.Numerics;

namespace Interconnect.Driver.Fabric.Ucx;

/// <summary>
/// How a worker address and a packed remote key travel between processes: UCX's bytes behind a small envelope,
/// <c>[magic u32][length u32][crc32c u32][UCX bytes]</c>, little-endian.
/// </summary>
/// <remarks>
/// UCX 1.13 trusts these bytes completely: <c>ucp_ep_create</c> aborts the process on an address whose version nibble
/// is wrong (<c>ucs_assertv_always</c> in <c>ucp_address_unpack_header</c>), and both parsers follow the lengths the
/// bytes contain. A torn or stale value read from the directory, or any garbage, must fail with a clear
/// <see cref="UcxException"/> instead, so the binding publishes the envelope (<see cref="UcxWorker.Address"/>,
/// <see cref="UcxMemory.PackKey"/>) and opens it before UCX sees anything (<see cref="UcxWorker.Connect"/>,
/// <see cref="UcxEndpoint.UnpackKey"/>). It is a check against corruption, not against a forger: the directory is
/// trusted.
/// </remarks>
internal static class UcxWireFormat
{
    /// <summary>"UCXA": a worker address, version 1 of the envelope.</summary>
    public const uint AddressMagic = 0x41584355;

    /// <summary>"UCXK": a packed remote key, version 1 of the envelope.</summary>
    public const uint KeyMagic = 0x4b584355;

    private const int HeaderLength = 3 * sizeof(uint);

    /// <summary>The packed remote key's own header: the memory-domain map and the memory type (ucp_rkey.c).</summary>
    private const int KeyHeader = sizeof(ulong) + 1;

    /// <summary>UCS_MEMORY_TYPE_HOST: the only memory this fabric registers.</summary>
    private const byte MemoryTypeHost = 0;

    public static byte[] Wrap(uint magic, ReadOnlySpan<byte> payload)
    {
        var wrapped = new byte[HeaderLength + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(wrapped, magic);
        BinaryPrimitives.WriteUInt32LittleEndian(wrapped.AsSpan(4), (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(wrapped.AsSpan(8), Crc32C(payload));
        payload.CopyTo(wrapped.AsSpan(HeaderLength));
        return wrapped;
    }

    /// <summary>The UCX bytes inside <paramref name="wrapped"/>, or false when it is not an intact envelope of that kind.</summary>
    public static bool TryOpen(uint magic, ReadOnlySpan<byte> wrapped, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (wrapped.Length < HeaderLength || BinaryPrimitives.ReadUInt32LittleEndian(wrapped) != magic ||
            BinaryPrimitives.ReadUInt32LittleEndian(wrapped[4..]) != (uint)(wrapped.Length - HeaderLength))
        {
            return false;
        }

        var inner = wrapped[HeaderLength..];
        if (BinaryPrimitives.ReadUInt32LittleEndian(wrapped[8..]) != Crc32C(inner))
        {
            return false;
        }

        payload = inner;
        return true;
    }

    /// <summary>
    /// A packed rkey is <c>[md_map u64][mem_type u8]</c> then, per bit of md_map, <c>[size u8][size bytes]</c>, then
    /// optional device distances. True when that walk stays inside the buffer and the memory is host memory: a
    /// second line behind the checksum, should a peer of another UCX version pack something else.
    /// </summary>
    public static bool IsPlausibleRemoteKey(ReadOnlySpan<byte> packed)
    {
        if (packed.Length < KeyHeader || packed[sizeof(ulong)] != MemoryTypeHost)
        {
            return false;
        }

        var domains = BitOperations.PopCount(BinaryPrimitives.ReadUInt64LittleEndian(packed));
        var offset = KeyHeader;
        for (var i = 0; i < domains; i++)
        {
            if (offset >= packed.Length)
            {
                return false;
            }

            offset += 1 + packed[offset];
        }

        return offset <= packed.Length;
    }

    private static uint Crc32C(ReadOnlySpan<byte> bytes)
    {
        var crc = uint.MaxValue;
        foreach (var b in bytes)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }
}
