using Interconnect.Driver;

namespace Interconnect.Imc;

/// <summary>
/// This process's registration in a cluster, on one emulated host: what <c>imc_api_init</c> makes. Open one before
/// any other call; dispose it to release everything it still holds.
/// </summary>
public sealed class ImcContext : IDisposable
{
    private readonly DriverSession _session;

    private ImcContext(DriverSession session)
    {
        _session = session;
        _session.ErrorTranslator = ImcException.From;
    }

    /// <summary>The emulated host this process belongs to.</summary>
    public string HostName => _session.HostName;

    /// <summary>This process's id, as other processes name it in <c>Kill</c>.</summary>
    public int ProcessId => _session.ProcessId;

    /// <summary>The folder of the cluster this context is registered in.</summary>
    public string ClusterDirectory => _session.Paths.ClusterDirectory;

    /// <summary>
    /// Registers this process (<c>imc_api_init</c>). Throws <see cref="ImcStatus.NotInitialized"/> when <c>imc_init</c>
    /// has not run for the host, unless auto-initialisation is on (<see cref="ImcOptions.AutoInitialize"/> or
    /// <c>IMC_AUTO_INIT=1</c>).
    /// </summary>
    public static ImcContext Open(ImcOptions? options = null)
    {
        options ??= new ImcOptions();
        try
        {
            var paths = ClusterPaths.Resolve(options.Root, options.Cluster);
            var host = ClusterPaths.ResolveHost(options.Host);
            var auto = options.AutoInitialize ?? Environment.GetEnvironmentVariable("IMC_AUTO_INIT") == "1";
            return new ImcContext(DriverSession.Open(paths, host, auto));
        }
        catch (DriverException e)
        {
            throw ImcException.From(e);
        }
    }

    /// <summary>
    /// Allocates the region of <paramref name="key"/> (<c>imc_asalloc</c>), creating it with <paramref name="size"/>
    /// bytes if it does not exist. Every process that uses a region allocates it; its space is freed when the last
    /// one deallocates it or exits.
    /// </summary>
    /// <exception cref="ImcException">
    /// <see cref="ImcStatus.BadSize"/>, <see cref="ImcStatus.McFull"/>, <see cref="ImcStatus.RxFull"/> (coherent),
    /// <see cref="ImcStatus.BadRail"/>, <see cref="ImcStatus.WrongRail"/>, <see cref="ImcStatus.CoherencyError"/>,
    /// <see cref="ImcStatus.Permit"/>, <see cref="ImcStatus.Prior"/>.
    /// </exception>
    public ImcRegion AllocateRegion(int key, long size, ImcPermissions permissions = ImcPermissions.UserReadWrite,
        ImcRegionFlags flags = ImcRegionFlags.None, int logicalRail = 0)
    {
        if ((flags & ~ImcRegionFlags.Coherent) != 0)
        {
            throw new ImcException(ImcStatus.BadParameter, $"unknown region flags {flags} for key {key}");
        }

        try
        {
            var handle = _session.AllocateRegion(key, size, (int)permissions,
                (flags & ImcRegionFlags.Coherent) != 0, logicalRail);
            return new ImcRegion(_session, handle);
        }
        catch (DriverException e)
        {
            throw ImcException.From(e);
        }
    }

    /// <summary>Unregisters this process: every region and lock it still holds is released, as at exit.</summary>
    public void Dispose() => _session.Dispose();
}
