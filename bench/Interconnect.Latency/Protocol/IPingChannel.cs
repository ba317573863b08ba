namespace Interconnect.Latency.Protocol;

/// <summary>
/// The measuring side of a ping-pong over one transport. Implemented by structs, so the generic driver is compiled
/// once per transport with direct calls (no interface dispatch inside a measured round trip).
/// </summary>
internal interface IPingChannel
{
    /// <summary>Sends a message of <paramref name="size"/> payload bytes followed by <paramref name="flag"/>.</summary>
    void Send(int size, ulong flag);

    /// <summary>Returns once the echo of <paramref name="flag"/> has arrived.</summary>
    void WaitEcho(int size, ulong flag);
}
