using Interconnect.Driver.Directory.Etcd;

namespace Interconnect.Driver.Agent.Machine;

/// <summary>
/// What a pass reads at its start, in one round trip and at one revision (<see cref="Read"/>): until the pass ends
/// (<see cref="End"/>), its steps read from there, so every step sees etcd as of one moment; outside a pass they read
/// etcd itself. Used on <see cref="PassLoop"/>'s thread.
/// </summary>
internal sealed class PassReading
{
    private readonly EtcdStore _store;
    private readonly string _machine;
    private Dictionary<string, IReadOnlyList<EtcdEntry>>? _reading; // by prefix or key; null outside a pass

    public PassReading(EtcdStore store, string machine)
    {
        _store = store;
        _machine = machine;
    }

    /// <summary>The revision of the last reading (0 before the first): it holds every change at or before it.</summary>
    public long Revision { get; private set; }

    /// <summary>Reads everything a pass looks at, in one round trip and at one revision, which it returns.</summary>
    public long Read()
    {
        string[] read =
        [
            "receivers/", "memory/", "machines/", "regions/", "hosts/", "rails/", "drops/", "raises/", EtcdKeys.SignalsTo(_machine),
            "owners/", "locksets/", EtcdKeys.Arena(_machine), EtcdKeys.ArenaMap(_machine),
        ];
        var (entries, revision) = _store.Read(read);
        _reading = read.Zip(entries).ToDictionary(r => r.First, r => r.Second);
        Revision = revision;
        return revision;
    }

    /// <summary>The pass ended: from now on, reads go to etcd.</summary>
    public void End() => _reading = null;

    /// <summary>Every key under <paramref name="prefix"/>: from the pass's reading during a pass, else from etcd.</summary>
    public (IReadOnlyList<EtcdEntry> Entries, long Revision) List(string prefix) =>
        _reading is not null && _reading.TryGetValue(prefix, out var entries) ? (entries, Revision) : _store.List(prefix);

    /// <summary><paramref name="key"/>: from the pass's reading during a pass, else from etcd.</summary>
    public EtcdEntry? Get(string key) =>
        _reading is not null && _reading.TryGetValue(key, out var entries) ? (entries.Count > 0 ? entries[0] : null) : _store.Get(key);
}
