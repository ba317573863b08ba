using System.Diagnostics;
using Interconnect.Machines;
using NUnit.Framework;

namespace Interconnect.Testing;

/// <summary>
/// The C programs under test, compiled once per test run as a user would: <c>cc -I native/include prog.c
/// -L native/lib -limc</c>, against the <c>libimc.so</c> and <c>sys/imc.h</c> that <c>make -C native</c> built.
/// When they are missing the tests fail with a message saying to run make; they never pass without them.
/// </summary>
public static class CPrograms
{
    private static readonly Lazy<string> s_repository = new(FindRepository);
    private static readonly Dictionary<string, string> s_built = [];
    private static readonly Lock s_lock = new();

    public static string Repository => s_repository.Value;

    public static string LibraryDirectory => Path.Combine(Repository, "native", "lib");

    /// <summary>What a C program of the tests runs with besides the cluster's variables.</summary>
    public static IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["LD_LIBRARY_PATH"] = LibraryDirectory,
    };

    /// <summary>
    /// The executable built from <paramref name="source"/> (relative to the repository) with <paramref name="defines"/>;
    /// built on first use.
    /// </summary>
    public static string Build(string source, params string[] defines)
    {
        var name = Path.GetFileNameWithoutExtension(source) + string.Concat(defines.Select(d => "_" + d.ToLowerInvariant()));
        lock (s_lock)
        {
            if (s_built.TryGetValue(name, out var built))
            {
                return built;
            }

            RequireNative();
            var output = Path.Combine(AppContext.BaseDirectory, "c-programs", name);
            Directory.CreateDirectory(Path.GetDirectoryName(output)!);
            var info = new ProcessStartInfo("cc")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = Repository,
            };
            foreach (var define in defines)
            {
                info.ArgumentList.Add("-D" + define);
            }

            foreach (var arg in (string[])["-I", "native/include", "-o", output, source, "-L", "native/lib", "-limc"])
            {
                info.ArgumentList.Add(arg);
            }

            using var cc = Process.Start(info) ?? throw new InvalidOperationException("could not start cc");
            var errors = cc.StandardError.ReadToEndAsync();
            var printed = cc.StandardOutput.ReadToEndAsync();
            if (!cc.WaitForExit(120_000) || !ProcessWait.ForOutput(ProcessWait.OutputGrace, errors, printed))
            {
                cc.Kill(entireProcessTree: true);
                Assert.Fail($"cc {source} did not finish within 120 s");
            }

            if (cc.ExitCode != 0)
            {
                Assert.Fail($"cc {source} failed (exit {cc.ExitCode}):\n{errors.Result}");
            }

            s_built[name] = output;
            return output;
        }
    }

    private static void RequireNative()
    {
        var library = Path.Combine(LibraryDirectory, "libimc.so");
        var header = Path.Combine(Repository, "native", "include", "sys", "imc.h");
        if (!File.Exists(library) || !File.Exists(header))
        {
            Assert.Fail($"{library} or {header} is missing: run `make -C native` at the repository root first " +
                "(it builds libimc.so with NativeAOT; .ci/run does it before `dotnet test`)");
        }
    }

    private static string FindRepository()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Interconnect.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no Interconnect.sln above {AppContext.BaseDirectory}");
    }
}
