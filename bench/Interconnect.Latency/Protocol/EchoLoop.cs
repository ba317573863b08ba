using System.Runtime;

namespace Interconnect.Latency.Protocol;

/// <summary>The echoing side of every ping-pong: echoes data, acknowledges and obeys commands, until Stop.</summary>
internal static class EchoLoop
{
    /// <summary>Runs until Stop; returns how many methods this process compiled after the Mark command.</summary>
    public static long Run<TChannel>(ref TChannel channel, int size)
        where TChannel : struct, IEchoChannel
    {
        ulong expected = 1;
        long atMark = 0;
        while (true)
        {
            var flag = channel.Receive(size, expected);
            expected++;
            var command = PingPongProtocol.Command(flag);
            if (command == PingPongProtocol.Data)
            {
                channel.Echo(size, flag);
                continue;
            }

            channel.Acknowledge(size, flag);
            switch (command)
            {
                case PingPongProtocol.Stop:
                    return JitInfo.GetCompiledMethodCount() - atMark;
                case PingPongProtocol.Mark:
                    atMark = JitInfo.GetCompiledMethodCount();
                    break;
                default:
                    size = PingPongProtocol.SizeOf(command);
                    break;
            }
        }
    }
}
