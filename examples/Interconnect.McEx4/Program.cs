// Example 10-4 of the manual (mc_ex4.c): error detection with imc_ckerrcnt_mr, on the transmitting side. Example
// 10-3's transmitter cannot know that the receiver got its message: it may read the error count before it has
// learnt of an error on the receiving host. imc_ckerrcnt_mr (ImcContext.CheckErrorCount) gives that guarantee: it
// fails if any error happened on the rail since the count was read, or one is still being processed, and brings the
// count up to date; the transmitter sends the message again until it passes.
//
// The C program sends one message; this one sends a series (--messages, default 3), each with the C program's loop,
// and then waits for the receiver's answer before the next (Example 10-3's receiver, "mc_ex3 rx", which also checks
// the count on arrival). It prints how often the check failed and stops. Like the C loop, it retransmits at once for
// as long as the check fails, and the check fails for as long as the rail is processing the error (imc_init's
// --error-window, 10 ms by default): expect thousands of retransmissions per error. A real program would first wait
// until ReadErrorCount is no longer negative (examples/Interconnect.Messaging does).
//
// Run it on two emulated hosts, each in its own shell, the receiver first (the transmitter waits for it anyway):
//
//   dotnet build examples/Interconnect.McEx3 examples/Interconnect.McEx4
//   alias mc_ex3='dotnet examples/Interconnect.McEx3/bin/Debug/net10.0/mc_ex3.dll'
//   alias mc_ex4='dotnet examples/Interconnect.McEx4/bin/Debug/net10.0/mc_ex4.dll'
//   export IMC_AUTO_INIT=1          # or bring the hosts up first: imc_init --host alpha; imc_init --host beta
//   IMC_HOST=beta  mc_ex3 rx
//   IMC_HOST=alpha mc_ex4 --messages 10 --drop-every 3
//
// --drop-every K loses one delivery on the rail before every K-th message's body (the emulator's fault injection, as
// imcctl inject-error): the check fails and the message goes again. Or, from a third shell before starting mc_ex4,
// lose the whole first transmission, valid flag included, which the receiver alone could not notice:
//   imcctl inject-error --rail 0 --count 3 --host beta
//
// Exit codes: 0 done, 1 bad arguments, 2 an Imc call failed, 3 gave up waiting for the receiver.

using System.CommandLine;
using System.Diagnostics;
using Interconnect.Imc;

namespace Interconnect.Examples.McEx4;

/// <summary>Example 10-4: send, check the error count with CheckErrorCount, and retransmit until the check passes.</summary>
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
        var resendAfter = new Option<int>("--resend-after")
        {
            Description = "Send a message again when the receiver has not answered it within this many milliseconds.",
            DefaultValueFactory = _ => 200,
            HelpName = "MS",
        };
        var wait = new Option<int>("--wait")
        {
            Description = "Give up after this many seconds without a receiver or an answer; 0 waits forever.",
            DefaultValueFactory = _ => 60,
            HelpName = "SECONDS",
        };
        var command = new RootCommand("Example 10-4: transmit-side error detection (imc_ckerrcnt_mr) with retransmission.")
        {
            messages, dropEvery, resendAfter, wait,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(messages) < 1 || parse.GetValue(dropEvery) < 0 || parse.GetValue(resendAfter) < 1)
            {
                Console.Error.WriteLine("mc_ex4: --messages and --resend-after must be at least 1, --drop-every at least 0");
                return 1;
            }

            try
            {
                using var context = ImcContext.Open(); // imc_api_init(NULL)
                return Send(context, parse.GetValue(messages), parse.GetValue(dropEvery),
                    TimeSpan.FromMilliseconds(parse.GetValue(resendAfter)), Wait.Seconds(parse.GetValue(wait)));
            }
            catch (ImcException e)
            {
                Console.Error.WriteLine($"mc_ex4: {e.Message}");
                return 2;
            }
        });
        return command.Parse(args).Invoke();
    }

    private static int Send(ImcContext context, int total, int dropEvery, TimeSpan resendAfter, TimeSpan limit)
    {
        using var region = context.AllocateRegion(MessagePage.Key, MessagePage.Size, ImcPermissions.UserReadWrite,
            ImcRegionFlags.None, MessagePage.LogicalRail);
        using var tx = region.AttachTransmit(ImcShareMode.Shared, ImcAttachFlags.Loopback);
        using var rx = region.AttachReceive(ImcShareMode.Shared); // attached as in the C program; this side never reads it
        using var answers = context.AllocateRegion(AnswerPage.Key, AnswerPage.Size);
        using var answer = answers.AttachReceive();

        if (!Wait.Until(() => answer.Read<int>(AnswerPage.ReadyOffset) != 0, limit))
        {
            Console.Error.WriteLine($"mc_ex4: no receiver attached region key {MessagePage.Key} within {limit.TotalSeconds} s " +
                "(start 'mc_ex3 rx' on another host); giving up");
            return 3;
        }

        Console.WriteLine($"mc_ex4: pid {context.ProcessId} on host {context.HostName}: receiver pid " +
            $"{answer.Read<int>(AnswerPage.ReadyOffset)} is attached; sending {total} message(s)");

        int transmission = 0;
        long failedChecks = 0;
        var sinceAnswer = Stopwatch.StartNew();
        for (var message = 1; message <= total; message++)
        {
            var contents = MessagePage.Contents(message, total);
            var dropArmed = dropEvery > 0 && message % dropEvery == 0;
            while (true)
            {
                // Save the error count (negative while an error is being processed: read again).
                int errorCount;
                while ((errorCount = context.ReadErrorCount(MessagePage.LogicalRail)) < 0)
                {
                    Thread.Yield();
                }

                var before = errorCount;
                var attempts = 0;
                do
                {
                    attempts++;
                    transmission++;
                    if (dropArmed)
                    {
                        ImcControl.InjectErrors(MessagePage.LogicalRail, 1);
                        Console.WriteLine($"mc_ex4: message {message}: injected a lost delivery on logical rail " +
                            $"{MessagePage.LogicalRail} (as imcctl inject-error --rail 0 --count 1)");
                        dropArmed = false;
                    }

                    // Store the message data and the count, then mark it valid.
                    tx.Write(MessagePage.TotalOffset, contents);      // imc_bcopy
                    tx.Write(MessagePage.SendCountOffset, errorCount);
                    tx.Barrier();                                      // mb(): only for the port; writes land in order
                    tx.Write(MessagePage.ArrivedOffset, MessagePage.Arrived(message, transmission));
                }
                while (context.CheckErrorCount(ref errorCount, MessagePage.LogicalRail) != ImcStatus.Success);
                // (if an error occurred, retransmit: the failed check has brought errorCount up to date)

                var failed = attempts - 1;
                failedChecks += failed;
                if (failed > 0)
                {
                    Console.WriteLine($"mc_ex4: message {message}: the error check failed {failed} time(s) " +
                        $"({ImcException.PerrorText(ImcStatus.McError)}; error count {before} -> {errorCount}); " +
                        "retransmitted until it passed");
                }

                // The check passed: the message is in the receiver's memory. Wait for its answer before the next one.
                var current = transmission;
                var verdict = 0;
                Wait.Until(() => (verdict = Verdict(answer, message, current)) != 0, resendAfter);
                if (verdict > 0)
                {
                    sinceAnswer.Restart();
                    break;
                }

                if (verdict < 0)
                {
                    sinceAnswer.Restart();
                    Console.WriteLine($"mc_ex4: message {message}: the receiver found an error in transmission {current}; " +
                        "sending the message again");
                    continue;
                }

                if (sinceAnswer.Elapsed > limit)
                {
                    Console.Error.WriteLine($"mc_ex4: no answer from the receiver for {limit.TotalSeconds} s; giving up");
                    return 3;
                }

                Console.WriteLine($"mc_ex4: message {message}: no answer to transmission {current} within " +
                    $"{resendAfter.TotalMilliseconds} ms; sending the message again");
            }

            Console.WriteLine($"mc_ex4: message {message} accepted");
        }

        Console.WriteLine($"mc_ex4: sent {total} message(s) in {transmission} transmission(s); the error check failed " +
            $"{failedChecks} time(s)");
        return 0;
    }

    /// <summary>1: the receiver accepted the message; -1: it rejected this transmission; 0: no answer yet.</summary>
    private static int Verdict(ImcReceiveWindow answer, int message, int transmission) =>
        answer.Read<int>(AnswerPage.AcceptedOffset) >= message ? 1
        : answer.Read<int>(AnswerPage.RejectedOffset) == transmission ? -1
        : 0;
}
