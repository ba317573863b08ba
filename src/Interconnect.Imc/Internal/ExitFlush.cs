namespace Interconnect.Imc.Internal;

/// <summary>
/// The exit flush for a process whose exit .NET does not see: a C program through <c>libimc.so</c> (NativeAOT in a
/// host process it does not own raises no <c>ProcessExit</c>) calls <see cref="Run"/> from its own <c>atexit</c>
/// handler, so its writes to other machines land before it is gone, or their receivers count them (API.md).
/// </summary>
internal static class ExitFlush
{
    /// <summary>Flushes what this process wrote to other machines, if anything; never throws (the process is exiting).</summary>
    public static void Run()
    {
        try
        {
            Driver.Directory.Directories.FlushAtExit();
        }
        catch (Exception)
        {
            // Exiting: a flush that cannot finish leaves its receivers to count what did not arrive.
        }
    }
}
