// Example 10-3 of the manual (mc_ex3.c): error detection with imc_rderrcnt_mr. The transmitter reads the rail's
// error count, sends it with the message and marks the message valid; the receiver, once the message has arrived,
// reads its own host's error count, which is always up to date, and compares: equal counts mean no error happened
// in between. The C file builds two programs (cc -DTRANSMIT for mc_ex3_tx, without for mc_ex3_rx); this project
// builds one, mc_ex3, with the side as its first argument: "mc_ex3 tx" and "mc_ex3 rx".
//
// Where the C programs send one message and stop (or loop forever if it never comes), these send a series
// (--messages, default 3) and answer each one back: the receiver tells the transmitter which messages it accepted
// and which transmissions it found damaged, the "higher-level protocol" the manual says a transmitter must rely on
// with this pattern; the transmitter sends a message again when the receiver asks, or does not answer. Both print
// what happened and stop. mc_ex4 (Example 10-4) is the transmitter that checks for errors itself; it sends to the
// same receiver, "mc_ex3 rx".
//
// Run it on two emulated hosts, each in its own shell, the receiver first (the transmitter waits for it anyway):
//
//   dotnet build examples/Interconnect.McEx3
//   alias mc_ex3='dotnet examples/Interconnect.McEx3/bin/Debug/net10.0/mc_ex3.dll'
//   export IMC_AUTO_INIT=1          # or bring the hosts up first: imc_init --host alpha; imc_init --host beta
//   IMC_HOST=beta  mc_ex3 rx
//   IMC_HOST=alpha mc_ex3 tx --messages 10 --drop-every 3
//
// --drop-every K loses one delivery on the rail before every K-th message's body (the emulator's fault injection,
// as imcctl inject-error): the receiver sees the count moved, rejects the message, and the transmitter sends it
// again. Or inject from a third shell before starting the transmitter: imcctl inject-error --rail 0 --count 2 --host beta
//
// Exit codes: 0 done, 1 bad arguments, 2 an Imc call failed, 3 gave up waiting for the other side,
// 4 the receiver accepted a message whose body was not whole (the pattern failed).

using System.CommandLine;
using Interconnect.Imc;

namespace Interconnect.Examples.McEx3;

/// <summary>Example 10-3: "mc_ex3 tx" sends messages with the error count; "mc_ex3 rx" checks the count on arrival.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var messages = new Option<int>("--messages")
        {
            Description = "How many messages to send.",
            DefaultValueFactory = _ => 3,
            HelpName = "N",
        };
        var dropEvery = new Option<int>("--drop-every")
        {
            Description = "Lose one delivery on the rail before every K-th message's body (fault injection); 0: never.",
            DefaultValueFactory = _ => 0,
            HelpName = "K",
        };
        var resendAfter = ResendAfterOption();
        var txWait = WaitOption("Give up after this many seconds without a receiver or an answer; 0 waits forever.");
        var rxWait = WaitOption("Give up after this many seconds without a new transmission; 0 waits forever.");

        var transmit = new Command("tx", "The transmitting process (mc_ex3_tx): send messages with the error count.")
        {
            messages, dropEvery, resendAfter, txWait,
        };
        transmit.SetAction(parse =>
        {
            var (n, k, resend) = (parse.GetValue(messages), parse.GetValue(dropEvery), parse.GetValue(resendAfter));
            if (n < 1 || k < 0 || resend < 1)
            {
                Console.Error.WriteLine("mc_ex3: --messages and --resend-after must be at least 1, --drop-every at least 0");
                return 1;
            }

            return Run(context => Transmitter.Run(context, n, k, TimeSpan.FromMilliseconds(resend),
                Wait.Seconds(parse.GetValue(txWait))));
        });

        var receive = new Command("rx", "The receiving process (mc_ex3_rx): check each message's error count on arrival.")
        {
            rxWait,
        };
        receive.SetAction(parse => Run(context => Receiver.Run(context, Wait.Seconds(parse.GetValue(rxWait)))));

        var root = new RootCommand("Example 10-3: error detection with the clusterwide error count (imc_rderrcnt_mr).")
        {
            transmit, receive,
        };
        return root.Parse(args).Invoke();
    }

    private static Option<int> ResendAfterOption() => new("--resend-after")
    {
        Description = "Send a message again when the receiver has not answered it within this many milliseconds.",
        DefaultValueFactory = _ => 200,
        HelpName = "MS",
    };

    private static Option<int> WaitOption(string description) => new("--wait")
    {
        Description = description,
        DefaultValueFactory = _ => 60,
        HelpName = "SECONDS",
    };

    private static int Run(Func<ImcContext, int> side)
    {
        try
        {
            using var context = ImcContext.Open(); // imc_api_init(NULL)
            return side(context);
        }
        catch (ImcException e)
        {
            Console.Error.WriteLine($"mc_ex3: {e.Message}");
            return 2;
        }
    }
}
