using System.Globalization;
using System.IO.Pipes;
using Interconnect.Latency.Interop;
using Interconnect.Latency.Protocol;
using Interconnect.Latency.Reporting;
using Interconnect.Latency.Transports;

namespace Interconnect.Latency.Scenarios;

/// <summary>The same ping-pong over two anonymous pipes (one each way) inherited by the peer, as a user would write it.</summary>
internal sealed class PipePingPongScenario : ILatencyScenario
{
    public string Name => "pipe ping-pong";

    public ScenarioRun Run(RoundContext round)
    {
        var sizes = PingPongProtocol.Sizes;
        using var toPeer = new AnonymousPipeServerStream(PipeDirection.Out, HandleInheritability.Inheritable);
        using var fromPeer = new AnonymousPipeServerStream(PipeDirection.In, HandleInheritability.Inheritable);
        using var peer = PeerProcess.Start(PeerMain.PipeEcho, 1,
            "--in", toPeer.GetClientHandleAsString(), "--out", fromPeer.GetClientHandleAsString(),
            "--size", sizes[0].ToString(CultureInfo.InvariantCulture));
        toPeer.DisposeLocalCopyOfClientHandle();
        fromPeer.DisposeLocalCopyOfClientHandle();
        peer.WaitReady();
        var channel = new StreamPingChannel(toPeer, fromPeer);
        PingPongResult result;
        using (Pinned.To(0))
        {
            result = PingPongDriver.Run(ref channel, sizes, round.Plan, round.Samples);
        }

        var peerJit = peer.Finish();
        return PingPongRuns.ToRun(Name, round.Round, Groups.Pipe, result, peerJit);
    }
}
