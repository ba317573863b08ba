using System.Collections.Concurrent;
using System.Net.Sockets;
using Interconnect.Driver.Directory;
using Interconnect.Driver.Store;
using Microsoft.Extensions.Logging;

namespace Interconnect.Driver.Agent;

/// <summary>
/// One process's connection to imcd. Its first request must be a <see cref="HelloRequest"/>; then each request is
/// served on imcd's workers (<see cref="AgentServer"/>), up to four at once, in the name of the connected process,
/// with every handle it names taken as the directory has it: the registrations it made here
/// (its pid and start time, its uid, gid and groups as the kernel gave them), never one named by another connection.
/// When the connection ends, whatever its registrations still hold is released, as at the process's exit.
/// </summary>
internal sealed partial class AgentSession : IDisposable
{
    /// <summary>Requests of one connection served at once; the next waits in the socket until one is answered.</summary>
    private const int MaxInFlight = 4;

    /// <summary>The longest request imcd reads: a handle or a name, never bulk data.</summary>
    private const int MaxRequest = 64 << 10;

    /// <summary>The longest <see cref="CheckRequest"/> patience served, well inside a process's wait for an answer.</summary>
    private static readonly TimeSpan s_maxPatience = TimeSpan.FromSeconds(10);

    private readonly AgentServer _server;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly ProcessIdentity _peer; // the connected process: pid and start time when it connected
    private readonly int _pid;
    private readonly int _uid;
    private readonly int _gid;
    private readonly ILogger _logger;
    private readonly Lock _sending = new();
    private readonly Dictionary<Caller, ProcessRegistration> _registrations = [];
    private readonly ConcurrentDictionary<(int Slot, long Id), LockSetHome> _writeLocks = new(); // as handed to the process
    private readonly CountdownEvent _serving = new(1); // 1 for the reader, 1 per request under way
    private readonly SemaphoreSlim _slots = new(MaxInFlight, MaxInFlight);
    private IServedDirectory? _directory;
    private Thread? _reader;
    private int _closed;

    public AgentSession(AgentServer server, Socket socket, ProcessIdentity peer, int uid, int gid, ILogger logger)
    {
        _server = server;
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _peer = peer;
        _pid = peer.Pid;
        _uid = uid;
        _gid = gid;
        _logger = logger;
    }

    /// <summary>The connected process's uid, as the kernel gave it.</summary>
    public int Uid => _uid;

    public void Start(Action ended)
    {
        _reader = new Thread(() =>
        {
            try
            {
                Read();
            }
            finally
            {
                Close();
                ended();
            }
        })
        { IsBackground = true, Name = $"imcd session {_pid}" };
        _reader.Start();
    }

    private void Read()
    {
        try
        {
            while (AgentProtocol.ReadFrame(_stream, MaxRequest) is { } json)
            {
                var frame = AgentProtocol.ReadRequest(json);
                if (_directory is null)
                {
                    if (!Greet(frame))
                    {
                        return;
                    }

                    continue;
                }

                _slots.Wait();
                _serving.AddCount();
                _server.Queue(() =>
                {
                    try
                    {
                        Answer(frame.Id, Serve(frame.Request));
                    }
                    finally
                    {
                        _serving.Signal();
                        _slots.Release();
                    }
                });
            }
        }
        catch (Exception e)
        {
            // Whatever a connection sends or does, it ends that connection only: imcd serves on.
            Unreadable(_logger, _pid, _uid, e.Message);
        }
    }

    /// <summary>The hello: the protocol's version, this machine and cluster; false when the connection must end.</summary>
    private bool Greet(RequestFrame frame)
    {
        if (frame.Request is not HelloRequest hello)
        {
            Answer(frame.Id, new FailedReply(DriverStatus.BadParameter, "the first request must be a hello"));
            return false;
        }

        if (hello.Version != AgentProtocol.Version)
        {
            Answer(frame.Id, new WelcomeReply(AgentProtocol.Version, _server.Machine, _server.Mode));
            return false;
        }

        // On one machine (imcd --local) there is no other machine to mistake this one for: the cluster must match.
        if ((_server.Mode == AgentMode.Machine && hello.Machine != _server.Machine) || hello.Cluster != _server.Cluster)
        {
            Answer(frame.Id, new FailedReply(DriverStatus.NotInitialized, _server.Mode == AgentMode.Local
                ? $"this socket is imcd --local's of cluster '{_server.Cluster}', not of cluster " +
                    $"'{ClusterPaths.Printable(hello.Cluster)}': check IMC_CLUSTER"
                : $"this socket is imcd's of machine '{_server.Machine}' in cluster '{_server.Cluster}', not machine " +
                    $"'{ClusterPaths.Printable(hello.Machine)}' in cluster '{ClusterPaths.Printable(hello.Cluster)}': check " +
                    "IMC_MACHINE and IMC_CLUSTER"));
            return false;
        }

        try
        {
            _directory = _server.OpenDirectory();
        }
        catch (Exception e)
        {
            Answer(frame.Id, new FailedReply(e is DriverException d ? d.Status : DriverStatus.McError, e.Message));
            return false;
        }

        Answer(frame.Id, new WelcomeReply(AgentProtocol.Version, _server.Machine, _server.Mode));
        return true;
    }

    private AgentReply Serve(AgentRequest request)
    {
        var directory = _directory!;
        try
        {
            return request switch
            {
                RegisterRequest r => Register(directory, r.Host, null),
                ResumeRequest r => Register(directory, null, r.Process),
                UnregisterRequest r => Unregister(directory, r.Process),
                InitializeHostRequest r => new HostInitReply(InitializeHost(directory, r)),
                TakeHostDownRequest r => Done(() => directory.TakeHostDown(Operator(r.Host, "take host '{0}' down"))),
                AllocateRegionRequest r => Allocated(
                    directory.AllocateRegion(Of(r.Process), r.Key, r.Size, r.Permissions, r.Coherent, r.LogicalRail, r.Direct)),
                // A handle is taken as the control file and the directory have it, never as the request says.
                DeallocateRegionRequest r => Done(() => directory.DeallocateRegion(Of(r.Process), Region(directory, r.Region))),
                AttachReceiveRequest r => ReceiveMemory(
                    directory.AttachReceive(Of(r.Process), Region(directory, r.Region), r.NonShared)),
                AttachTransmitRequest r => Transmit(
                    directory.AttachTransmit(Of(r.Process), Region(directory, r.Region), r.NonShared, r.Loopback, r.TargetHost)),
                DetachRequest r => new FlagReply(
                    directory.Detach(Of(r.Process), Region(directory, r.Region), r.Receive, r.Transmit)),
                ReadRoutesRequest r => Routes(directory, Of(r.Process), Region(directory, r.Region), r.Entry),
                AllocateLockSetRequest r => new LockSetReply(
                    directory.AllocateLockSet(Of(r.Process), r.Key, r.Count, r.Permissions, r.Create)),
                DeallocateLockSetRequest r => Done(() => directory.DeallocateLockSet(Of(r.Process), directory.LockSetAsItIs(r.LockSet))),
                LockOwnerAliveRequest r => new FlagReply(directory.IsLockOwnerAlive(r.Owner)),
                PublishOwnerRequest r => Done(() => directory.PublishOwner(Of(r.Process))),
                LockArenaRequest r => Arena(directory.LockArena(r.Machine)),
                RehomeWriteLockRequest r => new HomeReply(directory.RehomeWriteLock(r.Key, r.Failed)),
                KillRequest r => Done(() => directory.Kill(Of(r.Process), r.Host, r.ProcessId, r.Signal)),
                ClusterHostsRequest => new NamesReply(directory.ClusterHosts()),
                ClaimDropRequest r => new FlagReply(directory.TryClaimDrop(r.LogicalRail, r.Host)),
                LossesTalliedRequest => Done(directory.RecordTalliedLosses),
                InjectDropsRequest r => Done(() => directory.InjectDrops(Operator(r.LogicalRail, "inject drops on logical rail {0}"),
                    r.Count, r.Host)),
                FailRailRequest r => new FlagReply(directory.FailRail(Operator(r.PhysicalRail, "fail physical rail {0}"))),
                RepairRailRequest r => new FlagReply(directory.RepairRail(Operator(r.PhysicalRail, "repair physical rail {0}"))),
                ReadStatusRequest => new StatusReply(directory.ReadStatus()),
                ClusterKeyRequest => ClusterKey(directory),
                CheckRequest r => new CheckReply(directory.Check(
                    TimeSpan.FromMilliseconds(Math.Clamp(r.PatienceMs, 0, (long)s_maxPatience.TotalMilliseconds)))),
                _ => new FailedReply(DriverStatus.BadParameter, $"imcd does not serve {request.GetType().Name} more than once per connection"),
            };
        }
        catch (DriverException e)
        {
            return new FailedReply(e.Status, e.Message);
        }
        catch (Exception e)
        {
            // A fault of imcd's, not of the caller's: reported to the caller and logged here; imcd serves on.
            Faulted(_logger, request.GetType().Name, _pid, e);
            return new FailedReply(DriverStatus.McError, $"imcd failed to serve {request.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>
    /// A host up already, with its limits as they are, is anyone's to ask for (IMC_AUTO_INIT); bringing one up or
    /// changing its limits is the operator's.
    /// </summary>
    private HostInitResult InitializeHost(IServedDirectory directory, InitializeHostRequest request)
    {
        if (request.MaxAllocBytes is not null || request.MaxRecvBytes is not null || !directory.ClusterHosts().Contains(request.Host))
        {
            _ = Operator(request.Host, "bring host '{0}' up or change its limits");
        }

        return directory.InitializeHost(request.Host, request.MaxAllocBytes, request.MaxRecvBytes);
    }

    /// <summary>
    /// <paramref name="value"/>, when the caller is the operator: root, or the user imcd runs as. Otherwise Permit:
    /// taking hosts down, arming drops and failing rails change what every user of the cluster sees.
    /// </summary>
    private T Operator<T>(T value, string what)
    {
        if (_uid != 0 && _uid != Interop.Libc.GetEuid())
        {
            throw new DriverException(DriverStatus.Permit,
                $"only root or imcd's own user may {string.Format(System.Globalization.CultureInfo.InvariantCulture, what, value)}" +
                $" (this process runs as uid {_uid}): ask the cluster's operator (imc_init, imcctl as root)");
        }

        return value;
    }

    private static DoneReply Done(Action action)
    {
        action();
        return new DoneReply();
    }

    private static ReceiveMemoryReply ReceiveMemory((Fabric.ReceiveFileName Memory, long MappedLength) attached) =>
        new(attached.Memory, attached.MappedLength);

    /// <summary>A region allocated for the caller: its write lock's home is remembered, as the process was told it.</summary>
    private RegionReply Allocated(RegionHandle region)
    {
        if (region.WriteLock is { } home)
        {
            _writeLocks[(region.Slot, region.Id)] = home;
        }

        return new RegionReply(region);
    }

    /// <summary>
    /// The region a request names, as the directory has it, with the write lock's home this connection was given (a
    /// process that took up its registration here after imcd restarted: the directory's).
    /// </summary>
    private RegionHandle Region(IServedDirectory directory, RegionHandle claimed) =>
        directory.RegionAsItIs(claimed, _writeLocks.TryGetValue((claimed.Slot, claimed.Id), out var home) ? home : null);

    /// <summary>The routes of the caller's own transmit attach <paramref name="entry"/> of the region, as the control file has it.</summary>
    private static RoutesReply Routes(IServedDirectory directory, ProcessRegistration process, RegionHandle region, int entry) =>
        new(directory.ReadRoutes(process, region, directory.TransmitAttachmentOf(process, region, entry)));

    private static TransmitReply Transmit(TransmitAttachment attachment) =>
        new(attachment.Entry, attachment.TargetHost, attachment.Loopback);

    private static ArenaReply Arena((byte[] Worker, int Words) arena) => new(arena.Worker, arena.Words);

    /// <summary>
    /// Registers the connected process on <paramref name="host"/>, or takes up its registration <paramref name="resumed"/>:
    /// its identity and credentials are the kernel's, read now.
    /// </summary>
    private RegisteredReply Register(IServedDirectory directory, string? host, Caller? resumed)
    {
        // Still the process that connected (not another that took its pid since), and its groups as of now.
        if (!ProcessIdentity.TryReadStartTime(_pid, out var start) || start != _peer.StartTime ||
            Credentials.OfProcess(_pid, _uid, _gid) is not { } credentials)
        {
            throw new DriverException(DriverStatus.NoSuchProcess, $"process {_pid}, which connected to imcd, is gone");
        }

        var identity = _peer;
        _server.Registered(identity, _uid); // before the entry exists: a Kill never finds the entry and not this
        ProcessRegistration registration;
        try
        {
            directory.KeepTally(_uid); // where the process counts its lost deliveries, there before it can lose one
            registration = resumed is { } caller
                ? directory.Resume(caller.Slot, caller.Incarnation, identity, credentials)
                : directory.Register(host!, identity, credentials);
        }
        catch
        {
            _server.Unregistered(identity);
            throw;
        }

        lock (_registrations)
        {
            if (!_registrations.TryAdd(Caller.Of(registration), registration))
            {
                _server.Unregistered(identity); // taken up twice: counted once
            }
        }

        return new RegisteredReply(registration.HostName, registration.Host, registration.Slot, registration.Incarnation,
            registration.LockOwner);
    }

    /// <summary>
    /// The cluster key, for a connection that holds a registration only: a process that merely reached the socket
    /// (mode 0666) has not become one of the cluster's processes, and gets no key.
    /// </summary>
    private ClusterKeyReply ClusterKey(IServedDirectory directory)
    {
        lock (_registrations)
        {
            if (_registrations.Count == 0)
            {
                throw new DriverException(DriverStatus.NotInitialized,
                    "imcd hands the cluster key only to a process registered through this connection: register a host first");
            }
        }

        return new ClusterKeyReply(directory.ClusterKey());
    }

    private DoneReply Unregister(IServedDirectory directory, Caller caller)
    {
        ProcessRegistration? registration;
        lock (_registrations)
        {
            _ = _registrations.Remove(caller, out registration); // taken first: a second unregister finds nothing
        }

        if (registration is null)
        {
            throw new DriverException(DriverStatus.NotInitialized,
                $"registration {caller.Slot}.{caller.Incarnation} was not made on this connection to imcd");
        }

        try
        {
            directory.Unregister(registration);
        }
        finally
        {
            _server.Unregistered(_peer);
        }

        return new DoneReply();
    }

    private ProcessRegistration Of(Caller caller)
    {
        lock (_registrations)
        {
            return _registrations.TryGetValue(caller, out var registration)
                ? registration
                : throw new DriverException(DriverStatus.NotInitialized,
                    $"registration {caller.Slot}.{caller.Incarnation} was not made on this connection to imcd");
        }
    }

    private void Answer(long id, AgentReply reply)
    {
        var frame = AgentProtocol.Encode(new ReplyFrame(id, reply));
        lock (_sending)
        {
            try
            {
                _stream.Write(frame);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // The process is gone: its registrations are released when the reader sees the end.
            }
        }
    }

    /// <summary>Releases what the connection's registrations still hold, once the requests under way are answered.</summary>
    private void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _serving.Signal();
        _serving.Wait(); // every request is bounded (etcd's calls, the waits for other machines): none is cut off
        List<ProcessRegistration> left;
        lock (_registrations)
        {
            left = [.. _registrations.Values];
            _registrations.Clear();
        }

        foreach (var registration in left)
        {
            try
            {
                _directory!.Unregister(registration);
            }
            catch (DriverException e)
            {
                NotReleased(_logger, registration.ProcessId, e.Message); // imcd's look at the control file finds it later
            }
        }

        foreach (var _ in left)
        {
            _server.Unregistered(_peer);
        }

        _directory?.Dispose();
        _socket.Dispose();
        _stream.Dispose();
    }

    /// <summary>Ends the connection (imcd stopping): the reader sees the end and releases the registrations.</summary>
    public void Shutdown()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Ends the connection and waits until what it held is released.</summary>
    public void Dispose()
    {
        Shutdown();
        _reader?.Join();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "a connection of process {Pid} (uid {Uid}) sent what imcd cannot read, and was closed: {Reason}")]
    private static partial void Unreadable(ILogger logger, int pid, int uid, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "serving {Request} for process {Pid} failed")]
    private static partial void Faulted(ILogger logger, string request, int pid, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "what process {Pid} held was not released at once (imcd's next look does it): {Reason}")]
    private static partial void NotReleased(ILogger logger, int pid, string reason);
}
