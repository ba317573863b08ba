using System.Runtime.InteropServices;

namespace Interconnect.Testing;

/// <summary>Stopping and continuing peers (SIGSTOP, SIGCONT), to look at a cluster while its processes stand still.</summary>
public static partial class Signals
{
    public const int Stop = 19;
    public const int Continue = 18;
    public const int SigTerm = 15;

    public static void Send(int pid, int signal) => _ = Kill(pid, signal);

    /// <summary>
    /// Whether every thread of process <paramref name="pid"/> is stopped (state T in /proc/PID/task/TID/stat), or gone.
    /// A SIGSTOP has not stopped a process when kill(2) returns: each thread takes the stop on its way back to user
    /// space, and runs on until then (an agent still answers a message).
    /// </summary>
    public static bool IsStopped(int pid)
    {
        try
        {
            return Directory.EnumerateDirectories($"/proc/{pid}/task")
                .All(task => ThreadState(task) is 'T' or 'Z' or 'X' or null);
        }
        catch (DirectoryNotFoundException)
        {
            return true; // the process is gone
        }
    }

    /// <summary>The state letter of the thread at /proc/PID/task/TID, or null when it is gone.</summary>
    private static char? ThreadState(string task)
    {
        try
        {
            // The command name (field 2) is in parentheses and may hold spaces: the state follows the last ')'.
            var stat = File.ReadAllText(Path.Combine(task, "stat"));
            return stat[stat.LastIndexOf(')') + 2];
        }
        catch (IOException)
        {
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
