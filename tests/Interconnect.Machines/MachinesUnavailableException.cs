namespace Interconnect.Machines;

/// <summary>
/// Simulated machines cannot be made here (not root, a command missing, namespaces refused): the message says why,
/// so a test can be skipped with the reason instead of passing or failing for the wrong one.
/// </summary>
public sealed class MachinesUnavailableException : Exception
{
    public MachinesUnavailableException()
    {
    }

    public MachinesUnavailableException(string reason)
        : base(reason)
    {
    }

    public MachinesUnavailableException(string reason, Exception innerException)
        : base(reason, innerException)
    {
    }
}
