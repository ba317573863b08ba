namespace Interconnect.Latency.Protocol;

/// <summary>
/// The message protocol every ping-pong and broadcast of the harness uses, the same as the C floor's
/// (<c>native/floor.c</c>): a message of S bytes is its payload at [0, S) followed by an 8-byte flag at S. A flag is
/// <c>(sequence &lt;&lt; 8) | command</c>; the sequence rises by one with every message, commands included, so a value
/// left in memory by an earlier message never matches. Command 0 is data; 1..127 switches the parameter (ping-pong:
/// the size becomes <c>1 &lt;&lt; command</c>; broadcast: the receiver count becomes <c>command</c>); <see cref="Mark"/>
/// starts the measured part; <see cref="Stop"/> ends. The receiver acknowledges a command by echoing its flag.
/// </summary>
internal static class PingPongProtocol
{
    public const uint Data = 0;
    public const uint Mark = 254;
    public const uint Stop = 255;

    /// <summary>Where the largest message ends: 64 KiB of payload, then its flag on a line of its own.</summary>
    public const int MessageArea = 65536 + 64;

    /// <summary>The payload's byte: <c>0x5a5a…</c> read as a flag has a sequence this harness never reaches.</summary>
    public const byte PayloadByte = 0x5a;

    public static readonly int[] Sizes = [8, 64, 256, 1024, 4096, 65536];

    public static ulong Flag(ulong sequence, uint command = Data) => (sequence << 8) | command;

    public static ulong Sequence(ulong flag) => flag >> 8;

    public static uint Command(ulong flag) => (uint)(flag & 0xff);

    public static uint SwitchToSize(int size) => (uint)System.Numerics.BitOperations.Log2((uint)size);

    public static int SizeOf(uint command) => 1 << (int)command;
}
