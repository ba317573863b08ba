using System.Net.Sockets;
using System.Text.Json;
using Interconnect.Driver.Directory;
using Interconnect.Driver.Directory.Etcd;
using Interconnect.Driver.Store;
using Microsoft.Extensions.Logging;

namespace Interconnect.Driver.Agent;

/// <summary>
/// One process's connection to imcd. Its first request must be a <see cref="HelloRequest"/>; then each request is
/// served on the thread pool, several at once, in the name of the connected process: the registrations it made here
/// (its pid and start time, its uid, gid and groups as the kernel gave them), never one named by another connection.
/// When the connection ends, whatever its registrations still hold is released, as at the process's exit.
/// </summary>
internal sealed partial class AgentSession : IDisposable
{
    private static readonly TimeSpan s_drain = TimeSpan.FromSeconds(30);

    private readonly AgentServer _server;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly int _pid;
    private readonly int _uid;
    private readonly int _gid;
    private readonly ILogger _logger;
    private readonly Lock _sending = new();
    private readonly Dictionary<Caller, ProcessRegistration> _registrations = [];
    private readonly CountdownEvent _serving = new(1); // 1 for the reader, 1 per request under way
    private EtcdDirectory? _directory;
    private ProcessIdentity _identity; // the connected process's, read at its first registration
    private Thread? _reader;
    private int _closed;

    public AgentSession(AgentServer server, Socket socket, int pid, int uid, int gid, ILogger logger)
    {
        _server = server;
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _pid = pid;
        _uid = uid;
        _gid = gid;
        _logger = logger;
    }

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
            while (AgentProtocol.ReadFrame(_stream) is { } json)
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

                _serving.AddCount();
                ThreadPool.UnsafeQueueUserWorkItem(_ =>
                {
                    try
                    {
                        Answer(frame.Id, Serve(frame.Request));
                    }
                    finally
                    {
                        _serving.Signal();
                    }
                }, null);
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or JsonException or NotSupportedException or ObjectDisposedException)
        {
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
            Answer(frame.Id, new WelcomeReply(AgentProtocol.Version, _server.Machine));
            return false;
        }

        if (hello.Machine != _server.Machine || hello.Cluster != _server.Cluster)
        {
            Answer(frame.Id, new FailedReply(DriverStatus.NotInitialized,
                $"this socket is imcd's of machine '{_server.Machine}' in cluster '{_server.Cluster}', not machine " +
                $"'{ClusterPaths.Printable(hello.Machine)}' in cluster '{ClusterPaths.Printable(hello.Cluster)}': check " +
                "IMC_MACHINE and IMC_CLUSTER"));
            return false;
        }

        try
        {
            _directory = _server.OpenDirectory();
        }
        catch (DriverException e)
        {
            Answer(frame.Id, new FailedReply(e.Status, e.Message));
            return false;
        }

        Answer(frame.Id, new WelcomeReply(AgentProtocol.Version, _server.Machine));
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
                InitializeHostRequest r => new HostInitReply(directory.InitializeHost(r.Host, r.MaxAllocBytes, r.MaxRecvBytes)),
                TakeHostDownRequest r => Done(() => directory.TakeHostDown(r.Host)),
                AllocateRegionRequest r => new RegionReply(
                    directory.AllocateRegion(Of(r.Process), r.Key, r.Size, r.Permissions, r.Coherent, r.LogicalRail, r.Direct)),
                DeallocateRegionRequest r => Done(() => directory.DeallocateRegion(Of(r.Process), r.Region)),
                AttachReceiveRequest r => ReceiveMemory(directory.AttachReceive(Of(r.Process), r.Region, r.NonShared)),
                AttachTransmitRequest r => Transmit(
                    directory.AttachTransmit(Of(r.Process), r.Region, r.NonShared, r.Loopback, r.TargetHost)),
                DetachRequest r => new FlagReply(directory.Detach(Of(r.Process), r.Region, r.Receive, r.Transmit)),
                ReadRoutesRequest r => new RoutesReply(directory.ReadRoutes(Of(r.Process), r.Region,
                    new TransmitAttachment(r.Entry, r.TargetHost, r.Loopback, default))),
                AllocateLockSetRequest r => new LockSetReply(
                    directory.AllocateLockSet(Of(r.Process), r.Key, r.Count, r.Permissions, r.Create)),
                DeallocateLockSetRequest r => Done(() => directory.DeallocateLockSet(Of(r.Process), r.LockSet)),
                LockOwnerAliveRequest r => new FlagReply(directory.IsLockOwnerAlive(r.Owner)),
                PublishOwnerRequest r => Done(() => directory.PublishOwner(Of(r.Process))),
                LockArenaRequest r => Arena(directory.LockArena(r.Machine)),
                RehomeWriteLockRequest r => new HomeReply(directory.RehomeWriteLock(r.Key, r.Failed)),
                KillRequest r => Done(() => directory.Kill(Of(r.Process), r.Host, r.ProcessId, r.Signal)),
                ClusterHostsRequest => new NamesReply(directory.ClusterHosts()),
                ClaimDropRequest r => new FlagReply(directory.ClaimBudgetedDrop(r.LogicalRail, r.Host)),
                InjectDropsRequest r => Done(() => directory.InjectDrops(r.LogicalRail, r.Count, r.Host)),
                FailRailRequest r => new FlagReply(directory.FailRail(r.PhysicalRail)),
                RepairRailRequest r => new FlagReply(directory.RepairRail(r.PhysicalRail)),
                ReadStatusRequest => new StatusReply(directory.ReadStatus()),
                ClusterKeyRequest => ClusterKey(directory),
                CheckRequest r => new CheckReply(directory.Check(TimeSpan.FromMilliseconds(Math.Clamp(r.PatienceMs, 0, 60_000)))),
                _ => new FailedReply(DriverStatus.BadParameter, $"imcd does not serve {request.GetType().Name} more than once per connection"),
            };
        }
        catch (DriverException e)
        {
            return new FailedReply(e.Status, e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A fault of imcd's, not of the caller's: reported to the caller and logged here; imcd serves on.
            Faulted(_logger, request.GetType().Name, _pid, e);
            return new FailedReply(DriverStatus.McError, $"imcd failed to serve {request.GetType().Name}: {e.Message}");
        }
    }

    private static DoneReply Done(Action action)
    {
        action();
        return new DoneReply();
    }

    private static ReceiveMemoryReply ReceiveMemory((Fabric.ReceiveFileName Memory, long MappedLength) attached) =>
        new(attached.Memory, attached.MappedLength);

    private static TransmitReply Transmit(TransmitAttachment attachment) =>
        new(attachment.Entry, attachment.TargetHost, attachment.Loopback);

    private static ArenaReply Arena((byte[] Worker, int Words) arena) => new(arena.Worker, arena.Words);

    /// <summary>
    /// Registers the connected process on <paramref name="host"/>, or takes up its registration <paramref name="resumed"/>:
    /// its identity and credentials are the kernel's, read now.
    /// </summary>
    private RegisteredReply Register(EtcdDirectory directory, string? host, Caller? resumed)
    {
        if (!ProcessIdentity.TryReadStartTime(_pid, out var start) || Credentials.OfProcess(_pid, _uid, _gid) is not { } credentials)
        {
            throw new DriverException(DriverStatus.NoSuchProcess, $"process {_pid} is gone");
        }

        var identity = _identity = new ProcessIdentity(_pid, start);
        _server.Registered(identity); // before the entry exists: a Kill never finds the entry and not this
        ProcessRegistration registration;
        try
        {
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
    private ClusterKeyReply ClusterKey(EtcdDirectory directory)
    {
        lock (_registrations)
        {
            if (_registrations.Count == 0)
            {
                throw new DriverException(DriverStatus.NotInitialized,
                    "imcd hands the cluster key only to a process registered through this connection: register a host first");
            }
        }

        return new ClusterKeyReply(directory.Store.ClusterKey());
    }

    private DoneReply Unregister(EtcdDirectory directory, Caller caller)
    {
        var registration = Of(caller);
        directory.Unregister(registration);
        lock (_registrations)
        {
            _registrations.Remove(caller);
        }

        _server.Unregistered(_identity);
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
        _ = _serving.Wait(s_drain);
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
            _server.Unregistered(_identity);
        }

        _directory?.Dispose();
        _socket.Dispose();
        _stream.Dispose();
    }

    /// <summary>Ends the connection (imcd stopping): the reader sees the end and releases the registrations.</summary>
    public void Dispose()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        _reader?.Join();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "a connection of process {Pid} (uid {Uid}) sent what imcd cannot read, and was closed: {Reason}")]
    private static partial void Unreadable(ILogger logger, int pid, int uid, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "serving {Request} for process {Pid} failed")]
    private static partial void Faulted(ILogger logger, string request, int pid, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "what process {Pid} held was not released at once (imcd's next look does it): {Reason}")]
    private static partial void NotReleased(ILogger logger, int pid, string reason);
}
