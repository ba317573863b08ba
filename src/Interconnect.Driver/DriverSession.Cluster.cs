using System.Runtime.InteropServices;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver;

/// <summary>Cluster signals and cluster information (<c>imc_kill</c>, <c>imc_getclusterinfo</c>, <c>imc_wait_cluster_event</c>).</summary>
public sealed partial class DriverSession
{
    public const int MaxSignal = 64;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="processId"/>, which must be registered on <paramref name="hostName"/>.</summary>
    public void Kill(string hostName, int processId, int signal)
    {
        if (signal is < 1 or > MaxSignal)
        {
            throw new DriverException(DriverStatus.InvalidSignal, $"signal {signal}: signals are 1 to {MaxSignal}");
        }

        if (processId <= 0)
        {
            throw new DriverException(DriverStatus.BadParameter, $"process id {processId}: give the pid of one process");
        }

        using var scope = EnterRegistered();
        var host = ClusterPaths.IsValidName(hostName) ? _cluster.FindHost(hostName) : -1;
        if (host < 0 || !_cluster.IsHostUp(host))
        {
            throw new DriverException(DriverStatus.BadHost,
                $"host '{ClusterPaths.Printable(hostName)}' is not up in cluster '{Paths.Cluster}' (see imcs -m)");
        }

        var registered = false;
        for (var p = 0; p < ControlLayout.MaxProcesses && !registered; p++)
        {
            ref var process = ref _cluster.Control.Process(p);
            registered = process.State == ProcessEntry.StateLive && process.Pid == processId && process.Host == host &&
                ProcessIdentity.IsAlive(process.Pid, process.StartTime);
        }

        if (!registered)
        {
            throw new DriverException(DriverStatus.NoSuchProcess,
                $"no process {processId} has opened the API on host '{hostName}'");
        }

        DriverMetrics.SignalSent();
        if (Libc.Kill(processId, signal) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno == Libc.EPerm
                ? new DriverException(DriverStatus.Permit, $"not permitted to signal process {processId} on host '{hostName}'")
                : new DriverException(DriverStatus.NoSuchProcess, $"process {processId} on host '{hostName}' is gone");
        }
    }

    private void CheckRail(int logicalRail)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var rails = _cluster.Control.Header.LogicalRails;
        if ((uint)logicalRail >= (uint)rails)
        {
            throw new DriverException(DriverStatus.BadRail,
                $"logical rail {logicalRail}: cluster '{Paths.Cluster}' has logical rails 0 to {rails - 1}");
        }
    }

    public ClusterInfoSnapshot GetClusterInfo()
    {
        using var scope = EnterRegistered();
        return _cluster.ReadInfoHeld();
    }

    /// <summary>The error count of a logical rail (<c>imc_rderrcnt_mr</c>): negative while the rail processes an error.</summary>
    public int ReadErrorCount(int logicalRail)
    {
        CheckRail(logicalRail);
        return _cluster.ReadErrorCount(logicalRail);
    }

    /// <summary><c>imc_ckerrcnt_mr</c>: Success, or McError with <paramref name="errorCount"/> brought up to date.</summary>
    public DriverStatus CheckErrorCount(ref int errorCount, int logicalRail)
    {
        CheckRail(logicalRail);
        var status = _cluster.CheckErrorCount(ref errorCount, logicalRail);
        if (status != DriverStatus.Success)
        {
            DriverMetrics.ErrorDetected();
        }

        return status;
    }

    /// <summary>Completes with the cluster's information once <paramref name="done"/> holds for it.</summary>
    public Task<ClusterInfoSnapshot> WaitForClusterAsync(Func<ClusterInfoSnapshot, bool> done, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _cluster.Events.WaitAsync(done, cancellationToken);
    }
}
