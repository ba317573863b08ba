using System.Runtime.InteropServices;
using NUnit.Framework;

namespace Interconnect.Testing;

/// <summary>
/// Whether UCX (Debian's libucx0: <c>libucp.so.0</c>, <c>libucs.so.0</c>) is installed, told without loading it: UCX
/// installs signal handlers when it loads, which the test process must not get from a mere check. A test that needs it
/// is skipped at once with the reason where it is missing, rather than failing in a peer that cannot load it.
/// </summary>
public static class UcxLibraries
{
    private static readonly string[] s_libraries = ["libucp.so.0", "libucs.so.0"];

    /// <summary>The first of UCX's libraries that the loader would not find, or null when both are there.</summary>
    public static string? Missing() => s_libraries.FirstOrDefault(library => !Folders().Any(folder => File.Exists(Path.Combine(folder, library))));

    /// <summary>Skips the test (or fixture) saying so when UCX is not installed.</summary>
    public static void Require()
    {
        if (Missing() is { } library)
        {
            Assert.Ignore($"UCX is not installed: {library} is not found (Debian package libucx0; ./test.sh installs it)");
        }
    }

    /// <summary>Where the dynamic loader looks: LD_LIBRARY_PATH, then the system's folders (Debian's multiarch ones first).</summary>
    private static IEnumerable<string> Folders()
    {
        var multiarch = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "x86_64-linux-gnu",
            Architecture.Arm64 => "aarch64-linux-gnu",
            _ => RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant() + "-linux-gnu",
        };
        var fromEnvironment = (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries);
        return [.. fromEnvironment, $"/lib/{multiarch}", $"/usr/lib/{multiarch}", "/usr/local/lib", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];
    }
}
