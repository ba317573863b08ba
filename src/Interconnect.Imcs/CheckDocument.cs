namespace Interconnect.Imcs;

/// <summary>What <c>imcs --check --json</c> prints: {clean, busy, violations[], awaitingReclamation[]}.</summary>
internal sealed record CheckDocument(bool Clean, bool Busy, IReadOnlyList<string> Violations, IReadOnlyList<string> AwaitingReclamation);
