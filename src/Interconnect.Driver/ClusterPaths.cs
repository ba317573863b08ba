using System.Text.RegularExpressions;
using Interconnect.Driver.Store;

namespace Interconnect.Driver;

/// <summary>
/// Where a cluster lives: <c>IMC_ROOT/IMC_CLUSTER</c>, with its control file, its words file and its folder of receive files.
/// Names are checked here, once, so that no name can lead outside <c>IMC_ROOT</c>.
/// </summary>
internal sealed partial class ClusterPaths
{
    public const string DefaultRoot = "/dev/shm/imc";
    public const string DefaultCluster = "default";
    public const int MaxNameLength = 63;

    private ClusterPaths(string root, string cluster, FileOwners owners)
    {
        Root = root;
        Cluster = cluster;
        Owners = owners;
        ClusterDirectory = Path.Combine(root, cluster);
        ControlFile = Path.Combine(ClusterDirectory, "control");
        WordsFile = Path.Combine(ClusterDirectory, "words");
        RegionsDirectory = Path.Combine(ClusterDirectory, "regions");
        LockSetsDirectory = Path.Combine(ClusterDirectory, "locksets");
        WindowsDirectory = Path.Combine(ClusterDirectory, "windows");
        TalliesDirectory = Path.Combine(ClusterDirectory, "tallies");
    }

    public string Root { get; }

    public string Cluster { get; }

    public string ClusterDirectory { get; }

    public string ControlFile { get; }

    /// <summary>The words the cluster's processes write themselves, beside the control file (<see cref="Store.Layout.WordsLayout"/>).</summary>
    public string WordsFile { get; }

    public string RegionsDirectory { get; }

    /// <summary>The folder of lock sets' words, one file per set (<see cref="LockSetFile"/>).</summary>
    public string LockSetsDirectory { get; }

    /// <summary>The folder of regions' window words, one file per region (<see cref="RegionWindowsFile"/>).</summary>
    public string WindowsDirectory { get; }

    /// <summary>The folder of users' loss tallies, one file per user, which only imcd makes (<see cref="TallyFile"/>).</summary>
    public string TalliesDirectory { get; }

    /// <summary>Whose folders and files of the cluster this process uses (all users', or root's alone: <see cref="FileOwners"/>).</summary>
    public FileOwners Owners { get; }

    /// <summary>The same cluster as the machine's agent (imcd) uses it: strict about owners whatever its uid.</summary>
    public ClusterPaths ForAgent() => new(Root, Cluster, FileOwners.ForAgent());

    /// <summary>Resolves the location from explicit values, then the environment, then the defaults.</summary>
    public static ClusterPaths Resolve(string? root = null, string? cluster = null)
    {
        root ??= NonEmpty(Environment.GetEnvironmentVariable("IMC_ROOT")) ?? DefaultRoot;
        cluster ??= NonEmpty(Environment.GetEnvironmentVariable("IMC_CLUSTER")) ?? DefaultCluster;
        if (root.Length == 0 || root.Contains('\0', StringComparison.Ordinal))
        {
            throw new DriverException(DriverStatus.BadParameter,
                "IMC_ROOT is empty or holds a NUL character: set it to a folder such as /dev/shm/imc");
        }

        ValidateName(cluster, "cluster name (IMC_CLUSTER)");
        return new ClusterPaths(Path.GetFullPath(root), cluster, FileOwners.ForThisProcess());
    }

    /// <summary>The host name from the given value, then <c>IMC_HOST</c>, then the machine's host name.</summary>
    public static string ResolveHost(string? host)
    {
        host ??= NonEmpty(Environment.GetEnvironmentVariable("IMC_HOST")) ?? Environment.MachineName;
        ValidateName(host, "host name (IMC_HOST)");
        return host;
    }

    /// <summary>True when <paramref name="name"/> is a usable cluster or host name.</summary>
    public static bool IsValidName(string? name) =>
        name is not null && name.Length <= MaxNameLength && NamePattern().IsMatch(name);

    public static void ValidateName(string? name, string what)
    {
        if (!IsValidName(name))
        {
            throw new DriverException(DriverStatus.BadParameter,
                $"invalid {what} '{Printable(name)}': use 1 to {MaxNameLength} letters, digits, '.', '_' or '-', " +
                "starting with a letter or digit");
        }
    }

    /// <summary>A name as it may be shown in a message: control characters escaped, length capped.</summary>
    public static string Printable(string? name)
    {
        if (name is null)
        {
            return "(null)";
        }

        var shown = name.Length > 80 ? name[..80] + "..." : name;
        return ControlCharacters().Replace(shown, m => $"\\x{(int)m.Value[0]:x2}");
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"[\x00-\x1f\x7f]", RegexOptions.CultureInvariant)]
    private static partial Regex ControlCharacters();
}
