namespace Interconnect.Driver.Store;

/// <summary>What a process may change of the cluster it maps (<see cref="ControlFile"/>).</summary>
internal enum ControlAccess
{
    /// <summary>Nothing: it looks (<c>imcs</c>, <c>imcctl check</c> without repairing).</summary>
    Read,

    /// <summary>
    /// The words file only: a process of a cluster that <c>imcd</c> serves, whose directory imcd alone changes (the
    /// process asks it), so the control file is mapped read-only and may be imcd's alone.
    /// </summary>
    Words,

    /// <summary>Both: the directory's holder (every process of the embedded default, and imcd).</summary>
    All,
}
