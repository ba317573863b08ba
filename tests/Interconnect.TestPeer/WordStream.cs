using System.Diagnostics;
using System.Globalization;
using Interconnect.Imc;

namespace Interconnect.TestPeer;

/// <summary>
/// The word stream, for the ordering and whole-word tests: a writer owns an area of 4096 bytes of a region and sends
/// messages 1..count into it, each a payload of 1 to 256 words (4- or 8-byte, each written whole with
/// <c>Write&lt;T&gt;</c>) from the area's offset 64, then the flag at the area's offset 0. Every word, flag included,
/// carries the message number with a check of it (8-byte: the number in the low half, a hash of it in the high half;
/// 4-byte: the same in 16-bit halves), so a word that did not land whole shows whatever bytes were mixed. A reader
/// that sees flag f must find every word of message f whole and from message f or later. With <c>span</c>, the payload
/// goes as one span write (the imc_bcopy pattern), whose bytes may land in any order: torn payload words are then
/// counted apart (a later message's write in progress), and only whole words older than the flag are violations.
/// Flow control: each reader acks the last flag it saw of each area in an ack region (8 bytes per reader and area),
/// and a writer never runs more than <c>window</c> messages ahead of the slowest reader, so a reader that follows the
/// stream sees at least count / (window + 1) distinct messages of each area.
/// </summary>
internal static class WordStream
{
    public const int AreaBytes = 4096;
    private const int PayloadOffset = 64;

    public static int PayloadWords(long i) => 1 + (int)(i * 7919 % 256);

    public static ulong Encode(long i, int width) => width == 8
        ? ((ulong)Check32((uint)i) << 32) | (uint)i
        : ((uint)Check16((ushort)i) << 16) | (ushort)i;

    /// <summary>The message number a word carries, or -1 when the word is not whole (its check does not match).</summary>
    public static long Decode(ulong word, int width)
    {
        if (word == 0)
        {
            return 0; // nothing written yet
        }

        if (width == 8)
        {
            var number = (uint)word;
            return (uint)(word >> 32) == Check32(number) ? number : -1;
        }

        var low = (ushort)word;
        return (ushort)(word >> 16) == Check16(low) && (word >> 32) == 0 ? low : -1;
    }

    private static uint Check32(uint i) => (i * 0x9E37_79B1u) ^ 0x5BD1_E995u ^ (i >> 7);

    private static ushort Check16(ushort i) => (ushort)((i * 0x9E37u) ^ 0xA5A5u ^ (i >> 5));

    public static string Write(ImcTransmitWindow window, int count, int width, bool span, int area,
        ImcReceiveWindow acks, int readers, int ackWindow, int timeoutMs)
    {
        if (width == 4 && count > ushort.MaxValue)
        {
            throw new ArgumentException("4-byte words carry message numbers up to 65535");
        }

        var watch = Stopwatch.StartNew();
        long areaBase = (long)area * AreaBytes;
        var payload = new ulong[256];
        for (long i = 1; i <= count; i++)
        {
            for (var r = 0; r < readers; r++)
            {
                long acked;
                while ((acked = (long)acks.Read<ulong>(AckOffset(r, area))) < i - ackWindow)
                {
                    if (watch.ElapsedMilliseconds > timeoutMs)
                    {
                        throw new ImcException(ImcStatus.Timeout, $"message {i}: reader {r} acked only {acked} after {timeoutMs} ms");
                    }

                    Thread.Yield();
                }
            }

            var word = Encode(i, width);
            var words = PayloadWords(i);
            if (span)
            {
                payload.AsSpan(0, words).Fill(word);
                window.Write(areaBase + PayloadOffset, System.Runtime.InteropServices.MemoryMarshal.AsBytes(payload.AsSpan(0, words)));
            }
            else
            {
                for (var j = 0; j < words; j++)
                {
                    Put(window, areaBase + PayloadOffset + ((long)j * width), word, width);
                }
            }

            Put(window, areaBase, word, width);
        }

        return count.ToString(CultureInfo.InvariantCulture);
    }

    private static long AckOffset(int reader, int area) => 8L * ((reader * 2) + area);

    private static void Put(ImcTransmitWindow window, long offset, ulong word, int width)
    {
        if (width == 8)
        {
            window.Write(offset, word);
        }
        else
        {
            window.Write(offset, (uint)word);
        }
    }

    private static ulong Get(ImcReceiveWindow window, long offset, int width) =>
        width == 8 ? window.Read<ulong>(offset) : window.Read<uint>(offset);

    /// <summary>
    /// Follows the given areas until each shows flag <paramref name="count"/>. Reports per area how many distinct
    /// messages it saw, the words found torn, the ordering violations, and the first problem.
    /// </summary>
    public static string Read(ImcReceiveWindow window, int count, int width, bool span, int[] areas,
        ImcTransmitWindow acks, int reader, int timeoutMs)
    {
        long payloadTorn = 0;
        var watch = Stopwatch.StartNew();
        var last = new long[areas.Length];
        var observed = new long[areas.Length];
        long torn = 0;
        long violations = 0;
        string? first = null;
        while (last.Any(l => l < count))
        {
            if (watch.ElapsedMilliseconds > timeoutMs)
            {
                throw new ImcException(ImcStatus.Timeout,
                    $"saw flags {string.Join(',', last)} of {count} after {timeoutMs} ms");
            }

            for (var a = 0; a < areas.Length; a++)
            {
                long areaBase = (long)areas[a] * AreaBytes;
                var flagWord = Get(window, areaBase, width);
                var flag = Decode(flagWord, width);
                if (flag < 0)
                {
                    torn++;
                    first ??= $"area {areas[a]}: flag word {flagWord:x} is torn";
                    continue;
                }

                if (flag == last[a])
                {
                    continue;
                }

                if (flag < last[a])
                {
                    violations++;
                    first ??= $"area {areas[a]}: flag went back from {last[a]} to {flag}";
                }

                var words = PayloadWords(flag);
                for (var j = 0; j < words; j++)
                {
                    var word = Get(window, areaBase + PayloadOffset + ((long)j * width), width);
                    var number = Decode(word, width);
                    if (number < 0 && span)
                    {
                        payloadTorn++;
                    }
                    else if (number < 0)
                    {
                        torn++;
                        first ??= $"area {areas[a]}: flag {flag}, payload word {j} = {word:x} is torn";
                    }
                    else if (number < flag)
                    {
                        violations++;
                        first ??= $"area {areas[a]}: flag {flag} with payload word {j} from message {number}";
                    }
                }

                observed[a]++;
                last[a] = flag;
                acks.Write(AckOffset(reader, areas[a]), (ulong)flag);
            }
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"observed={string.Join(',', observed)} torn={torn} payload_torn={payloadTorn} violations={violations} first={first?.Replace(' ', '_') ?? "none"}");
    }
}
