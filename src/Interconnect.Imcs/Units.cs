using System.Globalization;

namespace Interconnect.Imcs;

/// <summary>Sizes and rates in units a person reads at a glance.</summary>
internal static class Units
{
    private static readonly string[] s_units = ["B", "KiB", "MiB", "GiB", "TiB"];

    public static string Bytes(double bytes)
    {
        var unit = 0;
        while (Math.Abs(bytes) >= 1024 && unit < s_units.Length - 1)
        {
            bytes /= 1024;
            unit++;
        }

        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes:0} B")
            : string.Create(CultureInfo.InvariantCulture, $"{bytes:0.0} {s_units[unit]}");
    }

    public static string Count(double count) => count switch
    {
        >= 1e9 => string.Create(CultureInfo.InvariantCulture, $"{count / 1e9:0.0}G"),
        >= 1e6 => string.Create(CultureInfo.InvariantCulture, $"{count / 1e6:0.0}M"),
        >= 1e4 => string.Create(CultureInfo.InvariantCulture, $"{count / 1e3:0.0}k"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{count:0}"),
    };
}
