using System.Globalization;
using Interconnect.Testing;

namespace Interconnect.Driver.Tests.Ucx;

/// <summary>
/// A test peer serving UCX memory over tcp (<c>ucx-serve</c>): its worker address, remote key and base address, and
/// the peer itself for reading its own memory back.
/// </summary>
internal sealed class UcxTarget : IDisposable
{
    private UcxTarget(PeerProcess peer, byte[] address, byte[] key, ulong baseAddress)
    {
        Peer = peer;
        Address = address;
        Key = key;
        BaseAddress = baseAddress;
    }

    public PeerProcess Peer { get; }

    public byte[] Address { get; }

    public byte[] Key { get; }

    public ulong BaseAddress { get; }

    /// <summary>The arguments of a client peer's <c>ucx-connect</c>.</summary>
    public string ConnectArguments =>
        $"{Convert.ToHexString(Address)} {Convert.ToHexString(Key)} {BaseAddress.ToString(CultureInfo.InvariantCulture)}";

    public static UcxTarget Start(long size)
    {
        var peer = StartPeer();
        var parts = peer.Send($"ucx-serve {size}").Split(' ');
        return new UcxTarget(peer, Convert.FromHexString(parts[0]), Convert.FromHexString(parts[1]),
            ulong.Parse(parts[2], CultureInfo.InvariantCulture));
    }

    /// <summary>A test peer with UCX forced onto tcp, as between machines.</summary>
    public static PeerProcess StartPeer() => PeerProcess.Start(new Dictionary<string, string?> { ["UCX_TLS"] = "tcp" });

    public ulong Read64(long offset) => ulong.Parse(Peer.Send($"ucx-read64 {offset}"), CultureInfo.InvariantCulture);

    public string Hash(long offset, int length) => Peer.Send($"ucx-hash {offset} {length}");

    public void Dispose() => Peer.Dispose();
}
