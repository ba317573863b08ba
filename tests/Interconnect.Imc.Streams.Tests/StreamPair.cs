using System.IO.Pipelines;
using System.Security.Cryptography;
using Interconnect.Imc;
using Interconnect.Testing;

namespace Interconnect.Imc.Streams.Tests;

/// <summary>Helpers for the stream tests: deterministic random bytes, and a reader that hashes what it consumes.</summary>
internal static class StreamPair
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);

    public static ImcOptions ControlOptions(TemporaryCluster cluster) => new() { Root = cluster.Root, Cluster = TemporaryCluster.ClusterName };

    /// <summary>The first <paramref name="length"/> bytes of the stream numbered <paramref name="seed"/>.</summary>
    public static byte[] Bytes(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// Reads until the end (or until <paramref name="stopAfter"/> bytes are consumed), consuming at most
    /// <paramref name="maxConsume"/> bytes per read, into <paramref name="sink"/>; returns how many it consumed.
    /// </summary>
    public static async Task<long> DrainAsync(PipeReader reader, Stream sink, long stopAfter = long.MaxValue,
        int maxConsume = int.MaxValue, TimeSpan pause = default)
    {
        long total = 0;
        while (total < stopAfter)
        {
            var result = await reader.ReadAsync();
            var buffer = result.Buffer;
            var take = Math.Min(Math.Min(buffer.Length, maxConsume), stopAfter - total);
            foreach (var segment in buffer.Slice(0, take))
            {
                sink.Write(segment.Span);
            }

            total += take;
            var consumed = buffer.GetPosition(take);
            reader.AdvanceTo(consumed, take < buffer.Length ? consumed : buffer.End);
            if (result.IsCompleted && take == buffer.Length)
            {
                break;
            }

            if (pause > TimeSpan.Zero)
            {
                await Task.Delay(pause);
            }
        }

        return total;
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));
}
