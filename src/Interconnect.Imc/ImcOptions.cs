using Microsoft.Extensions.Logging;

namespace Interconnect.Imc;

/// <summary>Per-process overrides of the environment (<c>IMC_ROOT</c>, <c>IMC_CLUSTER</c>, <c>IMC_HOST</c>, <c>IMC_AUTO_INIT</c>).</summary>
public sealed class ImcOptions
{
    /// <summary>Folder under which clusters live; null: <c>IMC_ROOT</c>, else <c>/dev/shm/imc</c>.</summary>
    public string? Root { get; init; }

    /// <summary>Cluster name; null: <c>IMC_CLUSTER</c>, else <c>default</c>.</summary>
    public string? Cluster { get; init; }

    /// <summary>The emulated host of this process; null: <c>IMC_HOST</c>, else the machine's host name.</summary>
    public string? Host { get; init; }

    /// <summary>True: initialise the cluster and host with the defaults if needed; null: <c>IMC_AUTO_INIT=1</c> decides.</summary>
    public bool? AutoInitialize { get; init; }

    /// <summary>Where the library logs its lifecycle events; null: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }
}
