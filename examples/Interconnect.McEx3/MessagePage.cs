using System.Runtime.InteropServices;
using Interconnect.Imc;

namespace Interconnect.Examples;

/// <summary>
/// The region the transmitter writes and the receiver reads in Examples 10-3 and 10-4 (key 1234, 8192 bytes, as in
/// the C programs). The C page is <c>{ volatile int msg_arrived; int send_count; int remainder[2046]; }</c> and
/// carries one message; this one carries a numbered series, so the flag says which message and which transmission
/// of it arrived:
/// <code>
///   offset  bytes  field
///        0      8  Arrived     the valid flag, written last: transmission number &lt;&lt; 32 | message number
///        8      4  SendCount   the error count the transmitter read before this transmission (C: send_count)
///       12      4  Total       how many messages the transmitter sends
///       16   8176  Body        2044 ints: Body[i] = message + i
/// </code>
/// The transmitter writes Total and Body (one copy), then SendCount, then Arrived. The C program writes send_count
/// first; with several messages, and retransmissions of one message possibly in flight while the receiver reads it
/// (Example 10-4 retransmits without waiting), a count written first could be newer than the body behind it. With
/// the count written after the body, and read before the body by a receiver that reads its own error count last, a
/// count that matches vouches for the body: had that body been lost, the error count would have risen before the
/// count after it could be seen.
/// </summary>
internal static class MessagePage
{
    public const int Key = 1234;
    public const long Size = 8192;
    public const int LogicalRail = 0;
    public const long ArrivedOffset = 0;
    public const long SendCountOffset = 8;
    public const long TotalOffset = 12;
    public const long BodyOffset = 16;
    public const int BodyLength = (int)((Size - BodyOffset) / sizeof(int));

    /// <summary>The value of the valid flag for one transmission of a message.</summary>
    public static long Arrived(int message, int transmission) => ((long)transmission << 32) | (uint)message;

    public static int MessageOf(long arrived) => (int)(arrived & uint.MaxValue);

    public static int TransmissionOf(long arrived) => (int)(arrived >> 32);

    /// <summary>Total and Body of a message, as the bytes to copy to <see cref="TotalOffset"/>.</summary>
    public static byte[] Contents(int message, int total)
    {
        var words = new int[1 + BodyLength];
        words[0] = total;
        for (var i = 0; i < BodyLength; i++)
        {
            words[1 + i] = message + i;
        }

        return MemoryMarshal.AsBytes(words.AsSpan()).ToArray();
    }

    /// <summary>Whether receive memory holds the body of <paramref name="message"/>, every word of it.</summary>
    public static bool HoldsBodyOf(ImcReceiveWindow rx, int message)
    {
        var body = MemoryMarshal.Cast<byte, int>(rx.AsSpan(BodyOffset, BodyLength * sizeof(int)));
        for (var i = 0; i < body.Length; i++)
        {
            if (body[i] != message + i)
            {
                return false;
            }
        }

        return true;
    }
}
