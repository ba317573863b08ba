using System.Collections.Concurrent;
using System.Diagnostics;
using NUnit.Framework;

namespace Interconnect.Testing;

/// <summary>How the tests start a built .NET program beside them: redirected, optionally as another user.</summary>
public static class DotnetProcess
{
    /// <summary>
    /// The category of every test that runs something as another user (through <see cref="StartInfo"/> with a user):
    /// CI runs these once more from a clone in a folder only its owner may enter (<c>--filter TestCategory=AsAnotherUser</c>).
    /// </summary>
    public const string AsAnotherUser = "AsAnotherUser";

    private static readonly ConcurrentDictionary<string, Lazy<string>> s_staged = new(StringComparer.Ordinal);

    /// <summary>
    /// A start for <c>dotnet DLL</c>, redirected both ways; with <paramref name="user"/> it runs through setpriv as
    /// that user (the tests run as root), with no supplementary groups; "user:group" runs it with that group.
    /// </summary>
    /// <remarks>
    /// The other user may not be able to reach the test's own folder: a clone can live anywhere, in a home folder of
    /// mode 0700 for one. So the program runs from a copy of its folder that every user can read (made once per folder
    /// and test process, under /tmp, removed when the test process exits), with that copy as its working directory. The
    /// dotnet host must be one every user can run, or the test is skipped saying so.
    /// </remarks>
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
            info.ArgumentList.Add(dll);
        }
        else
        {
            RequireCategory();
            var host = ReachableDotnetHost();
            var folder = Stage(Path.GetDirectoryName(Path.GetFullPath(dll))!);
            info.FileName = "setpriv";
            // "user:group" names the group; otherwise the user's group of the same name (nobody's is nogroup).
            var parts = user.Split(':', 2);
            var group = parts.Length == 2 ? parts[1] : user == "nobody" ? "nogroup" : user;
            info.ArgumentList.Add($"--reuid={parts[0]}");
            info.ArgumentList.Add($"--regid={group}");
            info.ArgumentList.Add("--clear-groups");
            info.ArgumentList.Add(host);
            info.ArgumentList.Add(Path.Combine(folder, Path.GetFileName(dll)));
            info.WorkingDirectory = folder;
            info.Environment["HOME"] = "/tmp";
            info.Environment["DOTNET_CLI_HOME"] = "/tmp";
        }

        info.Environment.Remove("IMC_AUTO_INIT");
        return info;
    }

    /// <summary>
    /// The dotnet host on PATH, as a full path, when every user can run it (each folder above it searchable by
    /// others, the host itself executable by them); otherwise the test is skipped with the reason.
    /// </summary>
    private static string ReachableDotnetHost()
    {
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, "dotnet"))
            .FirstOrDefault(File.Exists);
        if (onPath is null)
        {
            Assert.Ignore("runs a program as another user, and no dotnet is on PATH");
        }

        var real = File.ResolveLinkTarget(onPath!, returnFinalTarget: true)?.FullName ?? onPath!;
        foreach (var path in new[] { onPath!, real })
        {
            var blocked = FoldersAbove(path).FirstOrDefault(folder =>
                (File.GetUnixFileMode(folder) & UnixFileMode.OtherExecute) == 0);
            if (blocked is not null)
            {
                Assert.Ignore($"runs a program as another user, who cannot reach the dotnet host {real}: folder {blocked} " +
                    $"is mode {Convert.ToString((int)File.GetUnixFileMode(blocked), 8)} (install .NET where every user can run it, " +
                    "such as /usr/share/dotnet)");
            }
        }

        if ((File.GetUnixFileMode(real) & UnixFileMode.OtherExecute) == 0)
        {
            Assert.Ignore($"runs a program as another user, who may not execute the dotnet host {real}");
        }

        return real;
    }

    private static IEnumerable<string> FoldersAbove(string path)
    {
        for (var folder = Path.GetDirectoryName(path); !string.IsNullOrEmpty(folder); folder = Path.GetDirectoryName(folder))
        {
            yield return folder;
        }
    }

    /// <summary>A copy of <paramref name="folder"/> that every user can read, made once per test process.</summary>
    private static string Stage(string folder) =>
        s_staged.GetOrAdd(folder, source => new Lazy<string>(() => Copy(source))).Value;

    private static string Copy(string source)
    {
        SweepDeadStages();
        var target = Path.Combine(StageBase, $"{StagePrefix}{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(target);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(target);
        File.SetUnixFileMode(target, ReadableFolder);
        CopyFolder(source, target);
        return target;
    }

    private static void CopyFolder(string source, string target)
    {
        foreach (var file in Directory.EnumerateFiles(source))
        {
            var copy = Path.Combine(target, Path.GetFileName(file));
            File.Copy(file, copy);
            var executable = (File.GetUnixFileMode(file) & UnixFileMode.UserExecute) != 0;
            File.SetUnixFileMode(copy, executable ? ReadableFolder : ReadableFile);
        }

        foreach (var folder in Directory.EnumerateDirectories(source))
        {
            var copy = Path.Combine(target, Path.GetFileName(folder));
            Directory.CreateDirectory(copy);
            File.SetUnixFileMode(copy, ReadableFolder);
            CopyFolder(folder, copy);
        }
    }

    /// <summary>Removes the copies of test processes that are gone (killed before they could remove their own).</summary>
    private static void SweepDeadStages()
    {
        foreach (var stage in Directory.EnumerateDirectories(StageBase, StagePrefix + "*"))
        {
            var pid = Path.GetFileName(stage)[StagePrefix.Length..].Split('-')[0];
            if (int.TryParse(pid, out var id) && id != Environment.ProcessId && !Directory.Exists($"/proc/{id}"))
            {
                TryDelete(stage);
            }
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// A test that runs something as another user carries the category <see cref="AsAnotherUser"/>, so that CI's run
    /// of exactly those tests from a private clone cannot miss it.
    /// </summary>
    private static void RequireCategory()
    {
        var test = TestContext.CurrentContext.Test;
        if (test.Properties["Category"].Cast<object>().All(category => !AsAnotherUser.Equals(category)))
        {
            throw new InvalidOperationException(
                $"{test.FullName} runs a program as another user: give it [Category(DotnetProcess.AsAnotherUser)]");
        }
    }

    private const string StagePrefix = "imc-test-stage-";

    // /tmp: every user may enter it (mode 1777), where TMPDIR may point into a private folder.
    private static string StageBase => Directory.Exists("/tmp") ? "/tmp" : Path.GetTempPath();

    private static UnixFileMode ReadableFolder => (UnixFileMode)0b111_101_101; // 0755

    private static UnixFileMode ReadableFile => (UnixFileMode)0b110_100_100; // 0644
}
