using Interconnect.Driver.Fabric;

namespace Interconnect.Driver.Directory;

/// <summary>
/// Which receive memories a transmit window's writes reach, as of the region's <see cref="Generation"/>: one per
/// receiving host.
/// </summary>
internal sealed record RouteSet(int Generation, IReadOnlyList<RouteReceiver> Receivers, long MappedLength);

/// <summary>
/// One receiving host's memory: on this machine (<see cref="Remote"/> null: a file under <c>IMC_ROOT</c>), or on
/// another machine, registered there for one-sided puts.
/// </summary>
internal sealed record RouteReceiver(int Host, ReceiveFileName Memory, RemoteMemory? Remote = null)
{
    /// <summary>What tells two receive memories apart, on any machine: a new memory is a new target.</summary>
    public string Identity => Remote is { } remote ? $"{remote.Machine}/{remote.Name}#{remote.Id:x}" : Memory.ToString();
}

/// <summary>
/// A receive memory on another machine: the machine's agent address (<see cref="Worker"/>, a UCX worker address), the
/// id its agent published it under for writes and reads (<see cref="Id"/>, new with every publication), the logical
/// rail of its region, and its length.
/// </summary>
internal sealed record RemoteMemory(string Machine, string Name, byte[] Worker, ulong Id, int Rail, long Length);
