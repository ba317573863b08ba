using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Interconnect.Latency.Interop;
using Interconnect.Latency.Protocol;
using Interconnect.Latency.Reporting;
using Interconnect.Latency.Transports;

namespace Interconnect.Latency.Scenarios;

/// <summary>
/// The same ping-pong over a stream socket, written plainly as a user would: blocking Send and Receive, Nagle off
/// for TCP. <paramref name="unixDomain"/>: a Unix domain socket; otherwise TCP on 127.0.0.1.
/// </summary>
internal sealed class SocketPingPongScenario(bool unixDomain) : ILatencyScenario
{
    public string Name => unixDomain ? "Unix socket ping-pong" : "TCP loopback ping-pong";

    public ScenarioRun Run(RoundContext round)
    {
        var sizes = PingPongProtocol.Sizes;
        var size = sizes[0].ToString(CultureInfo.InvariantCulture);
        var path = Path.Combine(round.ImcRoot, $"socket-r{round.Round}");
        using var listener = unixDomain
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(unixDomain ? new UnixDomainSocketEndPoint(path) : new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var endpoint = unixDomain
            ? new[] { "--uds", path }
            : ["--tcp", ((IPEndPoint)listener.LocalEndPoint!).Port.ToString(CultureInfo.InvariantCulture)];
        try
        {
            using var peer = PeerProcess.Start(PeerMain.SocketEcho, 1, [.. endpoint, "--size", size]);
            var accept = listener.AcceptAsync();
            if (!accept.Wait(TimeSpan.FromSeconds(60)))
            {
                throw new TimeoutException($"the {Name} peer did not connect within 60 s");
            }

            using var socket = accept.Result;
            if (!unixDomain)
            {
                socket.NoDelay = true; // as a latency-minded user would; a Unix socket has no Nagle to turn off
            }

            peer.WaitReady();
            var channel = new SocketPingChannel(socket);
            PingPongResult result;
            using (Pinned.To(0))
            {
                result = PingPongDriver.Run(ref channel, sizes, round.Plan, round.Samples);
            }

            var peerJit = peer.Finish();
            return PingPongRuns.ToRun(Name, round.Round, unixDomain ? Groups.UnixSocket : Groups.Tcp, result, peerJit);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
