namespace Interconnect.Imc;

/// <summary>
/// The cluster as <c>imc_getclusterinfo</c> reports it: the hosts that initialised the API, the number of logical
/// rails, and a bit per active logical rail.
/// </summary>
/// <param name="Hosts">The names of the hosts that are up.</param>
/// <param name="LogicalRailCount">The number of logical rails.</param>
/// <param name="ActiveRailMask">Bit <c>r</c> is set while logical rail <c>r</c> is active.</param>
public sealed record ImcClusterInfo(IReadOnlyList<string> Hosts, int LogicalRailCount, uint ActiveRailMask)
{
    /// <summary>Host changes counted when this was read from the cluster; -1 for information made by hand.</summary>
    internal int HostSequence { get; init; } = -1;

    /// <summary>Rail changes counted when this was read from the cluster; -1 for information made by hand.</summary>
    internal int RailSequence { get; init; } = -1;

    /// <inheritdoc/>
    public bool Equals(ImcClusterInfo? other) =>
        other is not null && LogicalRailCount == other.LogicalRailCount && ActiveRailMask == other.ActiveRailMask &&
        Hosts.Order(StringComparer.Ordinal).SequenceEqual(other.Hosts.Order(StringComparer.Ordinal), StringComparer.Ordinal);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Hosts.Count, LogicalRailCount, ActiveRailMask);

    /// <inheritdoc/>
    public override string ToString() =>
        $"hosts [{string.Join(", ", Hosts)}], {LogicalRailCount} logical rail(s), active mask 0x{ActiveRailMask:x}";
}
