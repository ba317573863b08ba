namespace Interconnect.StreamBench;

/// <summary>One end of a byte channel between the two benchmark processes: what every transport is measured through.</summary>
internal interface IChannel : IDisposable
{
    /// <summary>Sends <paramref name="message"/> (one write, then a flush where the transport has one).</summary>
    void Send(ReadOnlySpan<byte> message);

    /// <summary>Receives exactly <paramref name="destination"/>'s length in bytes, copied out as a consumer would.</summary>
    void Receive(Span<byte> destination);

    /// <summary>
    /// Throughput: produces message <paramref name="number"/> of <paramref name="size"/> bytes in the buffer this
    /// transport offers (<see cref="Words.Fill"/>) and sends it (then a flush where the transport has one).
    /// </summary>
    void SendProduced(int size, long number);

    /// <summary>
    /// Throughput: receives <paramref name="size"/> bytes and adds their words to <paramref name="sum"/> where the
    /// transport hands them over, copying them only where its API must.
    /// </summary>
    void Consume(int size, ref WordSum sum);
}
