using System.Globalization;
using Interconnect.Driver;
using Interconnect.Driver.Status;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Interconnect.Imcs;

/// <summary>What to show, as the flags ask.</summary>
internal sealed record ViewOptions(bool Hosts, bool Regions, bool Locks, bool Statistics)
{
    public static ViewOptions Default { get; } = new(true, true, true, false);

    public static ViewOptions Full { get; } = new(true, true, true, true);
}

/// <summary>Renders a cluster's status as aligned text tables for people.</summary>
internal static class StatusView
{
    public static void Render(IAnsiConsole console, ClusterStatus status, ViewOptions view, RateSample? rates = null)
    {
        console.Write(new Text(
            $"imcs: cluster '{status.Cluster}' at {status.Directory} (layout {status.LayoutVersion}), " +
            $"{status.PhysicalRails} physical rail(s), {(status.RailStyle == ClusterConfiguration.FailoverPair ? "failover pair" : "single-rail")} " +
            $"style, {status.LogicalRails} logical rail(s)\n"));
        if (view.Hosts && status.Machines is { } machines)
        {
            Section(console, "MACHINES", Machines(machines));
        }

        if (view.Hosts)
        {
            Section(console, "HOSTS", Hosts(status));
        }

        if (view.Regions)
        {
            Section(console, "REGIONS", Regions(status));
            console.Write(new Text("(host/pid; +loopback: writes loop back to the host; ->H: point-to-point to H; !: non-shared; (dead): awaits reclamation)\n"));
        }

        if (view.Locks)
        {
            Section(console, "LOCK SETS", LockSets(status));
        }

        Section(console, "TOTALS", Totals(status));
        if (view.Statistics)
        {
            Section(console, "LOGICAL RAILS", LogicalRails(status, rates));
            Section(console, "PHYSICAL RAILS", PhysicalRails(status));
        }
    }

    private static void Section(IAnsiConsole console, string title, Table table)
    {
        console.Write(new Text($"\n{title}\n"));
        console.Write(table);
    }

    private static Table NewTable(params string[] headers)
    {
        var table = new Table().Border(TableBorder.None).NoSafeBorder();
        foreach (var header in headers)
        {
            table.AddColumn(new TableColumn(new Text(header)).PadLeft(0).PadRight(2).NoWrap());
        }

        return table;
    }

    private static void Row(Table table, params string[] cells) =>
        table.AddRow(cells.Select(c => (IRenderable)new Text(c)).ToArray());

    private static string Pid(int pid, bool alive) =>
        alive ? pid.ToString(CultureInfo.InvariantCulture) : $"{pid.ToString(CultureInfo.InvariantCulture)}(dead)";

    /// <summary>host/pid (+loopback, ->target, ! non-shared); across machines host/pid@machine, host@machine, @machine.</summary>
    private static string Holders(IReadOnlyList<AttachStatus> attaches) => attaches.Count == 0
        ? "-"
        : string.Join(" ", attaches.Select(a => a.Pid == 0 && a.Machine is not null
            ? $"{a.Host}@{a.Machine}"
            : $"{a.Host}/{Pid(a.Pid, a.Alive)}{(a.Loopback ? "+loopback" : "")}{(a.Target is null ? "" : "->" + a.Target)}" +
              $"{(a.NonShared ? "!" : "")}{(a.Machine is null ? "" : "@" + a.Machine)}"));

    /// <summary>A region's or lock set's id; 0 (one known only from the directory, across machines) shows as "-".</summary>
    private static string Id(long id) => id == 0 ? "-" : Str(id);

    private static Table Machines(IReadOnlyList<MachineStatus> machines)
    {
        var table = NewTable("MACHINE", "ADDRESS", "STATE", "EPOCH", "HOSTS");
        foreach (var machine in machines)
        {
            table.AddRow(machine.Name, machine.Address, machine.State, machine.Epoch == 0 ? "-" : machine.Epoch.ToString("x", CultureInfo.InvariantCulture),
                machine.Hosts.Count == 0 ? "-" : string.Join(' ', machine.Hosts));
        }

        return table;
    }

    private static Table Hosts(ClusterStatus status)
    {
        var table = NewTable("HOST", "STATE", "PROCESSES", "RECEIVE", "OF MAXRECV");
        foreach (var host in status.Hosts)
        {
            var pids = status.Processes.Where(p => p.Host == host.Name)
                .Select(p => Pid(p.Pid, p.Alive)).ToList();
            Row(table, host.Name, host.State, pids.Count == 0 ? "-" : string.Join(" ", pids),
                Units.Bytes(host.ReceiveUsedBytes), Units.Bytes(host.MaxRecvBytes));
        }

        return table;
    }

    private static Table Regions(ClusterStatus status)
    {
        var table = NewTable("TYPE", "ID", "KEY", "SIZE", "MODE", "OWNER", "GROUP", "RAIL", "COHERENT", "ALLOCATED BY", "TRANSMIT", "RECEIVE");
        foreach (var r in status.Regions.OrderBy(r => r.Id == 0).ThenBy(r => r.Id).ThenBy(r => r.Key))
        {
            Row(table, "IMC", Id(r.Id), Str(r.Key), Units.Bytes(r.Size), r.Mode, r.Owner, r.Group, Str(r.LogicalRail),
                r.Coherent ? "yes" : "no", Holders(r.Allocations), Holders(r.Transmit), Holders(r.Receive));
        }

        return table;
    }

    private static Table LockSets(ClusterStatus status)
    {
        var table = NewTable("TYPE", "ID", "KEY", "LOCKS", "MODE", "OWNER", "GROUP", "USERS", "HELD");
        foreach (var set in status.LockSets.OrderBy(s => s.Id == 0).ThenBy(s => s.Id).ThenBy(s => s.Key))
        {
            var held = set.HeldUnknown ? $"? ({set.Home} did not answer)"
                : set.Held.Count == 0 ? "-"
                : string.Join(" ", set.Held.Select(h => $"{Str(h.Index)}:{h.Host}/{Pid(h.Pid, h.Alive)}"));
            Row(table, "IMC", Id(set.Id), Str(set.Key), Str(set.Count), set.Mode, set.Owner, set.Group, Holders(set.Users), held);
        }

        return table;
    }

    private static Table Totals(ClusterStatus status)
    {
        var table = NewTable("WHAT", "VALUE");
        Row(table, "regions allocated", Str(status.Regions.Count));
        Row(table, "lock sets allocated", Str(status.LockSets.Count));
        Row(table, "address space", $"{Units.Bytes(status.AllocatedBytes)} of {Units.Bytes(status.MaxAllocBytes)} (maxalloc)");
        Row(table, "API overhead", $"{Units.Bytes(status.OverheadBytes)} ({status.OverheadBytes} bytes, the control and words files)");
        return table;
    }

    private static Table LogicalRails(ClusterStatus status, RateSample? rates)
    {
        var table = rates is null
            ? NewTable("RAIL", "STATE", "ERRORS", "ACTIVE PHYSICAL", "WRITES", "BYTES", "DROPS", "PENDING DROPS")
            : NewTable("RAIL", "STATE", "ERRORS", "ACTIVE PHYSICAL", "WRITES", "BYTES", "DROPS", "PENDING DROPS", "WRITES/S", "MB/S");
        foreach (var rail in status.Rails.Logical)
        {
            var state = rail.Down ? "down" : rail.Processing ? "processing error" : "up";
            var cells = new List<string>
            {
                Str(rail.Rail), state, Str(rail.ErrorCount), rail.Down ? "-" : Str(rail.ActivePhysical),
                Units.Count(rail.Writes), Units.Bytes(rail.Bytes), Units.Count(rail.Drops), Str(rail.PendingDrops),
            };
            if (rates is not null)
            {
                var (writes, bytes) = rates.For(rail.Rail);
                cells.Add(Units.Count(writes));
                cells.Add((bytes / 1e6).ToString("0.0", CultureInfo.InvariantCulture));
            }

            Row(table, [.. cells]);
        }

        return table;
    }

    private static Table PhysicalRails(ClusterStatus status)
    {
        var table = NewTable("PHYSICAL", "LOGICAL", "STATE", "ROLE", "ERRORS");
        foreach (var rail in status.Rails.Physical)
        {
            var role = rail.Failed ? "-" : rail.Active ? "active" : "standby";
            Row(table, Str(rail.Rail), Str(rail.LogicalRail), rail.Failed ? "failed" : "up", role, Str(rail.Errors));
        }

        return table;
    }

    private static string Str(long value) => value.ToString(CultureInfo.InvariantCulture);
}
