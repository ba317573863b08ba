using System.Globalization;

namespace Interconnect.Driver.Directory.Etcd;

/// <summary>Hosts joining and leaving anywhere, and signals toward this machine's processes.</summary>
internal sealed partial class MachineAgent
{
    // The hosts as last applied here, each as its name and the revision of its key (a host that left and came back is
    // a new key): all of them, and those on other machines. Null before the first pass.
    private HashSet<(string Host, long Revision)>? _hosts;
    private HashSet<(string Host, long Revision)>? _remoteHosts;

    partial void PassEvents()
    {
        ApplyHosts();
        DeliverSignals();
    }

    /// <summary>
    /// A host that joined or left on another machine is a host change here too: this machine's error counts rise and
    /// its event waiters wake (a change on this machine was recorded here by the change itself). Then the agent
    /// acknowledges the hosts as of its reading, which a join or leave anywhere waits for.
    /// </summary>
    private void ApplyHosts()
    {
        var (hosts, revision) = _store.List("hosts/");
        var all = hosts.Select(h => (EtcdKeys.Last(h.Key), h.ModRevision)).ToHashSet();
        if (_hosts is not null && all.SetEquals(_hosts))
        {
            return; // nothing changed since the last acknowledgement (which itself changes no host)
        }

        var remote = hosts.Where(h => EtcdJson.Read<HostRecord>(h).Machine != _machine)
            .Select(h => (EtcdKeys.Last(h.Key), h.ModRevision)).ToHashSet();
        if (_remoteHosts is not null && !remote.SetEquals(_remoteHosts))
        {
            _local.RecordRemoteHostChange();
        }

        _hosts = all;
        _remoteHosts = remote;
        _store.Set(EtcdKeys.HostAck(_machine), revision.ToString(CultureInfo.InvariantCulture), _lease);
    }

    /// <summary>Delivers each Kill sent to this machine's processes, and answers with its outcome.</summary>
    private void DeliverSignals()
    {
        var (signals, _) = _store.List(EtcdKeys.SignalsTo(_machine));
        foreach (var entry in signals)
        {
            var request = EtcdJson.Read<SignalRecord>(entry);
            var status = _local.DeliverSignal(request.Host, request.Pid, request.Signal, out var message);
            _store.Set(EtcdKeys.Signaled(EtcdKeys.Last(entry.Key)), EtcdJson.Write(new SignalResult((int)status, message)), _lease);
            _store.Delete(entry.Key);
        }
    }
}
