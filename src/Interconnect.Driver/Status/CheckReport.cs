namespace Interconnect.Driver.Status;

/// <summary>
/// What <c>imcs --check</c> found: violations of the cluster's invariants, and what dead processes still hold
/// (awaiting reclamation by the next directory operation: listed, but not a violation).
/// </summary>
/// <remarks>
/// <see cref="Busy"/>: the directory changed while it was read (or a live process held it the whole time), so no
/// consistent reading was had and nothing is reported; check again.
/// </remarks>
internal sealed record CheckReport(IReadOnlyList<string> Violations, IReadOnlyList<string> AwaitingReclamation, bool Busy = false)
{
    public bool Clean => Violations.Count == 0 && !Busy;
}
