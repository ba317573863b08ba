using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text.Json;
using Interconnect.Driver.Store;

namespace Interconnect.Driver.Agent;

/// <summary>
/// How a process and its machine's imcd talk: a Unix stream socket at <c>$IMC_ROOT/$IMC_CLUSTER/imcd.sock</c>, and on it
/// frames, each a 4-byte little-endian length and that many bytes of JSON (<see cref="AgentJson"/>): requests
/// (<see cref="RequestFrame"/>) one way, replies (<see cref="ReplyFrame"/>) the other, paired by id, several under way
/// at once. The first request is a <see cref="HelloRequest"/> with the protocol's <see cref="Version"/>; imcd answers
/// a version it does not speak, and a frame it cannot read, by closing the connection.
/// </summary>
internal static class AgentProtocol
{
    /// <summary>
    /// The protocol's version: a change that an older peer would misread takes a new one (2: the cluster key request,
    /// with the NIC's hello that carries the key; 3: the rails are imcd's: a drop is claimed of imcd, a lost delivery
    /// counted in the user's tally).
    /// </summary>
    public const int Version = 3;

    /// <summary>The longest frame either side accepts (a whole cluster's status fits many times over).</summary>
    public const int MaxFrame = 4 << 20;

    public static string SocketPath(ClusterPaths paths) => Path.Combine(paths.ClusterDirectory, "imcd.sock");

    /// <summary>
    /// The socket's address; a path longer than a Unix socket's (108 bytes on Linux, <c>sun_path</c>) is refused in one
    /// line that says what to shorten.
    /// </summary>
    public static UnixDomainSocketEndPoint EndPoint(string path)
    {
        try
        {
            return new UnixDomainSocketEndPoint(path);
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new DriverException(DriverStatus.BadParameter,
                $"imcd's socket {path} is {System.Text.Encoding.UTF8.GetByteCount(path)} bytes long, more than a Unix " +
                "socket's path may be (108 on Linux): use a shorter IMC_ROOT or cluster name");
        }
    }

    public static byte[] Encode(RequestFrame frame) => Encode(JsonSerializer.SerializeToUtf8Bytes(frame, AgentJson.Default.RequestFrame));

    public static byte[] Encode(ReplyFrame frame) => Encode(JsonSerializer.SerializeToUtf8Bytes(frame, AgentJson.Default.ReplyFrame));

    private static byte[] Encode(byte[] json)
    {
        var frame = new byte[4 + json.Length];
        BinaryPrimitives.WriteInt32LittleEndian(frame, json.Length);
        json.CopyTo(frame.AsSpan(4));
        return frame;
    }

    /// <summary>
    /// Reads one frame's JSON (at most <paramref name="maxLength"/> bytes); null at the end of the stream before a frame
    /// began. Throws <see cref="InvalidDataException"/> for a length out of bounds or a stream that ends inside a frame.
    /// </summary>
    public static byte[]? ReadFrame(Stream stream, int maxLength = MaxFrame)
    {
        Span<byte> header = stackalloc byte[4];
        var read = stream.ReadAtLeast(header, 4, throwOnEndOfStream: false);
        if (read == 0)
        {
            return null;
        }

        if (read < 4)
        {
            throw new InvalidDataException("the connection ended inside a frame's length");
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(header);
        if (length <= 0 || length > maxLength)
        {
            throw new InvalidDataException($"a frame of {length} bytes (at most {maxLength})");
        }

        var json = new byte[length];
        try
        {
            stream.ReadExactly(json);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("the connection ended inside a frame");
        }

        return json;
    }

    public static RequestFrame ReadRequest(byte[] json) =>
        JsonSerializer.Deserialize(json, AgentJson.Default.RequestFrame) is { Request: not null } frame
            ? frame
            : throw new InvalidDataException("a frame that holds no request");

    public static ReplyFrame ReadReply(byte[] json) =>
        JsonSerializer.Deserialize(json, AgentJson.Default.ReplyFrame) is { Reply: not null } frame
            ? frame
            : throw new InvalidDataException("a frame that holds no reply");

    /// <summary>Who is at the other end of a Unix socket, as the kernel says (<c>SO_PEERCRED</c>).</summary>
    public static (int Pid, int Uid, int Gid) PeerCredentials(Socket socket)
    {
        const int solSocket = 1, soPeerCred = 17; // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        Span<byte> ucred = stackalloc byte[12];
        var length = socket.GetRawSocketOption(solSocket, soPeerCred, ucred);
        if (length != 12)
        {
            throw new SocketException((int)SocketError.ProtocolNotSupported);
        }

        return (BinaryPrimitives.ReadInt32LittleEndian(ucred), BinaryPrimitives.ReadInt32LittleEndian(ucred[4..]),
            BinaryPrimitives.ReadInt32LittleEndian(ucred[8..]));
    }
}
