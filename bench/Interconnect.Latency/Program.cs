namespace Interconnect.Latency;

/// <summary>
/// The cross-process latency harness (see <see cref="HarnessOptions.Usage"/>); the same program, started with
/// <c>--peer</c>, is the far side of each .NET scenario.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length > 1 && args[0] == "--peer")
        {
            return PeerMain.Run(args);
        }

        HarnessOptions options;
        try
        {
            options = HarnessOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"Interconnect.Latency: {e.Message}");
            return 2;
        }

        if (options.Help)
        {
            Console.WriteLine(HarnessOptions.Usage);
            return 0;
        }

        return Harness.Run(options);
    }
}
