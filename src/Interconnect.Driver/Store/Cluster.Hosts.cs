using System.Text;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>Hosts joining, being reconfigured and leaving. Every method here runs with the directory lock held.</summary>
internal sealed partial class Cluster
{
    /// <summary>
    /// Brings a host up (a host join), or returns the slot of a host that is already up. <paramref name="wantedSlot"/>
    /// gives the host the number the cluster gave it across machines (a directory in etcd), the same on every machine.
    /// </summary>
    public unsafe int JoinHost(string name, long maxRecvBytes, out bool joined, int wantedSlot = -1)
    {
        var slot = FindHost(name);
        if (slot >= 0 && IsHostUp(slot) && (wantedSlot < 0 || slot == wantedSlot))
        {
            joined = false;
            return slot;
        }

        if (wantedSlot >= 0)
        {
            if ((slot >= 0 && IsHostUp(slot)) || IsHostUp(wantedSlot))
            {
                throw new DriverException(DriverStatus.InitError,
                    $"host '{name}' is number {wantedSlot} in the cluster's directory, but this machine's control file " +
                    $"has {(slot >= 0 && IsHostUp(slot) ? $"it as number {slot}" : $"'{HostName(wantedSlot)}' up as number {wantedSlot}")}: " +
                    "take the host down (imc_init --down) and bring it up again");
            }

            slot = wantedSlot;
        }
        else if (slot < 0)
        {
            for (var i = 0; i < ControlLayout.MaxHosts && slot < 0; i++)
            {
                if (Control.Host(i).State == HostEntry.StateFree)
                {
                    slot = i;
                }
            }

            if (slot < 0)
            {
                throw new DriverException(DriverStatus.NoResources,
                    $"cluster '{Paths.Cluster}' already has {ControlLayout.MaxHosts} hosts: take one down or use another cluster");
            }
        }

        ref var host = ref Control.Host(slot);
        var bytes = Encoding.ASCII.GetBytes(name);
        fixed (byte* target = host.Name)
        {
            new Span<byte>(target, HostEntry.NameCapacity).Clear();
            bytes.CopyTo(new Span<byte>(target, HostEntry.NameCapacity));
        }

        host.NameLength = bytes.Length;
        host.MaxRecvBytes = maxRecvBytes;
        host.JoinedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        host.Joins++;
        Volatile.Write(ref host.State, HostEntry.StateUp); // release: the name is complete before the host counts
        RecordHostChange();
        joined = true;
        return slot;
    }

    /// <summary>Takes a host out: its processes are removed from the cluster, with all they held.</summary>
    public void TakeHostDown(int slot)
    {
        for (var p = 0; p < ControlLayout.MaxProcesses; p++)
        {
            ref var process = ref Control.Process(p);
            if (process.State == ProcessEntry.StateLive && process.Host == slot)
            {
                ReleaseProcess(p);
            }
        }

        Volatile.Write(ref Control.Host(slot).State, HostEntry.StateDown);
        CollectGarbage(scanFiles: false);
        for (var r = 0; r < ControlLayout.MaxRegions; r++)
        {
            if (Control.Region(r).State == RegionEntry.StateLive)
            {
                BumpGeneration(ref Control.Region(r)); // writers re-check their registration, and stop on the down host
            }
        }

        RecordHostChange();
    }

    /// <summary>The up hosts, by slot.</summary>
    public IEnumerable<int> UpHosts()
    {
        for (var i = 0; i < ControlLayout.MaxHosts; i++)
        {
            if (IsHostUp(i))
            {
                yield return i;
            }
        }
    }
}
