using System.Globalization;
using Interconnect.Imc;
using Interconnect.Latency.Interop;
using Interconnect.Latency.Protocol;
using Interconnect.Latency.Reporting;
using Interconnect.Latency.Transports;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// Imc ping-pong between two processes on two emulated hosts of a fresh cluster: this process is host alpha, the
/// peer host beta. Region "ping" goes alpha to beta, "pong" beta to alpha; each side spins on Read&lt;ulong&gt;.
/// </summary>
internal sealed class ImcPingPongScenario : ILatencyScenario
{
    public string Name => "Imc ping-pong";

    public ScenarioRun Run(RoundContext round)
    {
        var cluster = round.ClusterName("pingpong");
        var sizes = PingPongProtocol.Sizes;
        PingPongResult result;
        long peerJit;
        try
        {
            using (var context = ImcContext.Open(ImcLayout.Options(round.ImcRoot, cluster, ImcLayout.Alpha)))
            using (var ping = context.AllocateRegion(ImcLayout.PingKey, PingPongProtocol.MessageArea))
            using (var pong = context.AllocateRegion(ImcLayout.PongKey, PingPongProtocol.MessageArea))
            using (var pongRx = pong.AttachReceive())
            using (var pingTx = ping.AttachTransmit())
            using (var peer = PeerProcess.Start(PeerMain.ImcEcho, 1, "--root", round.ImcRoot, "--cluster", cluster,
                "--size", sizes[0].ToString(CultureInfo.InvariantCulture)))
            {
                peer.WaitReady();
                var payload = new byte[PingPongProtocol.MessageArea];
                payload.AsSpan().Fill(PingPongProtocol.PayloadByte);
                var channel = new ImcPingChannel(pingTx, pongRx, payload);
                using (Pinned.To(0))
                {
                    result = PingPongDriver.Run(ref channel, sizes, round.Plan, round.Samples);
                }

                peerJit = peer.Finish();
            }
        }
        finally
        {
            ImcControl.DestroyCluster(new ImcOptions { Root = round.ImcRoot, Cluster = cluster });
        }

        return PingPongRuns.ToRun(Name, round.Round, Groups.Imc, result, peerJit);
    }
}
