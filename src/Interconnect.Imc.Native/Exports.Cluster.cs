using System.Runtime.InteropServices;
using System.Text;

namespace Interconnect.Imc.Native;

/// <summary>Error counts, signals, cluster information and events, and <c>imc_perror</c>.</summary>
internal static unsafe partial class Exports
{
    private const int GetActiveRails = 1;
    private const int GetHosts = 2;
    private const int EventRail = 1;
    private const int EventHost = 2;
    private const int MaxItems = 16;
    private const int MaxHosts = 32;
    private const int HostNameMax = 64;
    private const int RailInfoSize = 2 * sizeof(uint);
    private const int HostInfoSize = sizeof(int) + MaxHosts * HostNameMax;

    [UnmanagedCallersOnly(EntryPoint = "imc_rderrcnt_mr")]
    public static int RdErrCnt(int rail)
    {
        try
        {
            return NativeState.Context is { } context ? context.ReadErrorCount(rail) : NotInitialized();
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "imc_ckerrcnt_mr")]
    public static int CkErrCnt(int* count, int rail)
    {
        try
        {
            if (NativeState.Context is not { } context)
            {
                return NotInitialized();
            }

            if (count == null)
            {
                return Status.Fail(ImcStatus.BadParameter, $"imc_ckerrcnt_mr on rail {rail}: the count pointer is NULL");
            }

            var value = *count;
            var status = context.CheckErrorCount(ref value, rail);
            *count = value;
            return (int)status;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "imc_kill")]
    public static int Kill(byte* host, int processId, int signal)
    {
        try
        {
            if (NativeState.Context is not { } context)
            {
                return NotInitialized();
            }

            if (host == null)
            {
                return Status.Fail(ImcStatus.BadParameter, $"imc_kill of process {processId}: the host pointer is NULL");
            }

            context.Kill(HostName(host), processId, signal);
            return Status.Success;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "imc_getclusterinfo")]
    public static int GetClusterInfo(int* items, int count, uint* rails, int railsSize, byte* hosts, int hostsSize)
    {
        try
        {
            if (NativeState.Context is not { } context)
            {
                return NotInitialized();
            }

            if (CheckInfo("imc_getclusterinfo", items, count, GetActiveRails, GetHosts, rails, railsSize, hosts, hostsSize,
                out var wantRails, out var wantHosts) is var status && status != Status.Success)
            {
                return status;
            }

            Fill(context.GetClusterInfo(), wantRails ? rails : null, wantHosts ? hosts : null);
            return Status.Success;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "imc_wait_cluster_event")]
    public static int WaitClusterEvent(int* events, int count, int timeout, uint* rails, int railsSize, byte* hosts, int hostsSize)
    {
        try
        {
            if (NativeState.Context is not { } context)
            {
                return NotInitialized();
            }

            if (CheckInfo("imc_wait_cluster_event", events, count, EventRail, EventHost, rails, railsSize, hosts, hostsSize,
                out var watchRails, out var watchHosts) is var status && status != Status.Success)
            {
                return status;
            }

            if (timeout < 0)
            {
                return Status.Fail(ImcStatus.BadParameter, $"imc_wait_cluster_event: timeout {timeout} (seconds; 0 waits for ever)");
            }

            // What the caller holds is the state to wait away from; an item it does not watch is read from the cluster.
            var now = context.GetClusterInfo();
            var current = new ImcClusterInfo(
                watchHosts ? ReadHosts(hosts) : now.Hosts,
                watchRails ? (int)rails[1] : now.LogicalRailCount,
                watchRails ? rails[0] : now.ActiveRailMask);
            var watched = (watchRails ? ImcClusterEvents.Rail : 0) | (watchHosts ? ImcClusterEvents.Host : 0);
            using var cancel = timeout > 0 ? new CancellationTokenSource(TimeSpan.FromSeconds(timeout)) : new CancellationTokenSource();
            ImcClusterEvent change;
            try
            {
                change = context.WaitForClusterEventAsync(watched, current, cancel.Token).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                return Status.Fail(ImcStatus.Timeout, $"imc_wait_cluster_event: no change within {timeout} seconds");
            }

            Fill(change.Info, rails, hosts);
            return (int)(change.Kind switch
            {
                ImcClusterEventKind.HostChange => ImcStatus.HostChange,
                ImcClusterEventKind.RailChange => ImcStatus.RailChange,
                _ => ImcStatus.MultipleChange,
            });
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "imc_perror")]
    public static void Perror(byte* prefix, int status)
    {
        try
        {
            var text = Status.LastMessage(status) ?? ImcException.PerrorText((ImcStatus)status);
            var line = prefix == null || prefix[0] == 0 ? text : $"{HostName(prefix).TrimEnd()} {text}";
            Console.Error.WriteLine(line);
        }
        catch (Exception)
        {
            // Printing a diagnostic must never take the program down.
        }
    }

    private static int CheckInfo(string function, int* items, int count, int railsItem, int hostsItem, uint* rails,
        int railsSize, byte* hosts, int hostsSize, out bool wantRails, out bool wantHosts)
    {
        wantRails = wantHosts = false;
        if (count <= 0 || count > MaxItems || items == null)
        {
            return Status.Fail(ImcStatus.BadParameter, $"{function}: {count} item(s) at {(nint)items:x} (1 to {MaxItems}, not NULL)");
        }

        for (var i = 0; i < count && items[i] != 0; i++)
        {
            if (items[i] == railsItem)
            {
                wantRails = true;
            }
            else if (items[i] == hostsItem)
            {
                wantHosts = true;
            }
            else
            {
                return Status.Fail(ImcStatus.BadParameter, $"{function}: unknown item {items[i]}");
            }
        }

        if (!wantRails && !wantHosts)
        {
            return Status.Fail(ImcStatus.BadParameter, $"{function}: no item asked for");
        }

        if (wantRails && (rails == null || railsSize < RailInfoSize))
        {
            return Status.Fail(ImcStatus.BadParameter, $"{function}: the rail information is NULL or smaller than imc_railinfo ({railsSize} bytes)");
        }

        if (wantHosts && (hosts == null || hostsSize < HostInfoSize))
        {
            return Status.Fail(ImcStatus.BadParameter, $"{function}: the host information is NULL or smaller than imc_hostinfo ({hostsSize} bytes)");
        }

        return Status.Success;
    }

    private static void Fill(ImcClusterInfo info, uint* rails, byte* hosts)
    {
        if (rails != null)
        {
            rails[0] = info.ActiveRailMask;
            rails[1] = (uint)info.LogicalRailCount;
        }

        if (hosts != null)
        {
            var names = hosts + sizeof(int);
            new Span<byte>(names, MaxHosts * HostNameMax).Clear();
            var n = Math.Min(info.Hosts.Count, MaxHosts);
            for (var i = 0; i < n; i++)
            {
                var written = Encoding.UTF8.GetBytes(info.Hosts[i], new Span<byte>(names + i * HostNameMax, HostNameMax - 1));
                names[i * HostNameMax + written] = 0;
            }

            *(int*)hosts = n;
        }
    }

    private static List<string> ReadHosts(byte* hosts)
    {
        var n = Math.Clamp(*(int*)hosts, 0, MaxHosts);
        var names = new List<string>(n);
        for (var i = 0; i < n; i++)
        {
            var name = hosts + sizeof(int) + i * HostNameMax;
            var length = new ReadOnlySpan<byte>(name, HostNameMax).IndexOf((byte)0);
            names.Add(Encoding.UTF8.GetString(name, length < 0 ? HostNameMax : length));
        }

        return names;
    }
}
