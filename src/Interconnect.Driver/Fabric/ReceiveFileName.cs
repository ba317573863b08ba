using System.Globalization;

namespace Interconnect.Driver.Fabric;

/// <summary>
/// Names one host's receive memory of one region: <c>r{RegionId}.h{Host}.e{Epoch}</c>. The epoch changes each time a
/// host's receive memory is made anew, so a writer still holding the old memory never writes into the new one.
/// </summary>
internal readonly record struct ReceiveFileName(long RegionId, int Host, int Epoch)
{
    /// <summary>The host number of a direct region's one memory, which every receiving host's file links to.</summary>
    public const int DirectHost = 32;

    /// <summary>The one memory of direct region <paramref name="regionId"/> (<c>r{id}.h32.e0</c>).</summary>
    public static ReceiveFileName Direct(long regionId) => new(regionId, DirectHost, 0);

    public bool IsDirect => Host == DirectHost && Epoch == 0;

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"r{RegionId}.h{Host}.e{Epoch}");

    public static bool TryParse(string name, out ReceiveFileName result)
    {
        result = default;
        var parts = name.Split('.');
        if (parts.Length != 3 || parts[0].Length < 2 || parts[1].Length < 2 || parts[2].Length < 2 ||
            parts[0][0] != 'r' || parts[1][0] != 'h' || parts[2][0] != 'e' ||
            !long.TryParse(parts[0].AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var id) ||
            !int.TryParse(parts[1].AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var host) ||
            !int.TryParse(parts[2].AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var epoch))
        {
            return false;
        }

        result = new ReceiveFileName(id, host, epoch);
        return result.ToString() == name;
    }
}
