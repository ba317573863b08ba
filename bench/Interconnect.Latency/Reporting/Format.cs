using System.Globalization;

namespace Interconnect.Latency.Reporting;

/// <summary>How figures are written: nanoseconds whole (one decimal under 100), ratios with two decimals.</summary>
internal static class Format
{
    public static string Ns(double value) =>
        value < 100 ? value.ToString("0.0", CultureInfo.InvariantCulture) : value.ToString("#,0", CultureInfo.InvariantCulture);

    public static string Ratio(double value) =>
        double.IsFinite(value) ? value.ToString("0.00", CultureInfo.InvariantCulture) + "×" : "–";

    public static string Range((double Low, double High) range) => $"{Ns(range.Low)}–{Ns(range.High)}";

    public static string Size(int bytes) => bytes >= 1024 ? $"{bytes / 1024} KiB" : $"{bytes} B";

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
