namespace Interconnect.Driver.Agent.Machine;

/// <summary>What a change asks of the agent: routed by <see cref="ChangeRouter"/>, done by <see cref="PassLoop"/>.</summary>
[Flags]
internal enum Work
{
    None = 0,
    Changes = 1, // the queued receiver and memory changes
    Hosts = 2,
    Rails = 4,
    Raises = 8,
    Signals = 16,
    Regions = 32,
    Locks = 64,
    Everything = 128,
    Drops = 256,
}
