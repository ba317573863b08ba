using Interconnect.Driver.Fabric;

namespace Interconnect.Driver.Directory;

/// <summary>
/// Which receive memories a transmit window's writes reach, as of the region's <see cref="Generation"/>: one per
/// receiving host.
/// </summary>
internal sealed record RouteSet(int Generation, IReadOnlyList<(int Host, ReceiveFileName Memory)> Receivers, long MappedLength);
