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
        SignalHeld(hostName, processId, signal, process.Credentials.Uid);
    }

    /// <summary>
    /// Set by imcd, which signals as root: the uid a process (pid, start time) registered through its socket with, as
    /// the kernel gave it; null for one it did not register. A process entry that imcd did not make (written into the
    /// control file by hand) is then not signalled, and kill(2)'s rule is applied with that uid, not the entry's.
    /// </summary>
    internal Func<int, long, int?>? RegisteredUid { get; set; }

    /// <summary>
    /// <see cref="Kill"/> on behalf of a process on another machine, delivered by this machine's agent (imcd): the
    /// same checks, the outcome as a status.
    /// </summary>
    internal DriverStatus DeliverSignal(string hostName, int processId, int signal, int senderUid, out string message)
    {
        try
        {
            CheckSignal(processId, signal);
            using (_cluster.EnterDirectory())
            {
                SignalHeld(hostName, processId, signal, senderUid);
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

    /// <summary>
    /// Signals a process registered on the host, as kill(2) would let <paramref name="senderUid"/>: a process of its own
    /// uid, or any for root. Checked here, not left to kill(2), since imcd may be the one calling it.
    /// </summary>
    private void SignalHeld(string hostName, int processId, int signal, int senderUid)
    {
        var host = ClusterPaths.IsValidName(hostName) ? _cluster.FindHost(hostName) : -1;
        if (host < 0 || !_cluster.IsHostUp(host))
        {
            throw new DriverException(DriverStatus.BadHost,
                $"host '{ClusterPaths.Printable(hostName)}' is not up in cluster '{ClusterName}' (see imcs -m)");
        }

        int? targetUid = null;
        for (var p = 0; p < ControlLayout.MaxProcesses && targetUid is null; p++)
        {
            ref var entry = ref _cluster.Control.Process(p);
            if (entry.State == ProcessEntry.StateLive && entry.Pid == processId && entry.Host == host &&
                ProcessIdentity.IsAlive(entry.Pid, entry.StartTime))
            {
                targetUid = RegisteredUid is { } registered ? registered(entry.Pid, entry.StartTime) : entry.Uid;
            }
        }

        if (targetUid is null)
        {
            throw new DriverException(DriverStatus.NoSuchProcess,
                $"no process {processId} has opened the API on host '{hostName}'");
        }

        if (senderUid != 0 && senderUid != targetUid)
        {
            throw new DriverException(DriverStatus.Permit,
                $"not permitted to signal process {processId} on host '{hostName}': it runs as uid {targetUid}, this process " +
                $"as uid {senderUid} (as kill(2): a process of the same user, or any for root)");
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
        if (!_cluster.Control.CanWriteDirectory)
        {
            return _cluster.ReadInfo(); // imcd serves the cluster: it holds the directory, and answers for registrations
        }

        using var scope = EnterRegistered(process);
        return _cluster.ReadInfoHeld();
    }

    /// <summary>Completes with the cluster's information once <paramref name="done"/> holds for it.</summary>
    public Task<ClusterInfoSnapshot> WatchAsync(Func<ClusterInfoSnapshot, bool> done, CancellationToken cancellationToken) =>
        _cluster.Events.WaitAsync(done, cancellationToken);
}
