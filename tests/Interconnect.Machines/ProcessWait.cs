using System.Diagnostics;

namespace Interconnect.Machines;

/// <summary>
/// Waits on a child process and its redirected output, each with a deadline. A process that has exited may still hold
/// the test up: its output pipes stay open while a process it started (and left running) holds them, and
/// <see cref="Process.WaitForExit()"/> without a timeout, or <c>ReadToEnd</c> on such a pipe, then never returns.
/// </summary>
public static class ProcessWait
{
    /// <summary>How long the output of a process that has exited may take to end.</summary>
    public static readonly TimeSpan OutputGrace = TimeSpan.FromSeconds(10);

    /// <summary>
    /// True once <paramref name="process"/> has exited and the output it redirected to handlers
    /// (<see cref="Process.BeginOutputReadLine"/>, <see cref="Process.BeginErrorReadLine"/>) has ended; false when that
    /// is not so within <paramref name="timeout"/>.
    /// </summary>
    public static bool ForExitAndOutput(Process process, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(Clamp(timeout));
        try
        {
            // WaitForExitAsync also waits until the handlers have seen the end of both streams.
            process.WaitForExitAsync(cancel.Token).GetAwaiter().GetResult();
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>True when every read of a process's pipes (<c>ReadToEndAsync</c>) has finished within <paramref name="timeout"/>.</summary>
    public static bool ForOutput(TimeSpan timeout, params Task[] reads)
    {
        try
        {
            return Task.WaitAll(reads, Clamp(timeout));
        }
        catch (AggregateException)
        {
            return true; // ended, if with an error: nothing more is waited for
        }
    }

    /// <summary>What <paramref name="read"/> has read, or a note when it has not finished.</summary>
    public static string TextOf(Task<string> read) =>
        read.IsCompletedSuccessfully ? read.Result : "(output not ended: a process it started still holds the pipe)";

    private static TimeSpan Clamp(TimeSpan timeout) =>
        timeout < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1)
        : timeout > TimeSpan.FromMilliseconds(int.MaxValue) ? TimeSpan.FromMilliseconds(int.MaxValue) : timeout;
}
