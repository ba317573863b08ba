namespace Interconnect.Benchmarks;

/// <summary>
/// Benchmark categories. <see cref="DataPath"/> marks the calls DESIGN.md says allocate nothing (write, read, and
/// later lock acquire and release): tests/Interconnect.Benchmarks.Tests fails if one of them allocates.
/// </summary>
public static class Categories
{
    public const string DataPath = "DataPath";
    public const string ControlPath = "ControlPath";

    /// <summary>The same memory operations without the library (raw copies into native buffers): the ratio's denominator.</summary>
    public const string Baseline = "Baseline";
}
