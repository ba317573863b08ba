using System.Diagnostics;
using Interconnect.Machines;

namespace Interconnect.Cluster.Tests;

/// <summary>Reading what a process prints, line by line, with a deadline.</summary>
internal static class Lines
{
    /// <summary>The next line of <paramref name="process"/>'s output; fails the test when none comes in time.</summary>
    public static string Next(Process process, TimeSpan timeout, CancellationToken cancellation)
    {
        var line = process.StandardOutput.ReadLineAsync(cancellation).AsTask();
        if (!line.Wait(timeout, cancellation))
        {
            Assert.Fail($"{process.StartInfo.FileName} printed no line within {timeout.TotalSeconds} s");
        }

        if (line.Result is { } text)
        {
            return text;
        }

        // The output ended: say what it printed on standard error, as far as that ends in a few seconds (a process it
        // started may still hold the pipe).
        var errors = process.StandardError.ReadToEndAsync(cancellation);
        _ = ProcessWait.ForOutput(TimeSpan.FromSeconds(5), errors);
        throw new AssertionException($"{process.StartInfo.FileName} ended its output; stderr: {ProcessWait.TextOf(errors)}");
    }

    /// <summary>Lines until one starts with <paramref name="prefix"/>, that one included.</summary>
    public static List<string> Until(Process process, string prefix, TimeSpan timeout, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        var lines = new List<string>();
        do
        {
            var left = timeout - clock.Elapsed;
            lines.Add(Next(process, left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellation));
        }
        while (!lines[^1].StartsWith(prefix, StringComparison.Ordinal));

        return lines;
    }
}
