using System.Globalization;

namespace Interconnect.Driver.Store;

/// <summary>
/// A process as the cluster knows it: pid and start time (clock ticks since boot, field 22 of /proc/PID/stat).
/// Two processes never share both, so a pid reused after a death is not taken for the dead process.
/// </summary>
internal readonly record struct ProcessIdentity(int Pid, long StartTime)
{
    private static readonly Lazy<ProcessIdentity> s_current = new(() =>
    {
        var pid = Environment.ProcessId;
        return TryReadStartTime(pid, out var start)
            ? new ProcessIdentity(pid, start)
            : throw new DriverException(DriverStatus.OpenError,
                $"cannot read /proc/{pid}/stat: the emulator needs Linux's /proc to identify processes");
    });

    public static ProcessIdentity Current => s_current.Value;

    /// <summary>The value a lock word holds for this process: pid high, start time's low 32 bits low.</summary>
    public long LockValue => ((long)Pid << 32) | (uint)StartTime;

    public static bool IsAlive(int pid, long startTime) =>
        TryReadStartTime(pid, out var start) && start == startTime;

    /// <summary>Whether the process named by a lock value still runs (a zombie counts as dead).</summary>
    public static bool IsLockValueAlive(long lockValue)
    {
        var pid = (int)(lockValue >>> 32);
        return TryReadStartTime(pid, out var start) && (uint)start == (uint)lockValue;
    }

    public static bool TryReadStartTime(int pid, out long startTime)
    {
        startTime = 0;
        if (pid <= 0)
        {
            return false;
        }

        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }

        // "pid (comm) state ppid ..." where comm may hold spaces and parentheses: fields start after the last ')'.
        var close = stat.LastIndexOf(')');
        if (close < 0)
        {
            return false;
        }

        var fields = stat.AsSpan(close + 2);
        var index = 3; // the field after comm is field 3, the state
        foreach (var range in fields.Split(' '))
        {
            var field = fields[range];
            if (index == 3 && field.Length > 0 && (field[0] == 'Z' || field[0] == 'X'))
            {
                return false; // exited, not yet reaped: dead for the cluster
            }

            if (index == 22)
            {
                return long.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out startTime);
            }

            index++;
        }

        return false;
    }
}
