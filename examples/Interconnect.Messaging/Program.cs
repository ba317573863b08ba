// mc_msg: the message ring of this project (MessageSender, MessageReceiver) between two emulated hosts. Section 10.10
// of the manual suggests hiding Memory Channel's latency, coherency and error detection behind a small message-passing
// library; this is one. "mc_msg send" sends numbered messages of varying length and an empty one to end; "mc_msg
// receive" takes them, checks that each is the next one and intact, and prints what it got.
//
// Run it on two emulated hosts, each in its own shell (either may start first):
//
//   dotnet build examples/Interconnect.Messaging
//   alias mc_msg='dotnet examples/Interconnect.Messaging/bin/Debug/net10.0/mc_msg.dll'
//   export IMC_AUTO_INIT=1          # or bring the hosts up first: imc_init --host alpha; imc_init --host beta
//   IMC_HOST=beta  mc_msg receive
//   IMC_HOST=alpha mc_msg send --messages 10000 --drop-every 500
//
// --drop-every K loses one delivery on the rail before every K-th message (the emulator's fault injection, as
// imcctl inject-error); the ring notices and sends again, and the receiver still gets every message, in order.
//
// Exit codes: 0 done, 1 bad arguments, 2 an Imc call failed, 3 timed out, 4 a message arrived out of order or damaged.

using System.CommandLine;
using System.Globalization;
using Interconnect.Imc;

namespace Interconnect.Messaging;

/// <summary>mc_msg: send or receive a numbered series of messages through a <see cref="MessageSender"/> ring.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var key = new Option<int>("--key") { Description = "The ring's key (its answers use key + 1).", DefaultValueFactory = _ => 2001 };
        var wait = new Option<int>("--wait")
        {
            Description = "Give up after this many seconds without progress.",
            DefaultValueFactory = _ => 60,
            HelpName = "SECONDS",
        };
        var messages = new Option<int>("--messages") { Description = "How many messages to send.", DefaultValueFactory = _ => 1000, HelpName = "N" };
        var dropEvery = new Option<int>("--drop-every")
        {
            Description = "Lose one delivery on the rail before every K-th message (fault injection); 0: never.",
            DefaultValueFactory = _ => 0,
            HelpName = "K",
        };

        var send = new Command("send", "Send N numbered messages, then an empty one.") { key, messages, dropEvery, wait };
        send.SetAction(parse =>
        {
            if (parse.GetValue(messages) < 0 || parse.GetValue(dropEvery) < 0)
            {
                Console.Error.WriteLine("mc_msg: --messages and --drop-every must be 0 or more");
                return 1;
            }

            return Run(context => Send(context, Options(parse.GetValue(key)), parse.GetValue(messages),
                parse.GetValue(dropEvery), TimeSpan.FromSeconds(parse.GetValue(wait))));
        });

        var receive = new Command("receive", "Receive messages until the empty one, checking order and contents.") { key, wait };
        receive.SetAction(parse => Run(context => Receive(context, Options(parse.GetValue(key)), TimeSpan.FromSeconds(parse.GetValue(wait)))));

        return new RootCommand("A message ring over Memory Channel regions, between two hosts.") { send, receive }.Parse(args).Invoke();
    }

    private static MessageRingOptions Options(int key) => new() { Key = key };

    private static int Run(Func<ImcContext, int> side)
    {
        try
        {
            using var context = ImcContext.Open();
            return side(context);
        }
        catch (ImcException e)
        {
            Console.Error.WriteLine($"mc_msg: {e.Message}");
            return 2;
        }
        catch (TimeoutException e)
        {
            Console.Error.WriteLine($"mc_msg: {e.Message}");
            return 3;
        }
    }

    private static int Send(ImcContext context, MessageRingOptions options, int count, int dropEvery, TimeSpan wait)
    {
        using var sender = new MessageSender(context, options);
        Console.WriteLine($"mc_msg send: pid {context.ProcessId} on host {context.HostName}: sending {count} message(s) " +
            $"on ring key {options.Key}");
        var injected = 0;
        var buffer = new byte[options.MaxMessageLength];
        for (var i = 1; i <= count; i++)
        {
            if (dropEvery > 0 && i % dropEvery == 0)
            {
                ImcControl.InjectErrors(options.LogicalRail, 1);
                injected++;
            }

            sender.Send(Fill(buffer, i, options.MaxMessageLength), wait);
        }

        sender.Send([], wait); // the end
        sender.Flush(wait);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"mc_msg send: {count} message(s) sent and taken; {injected} lost delivery(ies) injected; the error check " +
            $"failed {sender.ErrorsDetected} time(s); {sender.Retransmissions} message(s) written again"));
        return 0;
    }

    private static int Receive(ImcContext context, MessageRingOptions options, TimeSpan wait)
    {
        using var receiver = new MessageReceiver(context, options);
        Console.WriteLine($"mc_msg receive: pid {context.ProcessId} on host {context.HostName}: waiting for messages on " +
            $"ring key {options.Key}");
        var buffer = new byte[options.MaxMessageLength];
        var expected = new byte[options.MaxMessageLength];
        var wrong = 0;
        var received = 0;
        int length;
        while ((length = receiver.Receive(buffer, wait)) > 0)
        {
            received++;
            var want = Fill(expected, received, options.MaxMessageLength);
            if (!buffer.AsSpan(0, length).SequenceEqual(want))
            {
                wrong++;
                Console.WriteLine($"mc_msg receive: message {received} is not the one sent as number {received}");
            }
        }

        Console.WriteLine($"mc_msg receive: {received} message(s) received in order; {wrong} wrong; {receiver.Rejected} " +
            "arrival(s) refused on an error count mismatch and sent again");
        return wrong == 0 ? 0 : 4;
    }

    /// <summary>Message number <paramref name="i"/>: its number, then bytes derived from it, 4 to max bytes long.</summary>
    private static ReadOnlySpan<byte> Fill(byte[] buffer, int i, int max)
    {
        var length = Math.Min(max, 4 + (i * 37 % Math.Max(1, max - 3)));
        BitConverter.TryWriteBytes(buffer, i);
        for (var j = 4; j < length; j++)
        {
            buffer[j] = (byte)((i * 31) + j);
        }

        return buffer.AsSpan(0, length);
    }
}
