using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Interconnect.Driver.Directory.Etcd;

/// <summary>
/// The cluster's keys in etcd, relative to <c>/imc/{cluster}/</c>, and the JSON records they hold. Keys bound to a
/// machine's lease vanish with the machine; the rest live until removed.
/// <code>
/// machines/{machine}             MachineRecord   lease: the machine's; written by its imcd
/// hosts/{host}                   HostRecord      lease: the host's machine's; slot = the host's number everywhere
/// slots/{slot}                   host name       lease: as the host (makes the slot unique)
/// regions/{key}                  RegionRecord    no lease; Machines = the machines that have it allocated
/// receivers/{key}/{host}         ReceiverRecord  lease: the machine's; a host's receive memory exists there
/// memory/{key}/{host}            MemoryRecord    lease: the machine's; that memory published to its emulated NIC
/// acks/{key}/{host}/{machine}    revision        lease: the acking machine's; it applied memory/{key}/{host} as of that
///                                                revision; 0 from the memory's own machine, written in the memory's
///                                                transaction (so with the same mod revision as the memory)
/// hostacks/{machine}             revision        lease: the machine's; it applied the hosts as of that revision
/// signals/{machine}/{id}         SignalRecord    lease: the sender's machine's; a Kill for that machine's imcd
/// signaled/{id}                  SignalResult    lease: the delivering machine's; the Kill's outcome
/// rails/{physical}              "failed"        no lease; a failed physical rail (imcctl fail-rail), until repaired
/// railacks/{machine}             revision        lease: the machine's; it applied the rails as of that revision
/// raises/{rail}/{origin}         count           lease: machine {origin}'s; errors raised there (drops it made)
/// raiseacks/{rail}/{origin}/{m}  count           lease: machine {m}'s; it raised its count as often
/// drops/{rail}                   DropsRecord     no lease; drops armed on a logical rail (imcctl inject-error), the
///                                                clusterwide budget that each claim decrements; gone when spent
/// dropacks/{machine}             revision        lease: the machine's; it armed the drops as of that revision
/// arenas/{machine}               ArenaRecord     lease: the machine's; its lock arena, reached through the machine's NIC
/// arenamap/{machine}             ArenaMapRecord  no lease; which words of the machine's lock arena are reserved
/// locksets/{key}                 LockSetRecord   no lease; a lock set: its home machine and its words there
/// lockusers/{key}/{owner}        machine         lease: the user's machine's; a process that allocated the set
/// owners/{owner}                 OwnerRecord     lease: the owner's machine's; a live process that may hold locks
/// clusterkey                     base64          no lease; the cluster key (32 random bytes) that every connection
///                                                to a machine's NIC presents; made by the first imcd that joins
/// </code>
/// </summary>
internal static class EtcdKeys
{
    public static string Machine(string machine) => $"machines/{machine}";

    /// <summary>The cluster key: made once, by the first imcd that joins (create-if-absent), read by every one.</summary>
    public const string ClusterKey = "clusterkey";

    public static string Host(string host) => $"hosts/{host}";

    public static string Slot(int slot) => $"slots/{slot.ToString(CultureInfo.InvariantCulture)}";

    public static string Region(int key) => $"regions/{Num(key)}";

    public static string Receiver(int key, string host) => $"receivers/{Num(key)}/{host}";

    public static string ReceiversOf(int key) => $"receivers/{Num(key)}/";

    public static string Memory(int key, string host) => $"memory/{Num(key)}/{host}";

    public static string MemoryOf(int key) => $"memory/{Num(key)}/";

    public static string Ack(int key, string host, string machine) => $"acks/{Num(key)}/{host}/{machine}";

    public static string AcksOf(int key, string host) => $"acks/{Num(key)}/{host}/";

    public static string HostAck(string machine) => $"hostacks/{machine}";

    public static string Rail(int physical) => $"rails/{Num(physical)}";

    public static string RailAck(string machine) => $"railacks/{machine}";

    public static string Drops(int rail) => $"drops/{Num(rail)}";

    public static string DropAck(string machine) => $"dropacks/{machine}";

    public static string Raises(int rail, string origin) => $"raises/{Num(rail)}/{origin}";

    public static string RaiseAck(int rail, string origin, string machine) => $"raiseacks/{Num(rail)}/{origin}/{machine}";

    public static string RaiseAcksOf(int rail, string origin) => $"raiseacks/{Num(rail)}/{origin}/";

    public static string Signal(string machine, string id) => $"signals/{machine}/{id}";

    public static string SignalsTo(string machine) => $"signals/{machine}/";

    public static string Signaled(string id) => $"signaled/{id}";
    public static string Arena(string machine) => $"arenas/{machine}";

    public static string ArenaMap(string machine) => $"arenamap/{machine}";

    public static string LockSet(int key) => $"locksets/{Num(key)}";

    public static string LockUser(int key, long owner) => $"lockusers/{Num(key)}/{Owner(owner)}";

    public static string LockUsersOf(int key) => $"lockusers/{Num(key)}/";

    public static string LockOwner(long owner) => $"owners/{Owner(owner)}";

    /// <summary>An owner value as it appears in keys: 16 hex digits.</summary>
    public static string Owner(long owner) => owner.ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>Splits <c>prefix/{key}/{host}[/...]</c> into its key and host.</summary>
    public static bool TryParseKeyHost(string relative, out int key, out string host)
    {
        var parts = relative.Split('/');
        host = parts.Length >= 3 ? parts[2] : "";
        key = 0;
        return parts.Length >= 3 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out key);
    }

    public static string Last(string relative) => relative[(relative.LastIndexOf('/') + 1)..];

    private static string Num(int key) => key.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A machine of the cluster, as its imcd publishes it.</summary>
/// <summary>
/// A machine of the cluster: its imcd's address, UCX worker, lease and pid, its instance id (made once per machine, kept in
/// its cluster folder), and its epoch: the lease it joined under, kept by an imcd restart within the lease and new
/// after a fence. Writes carry their machine's epoch; a machine's agent refuses those of an epoch that ended.
/// </summary>
internal sealed record MachineRecord(string Address, string Worker, long Lease, int Pid, string? Instance = null, long Epoch = 0);

/// <summary>A host that is up, on <see cref="Machine"/>, numbered <see cref="Slot"/> on every machine.</summary>
internal sealed record HostRecord(string Machine, int Slot, long MaxRecvBytes);

/// <summary>
/// A region as its first allocator made it, and the machines on which it is allocated now. A coherent region has a
/// <see cref="WriteLock"/>: one word in the lock arena of the machine that made it (see <see cref="ClusterWriteLock"/>),
/// reserved in that arena's map under the range key <c>-1 - key</c>.
/// </summary>
internal sealed record RegionRecord(long Size, int Permissions, int Uid, int Gid, bool Coherent, int Rail, string[] Machines,
    LockSetHome? WriteLock = null);

/// <summary>A host's receive memory of a region exists on <see cref="Machine"/>, named <see cref="Memory"/>.</summary>
internal sealed record ReceiverRecord(string Machine, string Memory, long Length);

/// <summary>
/// That memory, published by its machine's imcd to its emulated NIC: writes and reads name it by <see cref="Id"/> (new
/// with every publication) on <see cref="Rail"/>, within <see cref="Length"/>.
/// </summary>
internal sealed record MemoryRecord(string Machine, string Memory, long Length, int HostSlot, ulong Id, int Rail);

/// <summary>Drops armed on a logical rail: <see cref="Count"/> deliveries left to drop, toward host number <see cref="Host"/> (-1: any).</summary>
internal sealed record DropsRecord(int Count, int Host);

/// <summary>
/// A Kill toward a process on another machine, for that machine's agent to deliver as kill(2) would let the sender's
/// <see cref="Uid"/> (a record without one is refused).
/// </summary>
internal sealed record SignalRecord(string Host, int Pid, int Signal, int Uid = -1);

/// <summary>What became of a Kill: the status, and its message when it failed.</summary>
internal sealed record SignalResult(int Status, string Message);

/// <summary>A machine's lock arena as its imcd published it: <see cref="Words"/> 8-byte words, reached through its NIC.</summary>
internal sealed record ArenaRecord(int Words);

/// <summary>Words [<see cref="First"/>, First + <see cref="Count"/>) of an arena, reserved for lock set <see cref="Key"/>.</summary>
internal sealed record ArenaRange(int First, int Count, int Key, long AtUnixMs);

/// <summary>The reserved ranges of one machine's lock arena.</summary>
internal sealed record ArenaMapRecord(ArenaRange[] Ranges);

/// <summary>
/// A lock set across machines: its words are <see cref="Count"/> 8-byte words from word <see cref="First"/> of the
/// lock arena of <see cref="Home"/>; <see cref="Id"/> tells this set from an earlier one of the same key.
/// </summary>
internal sealed record LockSetRecord(long Id, int Count, int Permissions, int Uid, int Gid, string Home, int First);

/// <summary>A process that may hold locks: on <see cref="Machine"/>, registration slot and incarnation there, pid.</summary>
internal sealed record OwnerRecord(string Machine, string Host, int Slot, int Incarnation, int Pid);

[JsonSerializable(typeof(DropsRecord))]
[JsonSerializable(typeof(SignalRecord))]
[JsonSerializable(typeof(SignalResult))]
[JsonSerializable(typeof(MachineRecord))]
[JsonSerializable(typeof(ArenaRecord))]
[JsonSerializable(typeof(ArenaMapRecord))]
[JsonSerializable(typeof(LockSetRecord))]
[JsonSerializable(typeof(OwnerRecord))]
[JsonSerializable(typeof(HostRecord))]
[JsonSerializable(typeof(RegionRecord))]
[JsonSerializable(typeof(ReceiverRecord))]
[JsonSerializable(typeof(MemoryRecord))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class EtcdJson : JsonSerializerContext
{
    public static string Write<T>(T record) => JsonSerializer.Serialize(record, typeof(T), Default);

    public static T Read<T>(EtcdEntry entry) =>
        (T?)JsonSerializer.Deserialize(entry.Value, typeof(T), Default) ??
        throw new DriverException(DriverStatus.McError, $"the directory's key {entry.Key} holds no record");
}
