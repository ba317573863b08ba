namespace Interconnect.Latency.Interop;

/// <summary>
/// Pins the calling thread for a measurement and unpins it after, so the processes started in between (peers, the
/// C floor) do not inherit a one-CPU mask.
/// </summary>
internal readonly struct Pinned : IDisposable
{
    private Pinned(string? failure) => Failure = failure;

    /// <summary>Why the thread could not be pinned; null when it is.</summary>
    public string? Failure { get; }

    public static Pinned To(int cpu) => new(Affinity.TryPinCurrentThread(cpu));

    public void Dispose() => Affinity.UnpinCurrentThread();
}
