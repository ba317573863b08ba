namespace Interconnect.StreamBench;

/// <summary>One end of a byte channel between the two benchmark processes: what every transport is measured through.</summary>
internal interface IChannel : IDisposable
{
    /// <summary>Sends <paramref name="message"/> (one write, then a flush where the transport has one).</summary>
    void Send(ReadOnlySpan<byte> message);

    /// <summary>Receives exactly <paramref name="destination"/>'s length in bytes, copied out as a consumer would.</summary>
    void Receive(Span<byte> destination);
}
