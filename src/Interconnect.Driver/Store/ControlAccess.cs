namespace Interconnect.Driver.Store;

/// <summary>What a process may change of the cluster it maps (<see cref="ControlFile"/>).</summary>
internal enum ControlAccess
{
    /// <summary>
    /// Nothing of the directory or the rails: it looks (<c>imcs</c>, <c>imcctl check</c> without repairing), or it is a
    /// process of a cluster that <c>imcd</c> serves, which asks imcd for every change of either (the files are imcd's)
    /// and writes only its own words, each in a file of its own: its lock sets', its windows', its user's loss tally.
    /// </summary>
    Read,

    /// <summary>Both: the directory's holder (every process of the embedded default, and imcd).</summary>
    All,
}
