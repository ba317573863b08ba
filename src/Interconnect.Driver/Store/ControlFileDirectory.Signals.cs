using System.Runtime.InteropServices;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Directory;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>Cluster signals and cluster information (<c>imc_kill</c>, <c>imc_getclusterinfo</c>, <c>imc_wait_cluster_event</c>).</summary>
internal sealed partial class ControlFileDirectory
{
    public const int MaxSignal = 64;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="processId"/>, which must be registered on <paramref name="hostName"/>.</summary>
    public void Kill(ProcessRegistration process, string hostName, int processId, int signal)
    {
        CheckSignal(processId, signal);
        using var scope = EnterRegistered(process);
        SignalHeld(hostName, processId, signal);
    }

    /// <summary>
    /// <see cref="Kill"/> on behalf of a process on another machine, delivered by this machine's agent (imcd): the
    /// same checks, the outcome as a status.
    /// </summary>
    internal DriverStatus DeliverSignal(string hostName, int processId, int signal, out string message)
    {
        try
        {
            CheckSignal(processId, signal);
            using (_cluster.EnterDirectory())
            {
                SignalHeld(hostName, processId, signal);
            }

            message = "";
            return DriverStatus.Success;
        }
        catch (DriverException e)
        {
            message = e.Message;
            return e.Status;
        }
    }

    /// <summary>Records a host joining or leaving on another machine: an event, and the error counts rise.</summary>
    internal void RecordRemoteHostChange()
    {
        using (_cluster.EnterDirectory())
        {
            _cluster.RecordHostChange();
        }
    }

    internal static void CheckSignal(int processId, int signal)
    {
        if (signal is < 1 or > MaxSignal)
        {
            throw new DriverException(DriverStatus.InvalidSignal, $"signal {signal}: signals are 1 to {MaxSignal}");
        }

        if (processId <= 0)
        {
            throw new DriverException(DriverStatus.BadParameter, $"process id {processId}: give the pid of one process");
        }
    }

    private void SignalHeld(string hostName, int processId, int signal)
    {
        var host = ClusterPaths.IsValidName(hostName) ? _cluster.FindHost(hostName) : -1;
        if (host < 0 || !_cluster.IsHostUp(host))
        {
            throw new DriverException(DriverStatus.BadHost,
                $"host '{ClusterPaths.Printable(hostName)}' is not up in cluster '{ClusterName}' (see imcs -m)");
        }

        var registered = false;
        for (var p = 0; p < ControlLayout.MaxProcesses && !registered; p++)
        {
            ref var entry = ref _cluster.Control.Process(p);
            registered = entry.State == ProcessEntry.StateLive && entry.Pid == processId && entry.Host == host &&
                ProcessIdentity.IsAlive(entry.Pid, entry.StartTime);
        }

        if (!registered)
        {
            throw new DriverException(DriverStatus.NoSuchProcess,
                $"no process {processId} has opened the API on host '{hostName}'");
        }

        if (Libc.Kill(processId, signal) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno == Libc.EPerm
                ? new DriverException(DriverStatus.Permit, $"not permitted to signal process {processId} on host '{hostName}'")
                : new DriverException(DriverStatus.NoSuchProcess, $"process {processId} on host '{hostName}' is gone");
        }
    }

    public ClusterInfoSnapshot ReadInfo(ProcessRegistration process)
    {
        using var scope = EnterRegistered(process);
        return _cluster.ReadInfoHeld();
    }

    /// <summary>Completes with the cluster's information once <paramref name="done"/> holds for it.</summary>
    public Task<ClusterInfoSnapshot> WatchAsync(Func<ClusterInfoSnapshot, bool> done, CancellationToken cancellationToken) =>
        _cluster.Events.WaitAsync(done, cancellationToken);
}
