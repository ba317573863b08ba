using Interconnect.Machines;
using NUnit.Framework;

namespace Interconnect.Testing;

/// <summary>
/// Simulated machines for a test (<see cref="SimulatedCluster"/>): where namespaces cannot be made here (not root, a
/// tool missing, namespaces refused) the test is skipped with the reason, never passed.
/// </summary>
public static class SimulatedMachines
{
    /// <summary>The deadline of creating and of disposing a cluster when the test gives none.</summary>
    public static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Makes <paramref name="machines"/> machines and etcd (requiring client certificates with
    /// <paramref name="etcdTls"/>), or skips the test (Assert.Ignore) saying why it cannot.
    /// </summary>
    public static SimulatedCluster Create(int machines, TimeSpan? deadline = null, bool etcdTls = false)
    {
        try
        {
            return SimulatedCluster.Create(machines, deadline ?? DefaultDeadline, etcdTls);
        }
        catch (MachinesUnavailableException exception)
        {
            Assert.Ignore($"simulated machines are not available here: {exception.Message}");
            throw;
        }
    }
}
