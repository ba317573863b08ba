// imccat: netcat over the interconnect. "imccat listen KEY" receives one stream on region keys KEY (the ring) and
// KEY + 1 (the receiver's answers) and writes it to standard output; "imccat send KEY HOST" sends standard input to
// the listener on host HOST and exits 0 only once the listener has consumed every byte.
//
// Exit codes: 0 done, 1 bad arguments, 2 an Imc call failed, 3 the other side is gone or broke the stream.

using System.CommandLine;
using System.Globalization;
using Interconnect.Imc;
using Interconnect.Imc.Streams;

namespace Interconnect.ImcCat;

/// <summary>imccat: a byte stream from standard input on one host to standard output on another.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var timeout = new Option<double>("--timeout")
        {
            Description = "Give up when the other side shows no sign of life for this long.",
            DefaultValueFactory = _ => 30,
            HelpName = "SECONDS",
        };
        var progress = new Option<bool>("--progress") { Description = "Print bytes, rate and retransmissions to standard error." };
        var slots = new Option<int>("--slots") { Description = "Frames in flight (both sides must agree).", DefaultValueFactory = _ => 64, HelpName = "N" };
        var slotKib = new Option<int>("--slot-kib")
        {
            Description = "The largest frame, in KiB (both sides must agree).",
            DefaultValueFactory = _ => 64,
            HelpName = "KIB",
        };
        var listenKey = new Argument<int>("KEY") { Description = "The stream's region key (the listener also uses KEY + 1)." };
        var listen = new Command("listen", "Receive one stream on region key KEY and write it to standard output.")
        {
            listenKey, progress, timeout, slots, slotKib,
        };
        listen.SetAction(parse => Run(parse.GetValue(timeout), () => Options(parse.GetValue(listenKey), parse.GetValue(slots),
            parse.GetValue(slotKib), parse.GetValue(timeout)), (context, options) => Listen(context, options, parse.GetValue(progress))));

        var sendKey = new Argument<int>("KEY") { Description = "The listener's region key." };
        var host = new Argument<string>("HOST") { Description = "The host the listener runs on." };
        var send = new Command("send", "Send standard input to the listener on HOST; exit 0 once it has received every byte.")
        {
            sendKey, host, progress, timeout, slots, slotKib,
        };
        send.SetAction(parse => Run(parse.GetValue(timeout), () => Options(parse.GetValue(sendKey), parse.GetValue(slots),
            parse.GetValue(slotKib), parse.GetValue(timeout)), (context, options) =>
                Send(context, options, parse.GetValue(host)!, parse.GetValue(progress))));

        return new RootCommand("netcat over the interconnect: one byte stream from one host to another.") { listen, send }
            .Parse(args).Invoke();
    }

    private static ImcStreamOptions Options(int key, int slots, int slotKib, double timeout) => new()
    {
        Key = key,
        SlotCount = slots,
        SlotSize = checked(slotKib * 1024),
        PeerTimeout = TimeSpan.FromSeconds(timeout),
    };

    private static int Run(double timeout, Func<ImcStreamOptions> makeOptions, Func<ImcContext, ImcStreamOptions, int> side)
    {
        ImcStreamOptions options;
        try
        {
            if (!(timeout > 0))
            {
                throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "give --timeout a number of seconds above 0");
            }

            options = makeOptions();
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            Console.Error.WriteLine($"imccat: bad option: {e.Message.Split('\n')[0]}");
            return 1;
        }

        try
        {
            using var context = ImcContext.Open();
            return side(context, options);
        }
        catch (ImcException e)
        {
            Console.Error.WriteLine($"imccat: {e.Message}");
            return 2;
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"imccat: {e.Message}");
            return 3;
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"imccat: bad option: {e.Message.Split('\n')[0]}");
            return 1;
        }
    }

    private static int Listen(ImcContext context, ImcStreamOptions options, bool showProgress)
    {
        using var reader = new ImcStreamReader(context, options);
        using var output = Console.OpenStandardOutput();
        var skip = ResumeSkip(reader);
        using var progress = new Progress(showProgress, "received", () => reader.Position,
            () => string.Create(CultureInfo.InvariantCulture, $"{reader.FramesDoubted} frame(s) doubted and taken once vouched for"));
        while (true)
        {
            var read = reader.ReadAsync();
            var result = read.IsCompleted ? read.Result : read.AsTask().GetAwaiter().GetResult();
            var buffer = result.Buffer;
            foreach (var segment in buffer)
            {
                var span = segment.Span;
                if (skip > 0)
                {
                    var skipped = (int)Math.Min(skip, span.Length);
                    span = span[skipped..];
                    skip -= skipped;
                }

                output.Write(span);
            }

            output.Flush();
            reader.AdvanceTo(buffer.End); // consumed only once written: a restarted listener resumes after it
            if (result.IsCompleted)
            {
                break;
            }
        }

        progress.Finish();
        reader.Complete();
        return 0;
    }

    /// <summary>
    /// A listener that takes over from one that died resumes at the position its predecessor consumed to. When standard
    /// output is a regular file that holds this stream (opened for append), bytes the predecessor wrote to it but had
    /// not yet acknowledged are there already: skip them, so the file holds every byte exactly once.
    /// </summary>
    private static long ResumeSkip(ImcStreamReader reader)
    {
        if (!reader.IsResumed)
        {
            return 0;
        }

        var target = new FileInfo("/proc/self/fd/1").LinkTarget;
        if (target is null || !target.StartsWith('/') || !File.Exists(target))
        {
            Console.Error.WriteLine($"imccat: resuming the stream at byte {reader.StartPosition}");
            return 0;
        }

        var length = new FileInfo(target).Length; // 0 for a device such as /dev/null: nothing to skip
        var skip = Math.Max(0, length - reader.StartPosition);
        Console.Error.WriteLine(
            $"imccat: resuming the stream at byte {reader.StartPosition}; {target} holds {length} bytes, skipping {skip}");
        return skip;
    }

    private static int Send(ImcContext context, ImcStreamOptions options, string host, bool showProgress)
    {
        using var writer = new ImcStreamWriter(context, host, options);
        using var input = Console.OpenStandardInput();
        using var progress = new Progress(showProgress, "sent", () => writer.BytesWritten,
            () => string.Create(CultureInfo.InvariantCulture,
                $"{writer.FramesRetransmitted} frame(s) retransmitted, {writer.ErrorsDetected} error(s) detected, {writer.ReaderRestarts} listener restart(s)"));
        while (true)
        {
            var memory = writer.GetMemory();
            var read = input.Read(memory.Span);
            if (read == 0)
            {
                break;
            }

            writer.Advance(read);
            var flush = writer.FlushAsync();
            if (!flush.IsCompleted)
            {
                _ = flush.AsTask().GetAwaiter().GetResult();
            }
        }

        writer.Complete(); // waits until the listener has consumed every byte
        progress.Finish();
        return 0;
    }
}
