using System.Diagnostics;

namespace Interconnect.Testing;

/// <summary>How the tests start a built .NET program beside them: redirected, optionally as another user.</summary>
public static class DotnetProcess
{
    /// <summary>
    /// A start for <c>dotnet DLL</c>, redirected both ways; with <paramref name="user"/> it runs through setpriv as
    /// that user (the tests run as root), with no supplementary groups; "user:group" runs it with that group.
    /// </summary>
    public static ProcessStartInfo StartInfo(string dll, string? user = null)
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (user is null)
        {
            info.FileName = "dotnet";
        }
        else
        {
            info.FileName = "setpriv";
            // "user:group" names the group; otherwise the user's group of the same name (nobody's is nogroup).
            var parts = user.Split(':', 2);
            var group = parts.Length == 2 ? parts[1] : user == "nobody" ? "nogroup" : user;
            info.ArgumentList.Add($"--reuid={parts[0]}");
            info.ArgumentList.Add($"--regid={group}");
            info.ArgumentList.Add("--clear-groups");
            info.ArgumentList.Add("dotnet");
            info.Environment["HOME"] = "/tmp";
            info.Environment["DOTNET_CLI_HOME"] = "/tmp";
        }

        info.ArgumentList.Add(dll);
        info.Environment.Remove("IMC_AUTO_INIT");
        return info;
    }
}
