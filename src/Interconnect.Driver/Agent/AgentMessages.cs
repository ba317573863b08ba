using System.Text.Json.Serialization;
using Interconnect.Driver.Directory;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Status;

namespace Interconnect.Driver.Agent;

// What a process asks its machine's imcd over the socket (AgentProtocol), and what imcd answers. A request names the
// caller's registration only by its slot and incarnation (Caller): imcd looks the registration up among those this
// connection made, with the uid, gid and pid the socket told it, never with anything the caller says of itself.

/// <summary>A registration this connection made, as the process names it in a request.</summary>
internal readonly record struct Caller(int Slot, int Incarnation)
{
    public static Caller Of(ProcessRegistration process) => new(process.Slot, process.Incarnation);
}

/// <summary>One request; <see cref="RequestFrame.Id"/> pairs it with its reply.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "op")]
[JsonDerivedType(typeof(HelloRequest), "hello")]
[JsonDerivedType(typeof(RegisterRequest), "register")]
[JsonDerivedType(typeof(ResumeRequest), "resume")]
[JsonDerivedType(typeof(UnregisterRequest), "unregister")]
[JsonDerivedType(typeof(InitializeHostRequest), "init-host")]
[JsonDerivedType(typeof(TakeHostDownRequest), "host-down")]
[JsonDerivedType(typeof(AllocateRegionRequest), "allocate-region")]
[JsonDerivedType(typeof(DeallocateRegionRequest), "deallocate-region")]
[JsonDerivedType(typeof(AttachReceiveRequest), "attach-receive")]
[JsonDerivedType(typeof(AttachTransmitRequest), "attach-transmit")]
[JsonDerivedType(typeof(DetachRequest), "detach")]
[JsonDerivedType(typeof(ReadRoutesRequest), "routes")]
[JsonDerivedType(typeof(AllocateLockSetRequest), "allocate-lockset")]
[JsonDerivedType(typeof(DeallocateLockSetRequest), "deallocate-lockset")]
[JsonDerivedType(typeof(LockOwnerAliveRequest), "owner-alive")]
[JsonDerivedType(typeof(PublishOwnerRequest), "publish-owner")]
[JsonDerivedType(typeof(LockArenaRequest), "arena")]
[JsonDerivedType(typeof(RehomeWriteLockRequest), "rehome-write-lock")]
[JsonDerivedType(typeof(KillRequest), "kill")]
[JsonDerivedType(typeof(ClusterHostsRequest), "hosts")]
[JsonDerivedType(typeof(ClaimDropRequest), "claim-drop")]
[JsonDerivedType(typeof(LossesTalliedRequest), "losses-tallied")]
[JsonDerivedType(typeof(InjectDropsRequest), "inject-drops")]
[JsonDerivedType(typeof(FailRailRequest), "fail-rail")]
[JsonDerivedType(typeof(RepairRailRequest), "repair-rail")]
[JsonDerivedType(typeof(ReadStatusRequest), "status")]
[JsonDerivedType(typeof(CheckRequest), "check")]
[JsonDerivedType(typeof(ClusterKeyRequest), "cluster-key")]
internal abstract record AgentRequest;

/// <summary>The first request of a connection: the protocol version the process speaks, and the machine it expects.</summary>
internal sealed record HelloRequest(int Version, string Machine, string Cluster) : AgentRequest;

internal sealed record RegisterRequest(string Host) : AgentRequest;

/// <summary>
/// Takes up a registration the caller made through an earlier connection (to an imcd that restarted): granted only
/// when the registration's entry names the connected process (pid, start time, uid).
/// </summary>
internal sealed record ResumeRequest(Caller Process) : AgentRequest;

internal sealed record UnregisterRequest(Caller Process) : AgentRequest;

internal sealed record InitializeHostRequest(string Host, long? MaxAllocBytes, long? MaxRecvBytes) : AgentRequest;

internal sealed record TakeHostDownRequest(string Host) : AgentRequest;

internal sealed record AllocateRegionRequest(Caller Process, int Key, long Size, int Permissions, bool Coherent, int LogicalRail,
    bool Direct) : AgentRequest;

internal sealed record DeallocateRegionRequest(Caller Process, RegionHandle Region) : AgentRequest;

internal sealed record AttachReceiveRequest(Caller Process, RegionHandle Region, bool NonShared) : AgentRequest;

internal sealed record AttachTransmitRequest(Caller Process, RegionHandle Region, bool NonShared, bool Loopback, string? TargetHost)
    : AgentRequest;

internal sealed record DetachRequest(Caller Process, RegionHandle Region, bool Receive, bool Transmit) : AgentRequest;

/// <summary>The routes of a transmit attach, named by its entry and target as <see cref="TransmitReply"/> gave them.</summary>
internal sealed record ReadRoutesRequest(Caller Process, RegionHandle Region, int Entry, int TargetHost, bool Loopback) : AgentRequest;

internal sealed record AllocateLockSetRequest(Caller Process, int Key, int Count, int Permissions, bool Create) : AgentRequest;

internal sealed record DeallocateLockSetRequest(Caller Process, LockSetHandle LockSet) : AgentRequest;

internal sealed record LockOwnerAliveRequest(long Owner) : AgentRequest;

/// <summary>Publishes the caller as a possible holder of locks across machines (before it takes a coherent region's write lock).</summary>
internal sealed record PublishOwnerRequest(Caller Process) : AgentRequest;

/// <summary>Where the lock arena of <see cref="Machine"/> is: its imcd's address and its word count.</summary>
internal sealed record LockArenaRequest(string Machine) : AgentRequest;

internal sealed record RehomeWriteLockRequest(int Key, LockSetHome Failed) : AgentRequest;

internal sealed record KillRequest(Caller Process, string Host, int ProcessId, int Signal) : AgentRequest;

/// <summary>Every up host of the cluster, in slot order.</summary>
internal sealed record ClusterHostsRequest : AgentRequest;

/// <summary>
/// Claims a drop for one of the caller's deliveries toward host number <paramref name="Host"/>, asked only while drops
/// are armed on the rail: one of this machine's armed drops, then (across machines) one of the rail's clusterwide
/// budget; the rail's error count rises with it before the reply.
/// </summary>
internal sealed record ClaimDropRequest(int LogicalRail, int Host) : AgentRequest;

/// <summary>
/// The caller counted lost deliveries in its user's tally: imcd records them as errors of the rails' active physical
/// rails. A notice: the counts rose before it was sent, and it may come late, or (imcd gone) never.
/// </summary>
internal sealed record LossesTalliedRequest : AgentRequest;

internal sealed record InjectDropsRequest(int LogicalRail, int Count, string? Host) : AgentRequest;

internal sealed record FailRailRequest(int PhysicalRail) : AgentRequest;

internal sealed record RepairRailRequest(int PhysicalRail) : AgentRequest;

internal sealed record ReadStatusRequest : AgentRequest;

internal sealed record CheckRequest(long PatienceMs) : AgentRequest;

/// <summary>
/// The cluster key, which this process's connections to other machines' NICs present: served only on a connection
/// that holds a registration (a process imcd registered through its socket).
/// </summary>
internal sealed record ClusterKeyRequest : AgentRequest;

/// <summary>One reply.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "reply")]
[JsonDerivedType(typeof(WelcomeReply), "welcome")]
[JsonDerivedType(typeof(DoneReply), "done")]
[JsonDerivedType(typeof(FailedReply), "failed")]
[JsonDerivedType(typeof(FlagReply), "flag")]
[JsonDerivedType(typeof(RegisteredReply), "registered")]
[JsonDerivedType(typeof(HostInitReply), "host-init")]
[JsonDerivedType(typeof(RegionReply), "region")]
[JsonDerivedType(typeof(ReceiveMemoryReply), "receive-memory")]
[JsonDerivedType(typeof(TransmitReply), "transmit")]
[JsonDerivedType(typeof(RoutesReply), "routes")]
[JsonDerivedType(typeof(LockSetReply), "lockset")]
[JsonDerivedType(typeof(ArenaReply), "arena")]
[JsonDerivedType(typeof(HomeReply), "home")]
[JsonDerivedType(typeof(NamesReply), "names")]
[JsonDerivedType(typeof(StatusReply), "status")]
[JsonDerivedType(typeof(CheckReply), "check")]
[JsonDerivedType(typeof(ClusterKeyReply), "cluster-key")]
internal abstract record AgentReply;

/// <summary>imcd's answer to the hello: the protocol it speaks, its machine, and which kind of imcd it is.</summary>
internal sealed record WelcomeReply(int Version, string Machine, AgentMode Mode) : AgentReply;

internal sealed record DoneReply : AgentReply;

/// <summary>The request failed as a <see cref="DriverException"/> with this status and message would say.</summary>
internal sealed record FailedReply(DriverStatus Status, string Message) : AgentReply;

internal sealed record FlagReply(bool Value) : AgentReply;

/// <summary>A registration imcd made for the caller's pid, uid and gid (from the socket).</summary>
internal sealed record RegisteredReply(string HostName, int Host, int Slot, int Incarnation, long LockOwner) : AgentReply;

internal sealed record HostInitReply(HostInitResult Result) : AgentReply;

internal sealed record RegionReply(RegionHandle Region) : AgentReply;

internal sealed record ReceiveMemoryReply(ReceiveFileName Memory, long MappedLength) : AgentReply;

/// <summary>A transmit attach: the caller finds its hot words at <see cref="Entry"/> of its own mapping of the control file.</summary>
internal sealed record TransmitReply(int Entry, int TargetHost, bool Loopback) : AgentReply;

internal sealed record RoutesReply(RouteSet Routes) : AgentReply;

internal sealed record LockSetReply(LockSetHandle? LockSet) : AgentReply;

internal sealed record ArenaReply(byte[] Worker, int Words) : AgentReply;

internal sealed record HomeReply(LockSetHome Home) : AgentReply;

internal sealed record NamesReply(IReadOnlyList<string> Names) : AgentReply;

internal sealed record StatusReply(ClusterStatus Status) : AgentReply;

internal sealed record CheckReply(CheckReport Report) : AgentReply;

/// <summary>The cluster key (32 bytes). Never logged, by either side.</summary>
internal sealed record ClusterKeyReply(byte[] Key) : AgentReply
{
    public override string ToString() => "ClusterKeyReply { Key = (withheld) }";
}

internal sealed record RequestFrame(long Id, AgentRequest Request);

internal sealed record ReplyFrame(long Id, AgentReply Reply);

[JsonSerializable(typeof(RequestFrame))]
[JsonSerializable(typeof(ReplyFrame))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
internal sealed partial class AgentJson : JsonSerializerContext;
