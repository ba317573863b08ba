using System.Diagnostics;
using Interconnect.Imc;

namespace Interconnect.Examples.McEx3;

/// <summary>
/// The receiving process of Example 10-3: it waits for a message, then reads this host's error count and compares
/// it with the count the transmitter read before sending. The local count is always up to date, so equal counts
/// mean no error happened in between and the message is whole; otherwise it asks for the message again.
/// </summary>
internal static class Receiver
{
    private static readonly TimeSpan s_readyEvery = TimeSpan.FromMilliseconds(10);

    public static int Run(ImcContext context, TimeSpan limit)
    {
        using var messages = context.AllocateRegion(MessagePage.Key, MessagePage.Size, ImcPermissions.UserReadWrite,
            ImcRegionFlags.None, MessagePage.LogicalRail);
        using var rx = messages.AttachReceive(ImcShareMode.Shared);
        using var answers = context.AllocateRegion(AnswerPage.Key, AnswerPage.Size);
        using var answer = answers.AttachTransmit();
        Console.WriteLine($"mc_ex3 rx: pid {context.ProcessId} on host {context.HostName} attached region key " +
            $"{MessagePage.Key} for receive; waiting for messages (start 'mc_ex3 tx' or 'mc_ex4' on another host)");

        int accepted = 0, total = 0, rejected = 0, damagedButAccepted = 0;
        long lastSeen = 0;
        var idle = Stopwatch.StartNew();
        var sinceReady = Stopwatch.StartNew();
        answer.Write(AnswerPage.ReadyOffset, context.ProcessId);
        while (total == 0 || accepted < total)
        {
            // Wait for a transmission not seen yet: the valid flag changes with each one.
            var arrived = rx.Read<long>(MessagePage.ArrivedOffset);
            if (arrived == lastSeen)
            {
                if (idle.Elapsed > limit)
                {
                    Console.Error.WriteLine($"mc_ex3 rx: nothing new arrived for {limit.TotalSeconds} s after {accepted} " +
                        $"message(s); giving up");
                    return 3;
                }

                if (accepted == 0 && sinceReady.Elapsed > s_readyEvery)
                {
                    // Until the first message, say again that this receiver is attached: a transmitter that attached
                    // its answer window after the first time would not have seen it.
                    answer.Write(AnswerPage.ReadyOffset, context.ProcessId);
                    sinceReady.Restart();
                }

                Thread.Yield();
                continue;
            }

            lastSeen = arrived;
            idle.Restart();
            var message = MessagePage.MessageOf(arrived);
            var transmission = MessagePage.TransmissionOf(arrived);
            if (message <= accepted)
            {
                answer.Write(AnswerPage.AcceptedOffset, accepted); // sent again after our answer was missed: answer again
                continue;
            }

            // Read the message, then this host's error count (negative while an error is being processed: read again).
            var sent = rx.Read<int>(MessagePage.SendCountOffset);
            var count = rx.Read<int>(MessagePage.TotalOffset);
            var whole = MessagePage.HoldsBodyOf(rx, message);
            Interlocked.MemoryBarrier(); // the reads of the message complete before the error count is read
            int errorCount;
            while ((errorCount = context.ReadErrorCount(MessagePage.LogicalRail)) < 0)
            {
                Thread.Yield();
            }

            if (errorCount == sent)
            {
                // No error: process the body. (The body check is not part of the pattern: it shows it held.)
                if (!whole || message != accepted + 1)
                {
                    damagedButAccepted++;
                    Console.WriteLine($"mc_ex3 rx: message {message} (transmission {transmission}): error count {errorCount}, " +
                        $"as sent, but the body is NOT that message's: the check failed");
                }
                else
                {
                    Console.WriteLine($"mc_ex3 rx: message {message} of {count} (transmission {transmission}): error count " +
                        $"{errorCount}, as sent: accepted");
                }

                accepted = message;
                total = count;
                answer.Write(AnswerPage.AcceptedOffset, accepted);
            }
            else
            {
                // Error processing: a write may have been lost between the transmitter's count and ours. Ask again.
                rejected++;
                Console.WriteLine($"mc_ex3 rx: message {message} (transmission {transmission}): error count {errorCount} " +
                    $"here, {sent} in the message: an error was detected; asked for the message again");
                answer.Write(AnswerPage.RejectedOffset, transmission);
            }
        }

        Console.WriteLine($"mc_ex3 rx: received {accepted} of {total} message(s) in order; {rejected} transmission(s) " +
            $"rejected on an error count mismatch; {damagedButAccepted} damaged message(s) accepted");
        return damagedButAccepted == 0 ? 0 : 4;
    }
}
