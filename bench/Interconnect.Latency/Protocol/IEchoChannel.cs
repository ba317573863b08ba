namespace Interconnect.Latency.Protocol;

/// <summary>The echoing side of a ping-pong over one transport (see <see cref="IPingChannel"/>).</summary>
internal interface IEchoChannel
{
    /// <summary>Waits for the message whose sequence is <paramref name="sequence"/> and returns its flag.</summary>
    ulong Receive(int size, ulong sequence);

    /// <summary>Sends the received payload back, followed by <paramref name="flag"/>.</summary>
    void Echo(int size, ulong flag);

    /// <summary>Acknowledges a command message by sending its flag back.</summary>
    void Acknowledge(int size, ulong flag);
}
