using System.Globalization;

namespace Interconnect.Driver.Status;

/// <summary>User and group names from /etc/passwd and /etc/group (numbers where a name is unknown).</summary>
internal sealed class AccountNames
{
    private readonly Dictionary<int, string> _users = Load("/etc/passwd");
    private readonly Dictionary<int, string> _groups = Load("/etc/group");

    public string User(int uid) => _users.TryGetValue(uid, out var name) ? name : uid.ToString(CultureInfo.InvariantCulture);

    public string Group(int gid) => _groups.TryGetValue(gid, out var name) ? name : gid.ToString(CultureInfo.InvariantCulture);

    /// <summary>The number of the group named <paramref name="name"/>, or null when /etc/group has none.</summary>
    public int? GroupId(string name) => _groups.FirstOrDefault(group => group.Value == name) is { Value: not null } found ? found.Key : null;

    private static Dictionary<int, string> Load(string path)
    {
        var names = new Dictionary<int, string>();
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                var fields = line.Split(':');
                if (fields.Length > 2 && int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                {
                    names.TryAdd(id, fields[0]);
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return names;
    }
}
