namespace Interconnect.Driver.Fabric;

/// <summary>
/// 8-byte words of a machine's lock arena as a fabric reaches them (<see cref="Ucx.UcxFabric.OpenWords"/>): every
/// process, on the home machine too, changes them only through this, so all share one atomicity domain. A call that
/// fails throws <see cref="DriverException"/>; a compare-and-swap whose answer was lost may still have been applied
/// (<see cref="RemoteLockWords"/> settles that by reading the word back on words opened anew).
/// </summary>
internal interface ILockWords : IDisposable
{
    /// <summary>True once the connection broke (the home machine's agent failed or a call timed out): open the words again.</summary>
    bool IsBroken { get; }

    /// <summary>Replaces word <paramref name="index"/> by <paramref name="desired"/> if it holds <paramref name="expected"/>; returns what it held.</summary>
    long CompareAndSwap(int index, long expected, long desired);

    /// <summary>Reads words from <paramref name="index"/> into <paramref name="destination"/> (each word whole).</summary>
    void Read(int index, Span<long> destination);

    /// <summary>Writes words from <paramref name="index"/> and returns once they have landed.</summary>
    void Write(int index, ReadOnlySpan<long> source);
}
