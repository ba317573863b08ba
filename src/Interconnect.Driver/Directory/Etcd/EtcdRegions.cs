namespace Interconnect.Driver.Directory.Etcd;

/// <summary>The clusterwide life of a keyed region: the machines that have it allocated, and its end with the last.</summary>
internal static class EtcdRegions
{
    /// <summary>
    /// Takes <paramref name="machine"/> out of region <paramref name="key"/>'s machines (it no longer has the region
    /// allocated), removing the region when no machine that is still in the cluster has it. Compare-and-swap on the
    /// region's record: a concurrent allocation elsewhere wins, and this is decided again. With
    /// <paramref name="removeEmpty"/>, a region that names no machine at all (one that was being made) is removed too.
    /// </summary>
    public static void Withdraw(EtcdStore store, int key, string machine, IReadOnlySet<string>? liveMachines = null,
        bool removeEmpty = false)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            if (store.Get(EtcdKeys.Region(key)) is not { } entry)
            {
                return;
            }

            var record = EtcdJson.Read<RegionRecord>(entry);
            var left = record.Machines.Where(m => m != machine && (liveMachines is null || liveMachines.Contains(m))).ToArray();
            if (left.Length == record.Machines.Length && !(removeEmpty && left.Length == 0))
            {
                return;
            }

            if (left.Length > 0)
            {
                if (store.CompareAndPut(EtcdKeys.Region(key), EtcdJson.Write(record with { Machines = left }), entry.ModRevision))
                {
                    return;
                }
            }
            else if (store.CompareAndDelete(EtcdKeys.Region(key), entry.ModRevision))
            {
                if (record.WriteLock is { } writeLock)
                {
                    EtcdDirectory.FreeWords(store, writeLock.Machine, EtcdDirectory.WriteLockRangeKey(key), writeLock.First);
                }

                return;
            }
        }
    }
}
