using System.Security.Cryptography;

namespace Interconnect.Testing;

/// <summary>A reproducible stream of random bytes, fed in chunks, with the SHA-256 of what was fed.</summary>
public sealed class RandomBytes : IDisposable
{
    private readonly Random _random;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _chunk;

    public RandomBytes(int seed, int chunkSize)
    {
        _random = new Random(seed);
        _chunk = new byte[chunkSize];
    }

    /// <summary>Bytes fed so far.</summary>
    public long Fed { get; private set; }

    /// <summary>Writes <paramref name="total"/> bytes to <paramref name="sink"/>, calling <paramref name="each"/> after each chunk.</summary>
    public void Feed(Stream sink, long total, Action<long>? each = null)
    {
        while (Fed < total)
        {
            var size = (int)Math.Min(_chunk.Length, total - Fed);
            _random.NextBytes(_chunk.AsSpan(0, size));
            _hash.AppendData(_chunk, 0, size);
            sink.Write(_chunk, 0, size);
            Fed += size;
            each?.Invoke(Fed);
        }

        sink.Flush();
    }

    public string Sha256() => Convert.ToHexString(_hash.GetCurrentHash());

    public void Dispose() => _hash.Dispose();

    /// <summary>Reads <paramref name="source"/> to its end, optionally slowly; returns the SHA-256 and the length.</summary>
    public static (string Sha256, long Length) Drain(Stream source, int readSize = 1 << 20, TimeSpan pause = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[readSize];
        long length = 0;
        int read;
        while ((read = source.Read(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            length += read;
            if (pause > TimeSpan.Zero)
            {
                Thread.Sleep(pause);
            }
        }

        return (Convert.ToHexString(hash.GetCurrentHash()), length);
    }
}
