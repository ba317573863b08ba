using System.Diagnostics;
using Interconnect.Imc;

namespace Interconnect.Examples.McEx3;

/// <summary>
/// The transmitting process of Example 10-3: it reads the error count, sends it with the message, and marks the
/// message valid; it makes sure the valid flag went out by reading it back through loopback. It cannot know by
/// itself that the receiver got the message whole (Example 10-4 can): it relies on the receiver's answer, and
/// sends the message again when the receiver reports an error or does not answer.
/// </summary>
internal static class Transmitter
{
    public static int Run(ImcContext context, int total, int dropEvery, TimeSpan resendAfter, TimeSpan limit)
    {
        using var messages = context.AllocateRegion(MessagePage.Key, MessagePage.Size, ImcPermissions.UserReadWrite,
            ImcRegionFlags.None, MessagePage.LogicalRail);
        using var tx = messages.AttachTransmit(ImcShareMode.Shared, ImcAttachFlags.Loopback);
        using var rx = messages.AttachReceive(ImcShareMode.Shared);
        using var answers = context.AllocateRegion(AnswerPage.Key, AnswerPage.Size);
        using var answer = answers.AttachReceive();

        // Only a receiver attached before a write sees it (manual 10.6.2): wait until one says it is.
        if (!Wait.Until(() => answer.Read<int>(AnswerPage.ReadyOffset) != 0, limit))
        {
            Console.Error.WriteLine($"mc_ex3 tx: no receiver attached region key {MessagePage.Key} within " +
                $"{limit.TotalSeconds} s (start 'mc_ex3 rx' on another host); giving up");
            return 3;
        }

        Console.WriteLine($"mc_ex3 tx: pid {context.ProcessId} on host {context.HostName}: receiver pid " +
            $"{answer.Read<int>(AnswerPage.ReadyOffset)} is attached; sending {total} message(s)");

        int transmission = 0, rejections = 0, timeouts = 0;
        var sinceAnswer = Stopwatch.StartNew();
        for (var message = 1; message <= total; message++)
        {
            var contents = MessagePage.Contents(message, total);
            var dropArmed = dropEvery > 0 && message % dropEvery == 0;
            while (true)
            {
                transmission++;

                // Save the error count (negative while an error is being processed: read again).
                int errorCount;
                while ((errorCount = context.ReadErrorCount(MessagePage.LogicalRail)) < 0)
                {
                    Thread.Yield();
                }

                if (dropArmed)
                {
                    InjectDrop(message);
                    dropArmed = false;
                }

                // Store the message data and the count, then mark it valid.
                tx.Write(MessagePage.TotalOffset, contents);         // imc_bcopy
                tx.Write(MessagePage.SendCountOffset, errorCount);
                tx.Barrier();                                         // mb(): only for the port; writes land in order
                var arrived = MessagePage.Arrived(message, transmission);
                do
                {
                    tx.Write(MessagePage.ArrivedOffset, arrived);
                }
                while (rx.Read<long>(MessagePage.ArrivedOffset) != arrived); // ensure no error on the valid flag

                // The higher-level protocol: wait for the receiver's verdict on this transmission.
                var verdict = Verdict.None;
                Wait.Until(() => (verdict = Read(answer, message, transmission)) != Verdict.None, resendAfter);
                if (verdict == Verdict.Accepted)
                {
                    sinceAnswer.Restart();
                    break;
                }

                if (verdict == Verdict.Rejected)
                {
                    sinceAnswer.Restart();
                    rejections++;
                    Console.WriteLine($"mc_ex3 tx: message {message}: the receiver found an error in transmission " +
                        $"{transmission}; sending the message again");
                    continue;
                }

                timeouts++;
                if (sinceAnswer.Elapsed > limit)
                {
                    Console.Error.WriteLine($"mc_ex3 tx: no answer from the receiver for {limit.TotalSeconds} s; giving up");
                    return 3;
                }

                Console.WriteLine($"mc_ex3 tx: message {message}: no answer to transmission {transmission} within " +
                    $"{resendAfter.TotalMilliseconds} ms; sending the message again");
            }

            Console.WriteLine($"mc_ex3 tx: message {message} accepted");
        }

        Console.WriteLine($"mc_ex3 tx: sent {total} message(s) in {transmission} transmission(s): {rejections} rejected by " +
            $"the receiver, {timeouts} unanswered");
        return 0;
    }

    private enum Verdict
    {
        None,
        Accepted,
        Rejected,
    }

    private static Verdict Read(ImcReceiveWindow answer, int message, int transmission) =>
        answer.Read<int>(AnswerPage.AcceptedOffset) >= message ? Verdict.Accepted
        : answer.Read<int>(AnswerPage.RejectedOffset) == transmission ? Verdict.Rejected
        : Verdict.None;

    /// <summary>
    /// The emulator's fault injection (what <c>imcctl inject-error --rail 0 --count 1</c> does): the next delivery on
    /// the rail, here the first copy of the message body, is lost, and the rail's error count rises.
    /// </summary>
    private static void InjectDrop(int message)
    {
        ImcControl.InjectErrors(MessagePage.LogicalRail, 1);
        Console.WriteLine($"mc_ex3 tx: message {message}: injected a lost delivery on logical rail {MessagePage.LogicalRail} " +
            "(as imcctl inject-error --rail 0 --count 1)");
    }
}
