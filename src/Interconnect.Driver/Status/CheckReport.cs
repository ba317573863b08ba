namespace Interconnect.Driver.Status;

/// <summary>
/// What <c>imcs --check</c> found: violations of the cluster's invariants, and what dead processes still hold
/// (awaiting reclamation by the next directory operation: listed, but not a violation).
/// </summary>
public sealed record CheckReport(IReadOnlyList<string> Violations, IReadOnlyList<string> AwaitingReclamation)
{
    public bool Clean => Violations.Count == 0;
}
