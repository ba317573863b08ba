using System.Numerics;
using System.Runtime.InteropServices;

namespace Interconnect.StreamBench;

/// <summary>
/// What every throughput sender and receiver does with the bytes, the same for every transport: the sender produces
/// message m by storing m in each of its 8-byte words, in the buffer its transport offers (a socket's own array, a
/// NetMQ message, an Imc stream's span); the receiver sums the words where its transport hands them over (a socket's
/// array after recv, a NetMQ message, the Imc stream's receive memory). The sum checks the bytes too: the receiver's
/// total must be 8-byte words per message × (0 + 1 + ... + count - 1).
/// </summary>
internal static class Words
{
    public static void Fill(Span<byte> destination, ulong value)
    {
        if (destination.Length % sizeof(ulong) != 0)
        {
            throw new ArgumentException("the benchmark's buffers are whole 8-byte words", nameof(destination));
        }

        MemoryMarshal.Cast<byte, ulong>(destination).Fill(value);
    }

    public static ulong Expected(int size, long count) =>
        unchecked((ulong)(size / sizeof(ulong)) * (ulong)(count * (count - 1) / 2));
}

/// <summary>A running sum of little-endian 8-byte words over bytes that may come in pieces of any length.</summary>
internal struct WordSum
{
    private ulong _sum;
    private ulong _partial;
    private int _partialBytes;

    public readonly ulong Value => _sum;

    public void Add(ReadOnlySpan<byte> bytes)
    {
        while (_partialBytes != 0 && !bytes.IsEmpty)
        {
            _partial |= (ulong)bytes[0] << (8 * _partialBytes);
            bytes = bytes[1..];
            if (++_partialBytes == sizeof(ulong))
            {
                _sum += _partial;
                _partial = 0;
                _partialBytes = 0;
            }
        }

        var whole = bytes.Length & ~(sizeof(ulong) - 1);
        var words = MemoryMarshal.Cast<byte, ulong>(bytes[..whole]);
        var vectors = MemoryMarshal.Cast<ulong, Vector<ulong>>(words);
        var a = Vector<ulong>.Zero;
        var b = Vector<ulong>.Zero;
        var i = 0;
        for (; i + 1 < vectors.Length; i += 2)
        {
            a += vectors[i];
            b += vectors[i + 1];
        }

        for (; i < vectors.Length; i++)
        {
            a += vectors[i];
        }

        var sum = Vector.Sum(a + b);
        for (var w = vectors.Length * Vector<ulong>.Count; w < words.Length; w++)
        {
            sum += words[w];
        }

        _sum += sum;
        foreach (var rest in bytes[whole..])
        {
            _partial |= (ulong)rest << (8 * _partialBytes++);
        }
    }
}
