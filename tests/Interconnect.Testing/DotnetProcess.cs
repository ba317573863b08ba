using System.Diagnostics;

namespace Interconnect.Testing;

/// <summary>How the tests start a built .NET program beside them: redirected, optionally as another user.</summary>
public static class DotnetProcess
{
    /// <summary>
    /// A start for <c>dotnet DLL</c>, redirected both ways; with <paramref name="user"/> it runs through setpriv as
    /// that user (the tests run as root), with no supplementary groups.
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
            info.ArgumentList.Add($"--reuid={user}");
            info.ArgumentList.Add($"--regid={(user == "nobody" ? "nogroup" : user)}");
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
