using System.Globalization;
using System.Text.RegularExpressions;

namespace Interconnect.Machines;

/// <summary>
/// The name every namespace, mount and folder of one cluster starts with: <c>imcm-PID-START-SEQ</c>, the owner's
/// pid, the owner's start time (clock ticks after boot, so a reused pid is not mistaken for the owner) and a
/// sequence number within the owner. Anything named so whose owner is gone is a leftover: <see cref="SimulatedCluster.Sweep"/>
/// removes it.
/// </summary>
internal sealed partial record OwnerTag(int Pid, long StartTime, int Sequence)
{
    /// <summary>Where clusters keep their files (mount namespace files, etcd's data): one folder per cluster.</summary>
    public const string BaseFolder = "/tmp/imc-machines";

    /// <summary>Where <c>ip netns</c> keeps the named network namespaces.</summary>
    public const string NetnsFolder = "/run/netns";

    private static int s_sequence;

    public string Name => string.Create(CultureInfo.InvariantCulture, $"imcm-{Pid}-{StartTime}-{Sequence}");

    public string Folder => Path.Combine(BaseFolder, Name);

    /// <summary>The folder bind-mounted on itself, private, that holds the machines' mount namespace files.</summary>
    public string MountNamespaceFolder => Path.Combine(Folder, "ns");

    public string NetworkNamespace(string member) => $"{Name}-{member}";

    public string MountNamespaceFile(string machine) => Path.Combine(MountNamespaceFolder, machine + ".mnt");

    /// <summary>True while the process that made the cluster runs (same pid, same start time).</summary>
    public bool IsOwnerAlive => ProcFs.StartTime(Pid) == StartTime;

    /// <summary>A new tag owned by this process.</summary>
    public static OwnerTag ForThisProcess() =>
        new(Environment.ProcessId, ProcFs.StartTime(Environment.ProcessId) ?? 0, Interlocked.Increment(ref s_sequence));

    /// <summary>The tag a namespace, mount or folder name starts with; null when it is not one of ours.</summary>
    public static OwnerTag? Parse(string name)
    {
        var match = TagPattern().Match(name);
        if (!match.Success)
        {
            return null;
        }

        return int.TryParse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture, out var pid)
            && long.TryParse(match.Groups[2].ValueSpan, CultureInfo.InvariantCulture, out var start)
            && int.TryParse(match.Groups[3].ValueSpan, CultureInfo.InvariantCulture, out var sequence)
            ? new OwnerTag(pid, start, sequence)
            : null;
    }

    /// <summary>Whether <paramref name="name"/> (a namespace name, not a path) belongs to this tag.</summary>
    public bool Owns(string name) => Parse(name) == this;

    [GeneratedRegex(@"^imcm-([0-9]{1,10})-([0-9]{1,19})-([0-9]{1,10})(?:-[A-Za-z0-9]+)?$")]
    private static partial Regex TagPattern();
}
