namespace Interconnect.Driver;

/// <summary>What <c>imc_init</c> fixes when it creates a cluster, and what it may change afterwards.</summary>
internal sealed record ClusterConfiguration
{
    public const int SingleRail = 0;
    public const int FailoverPair = 1;
    public const long Mebibyte = 1L << 20;
    public const int DefaultLimitMebibytes = 10;

    /// <summary>Clusterwide address space (<c>-a maxalloc</c>), bytes.</summary>
    public long MaxAllocBytes { get; init; } = DefaultLimitMebibytes * Mebibyte;

    /// <summary>This host's receive space (<c>-r maxrecv</c>), bytes.</summary>
    public long MaxRecvBytes { get; init; } = DefaultLimitMebibytes * Mebibyte;

    /// <summary>Physical rails (<c>--rails</c>), 1 to 8.</summary>
    public int PhysicalRails { get; init; } = 1;

    /// <summary><c>rm_rail_style</c>: 0 single-rail, 1 failover pair.</summary>
    public int RailStyle { get; init; } = SingleRail;

    /// <summary>How long a rail stays "processing an error" after a fault, milliseconds.</summary>
    public int ErrorWindowMs { get; init; } = 10;

    public int LogicalRails => RailStyle == FailoverPair ? PhysicalRails / 2 : PhysicalRails;

    /// <summary>Throws <see cref="DriverStatus.InitError"/> with the reason when the values cannot make a cluster.</summary>
    public void Validate()
    {
        if (MaxAllocBytes <= 0 || MaxRecvBytes <= 0)
        {
            throw new DriverException(DriverStatus.InitError, "maxalloc and maxrecv must be at least 1 MiB");
        }

        if (PhysicalRails is < 1 or > 8)
        {
            throw new DriverException(DriverStatus.InitError, $"--rails {PhysicalRails}: a cluster has 1 to 8 physical rails");
        }

        if (RailStyle is not (SingleRail or FailoverPair))
        {
            throw new DriverException(DriverStatus.InitError, $"--rail-style {RailStyle}: use 0 (single-rail) or 1 (failover pair)");
        }

        if (RailStyle == FailoverPair && PhysicalRails % 2 != 0)
        {
            throw new DriverException(DriverStatus.InitError,
                $"--rails {PhysicalRails} with --rail-style 1: a failover pair needs an even number of physical rails");
        }

        if (LogicalRails > 4)
        {
            throw new DriverException(DriverStatus.InitError,
                $"--rails {PhysicalRails} --rail-style {RailStyle} makes {LogicalRails} logical rails; the most is 4");
        }

        if (ErrorWindowMs is < 0 or > 60_000)
        {
            throw new DriverException(DriverStatus.InitError, "the error-processing window is 0 to 60000 ms");
        }
    }
}
