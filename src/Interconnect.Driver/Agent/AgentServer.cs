using System.Collections.Concurrent;
using System.Net.Sockets;
using Interconnect.Driver.Directory;
using Interconnect.Driver.Store;
using Microsoft.Extensions.Logging;

namespace Interconnect.Driver.Agent;

/// <summary>
/// imcd's side of <see cref="AgentProtocol"/>: the socket its machine's processes reach it on. Each connection is
/// served by an <see cref="AgentSession"/> with a directory of its own (<see cref="IServedDirectory"/>: on imcd's one
/// etcd store across machines, the control file with <c>imcd --local</c>), in the name of the process the kernel says
/// is connected (<c>SO_PEERCRED</c>). The socket is open to every user of the machine (mode 0666): what a user may do
/// is checked per request, with that user's credentials.
/// </summary>
internal sealed partial class AgentServer : IDisposable
{
    /// <summary>Connections served at once (each holds a thread of imcd's), and at once per user other than root.</summary>
    internal const int MaxConnections = 2 * Store.Layout.ControlLayout.MaxProcesses, MaxConnectionsPerUser = 128;

    private readonly ClusterPaths _paths;
    private readonly string _machine;
    private readonly AgentMode _mode;
    private readonly Func<Func<int, long, int?>, IServedDirectory> _open;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly string _path;
    private readonly Thread _accepting;
    /// <summary>
    /// imcd's threads that serve requests. Requests block (etcd's calls, waits for other machines), so they run here,
    /// never on the thread pool, which the lease's keep-alive and etcd's own calls need free.
    /// </summary>
    private const int Workers = 16;

    private readonly ConcurrentDictionary<AgentSession, byte> _sessions = new();
    private readonly ConcurrentDictionary<ProcessIdentity, (int Uid, int Count)> _registered = new(); // uid, registrations
    private readonly BlockingCollection<Action> _work = [];
    private readonly Thread[] _workers;
    private volatile bool _stopping;

    private AgentServer(ClusterPaths paths, string machine, AgentMode mode, Func<Func<int, long, int?>, IServedDirectory> open,
        ILogger logger, Socket listener, string path)
    {
        _paths = paths;
        _machine = machine;
        _mode = mode;
        _open = open;
        _logger = logger;
        _listener = listener;
        _path = path;
        _accepting = new Thread(Accept) { IsBackground = true, Name = "imcd socket" };
        _workers = [.. Enumerable.Range(0, Workers).Select(i => new Thread(Work) { IsBackground = true, Name = $"imcd worker {i}" })];
    }

    /// <summary>
    /// Listens at <c>imcd.sock</c> in the cluster's folder (which imcd owns: <see cref="ClusterPaths.ForAgent"/>), in
    /// place of a socket an imcd that died left there. Each connection is served by a directory <paramref name="open"/>
    /// makes, given the test of whether a process registered here (only those are signalled).
    /// </summary>
    public static AgentServer Start(ClusterPaths paths, string machine, AgentMode mode, Func<Func<int, long, int?>, IServedDirectory> open,
        ILogger logger)
    {
        var path = AgentProtocol.SocketPath(paths);
        var endPoint = AgentProtocol.EndPoint(path);
        File.Delete(path); // a link is removed, not followed
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(endPoint);
            File.SetUnixFileMode(path, (UnixFileMode)0b110_110_110);
            listener.Listen(128);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new DriverException(DriverStatus.OpenError, $"imcd cannot listen at {path}: {e.Message}");
        }

        var server = new AgentServer(paths, machine, mode, open, logger, listener, path);
        foreach (var worker in server._workers)
        {
            worker.Start();
        }

        server._accepting.Start();
        return server;
    }

    /// <summary>
    /// The uid the kernel gave for a process (pid, start time) that registered through this socket, or null for one
    /// that did not: only those are signalled, and kill(2)'s rule is applied with this uid, not the control file's.
    /// </summary>
    public int? RegisteredUid(int pid, long startTime) =>
        _registered.TryGetValue(new ProcessIdentity(pid, startTime), out var registered) ? registered.Uid : null;

    internal void Registered(ProcessIdentity process, int uid) =>
        _registered.AddOrUpdate(process, (uid, 1), (_, r) => (r.Uid, r.Count + 1));

    internal void Unregistered(ProcessIdentity process)
    {
        var left = _registered.AddOrUpdate(process, (-1, 0), (_, r) => (r.Uid, r.Count - 1));
        if (left.Count <= 0)
        {
            _registered.TryRemove(new KeyValuePair<ProcessIdentity, (int, int)>(process, left));
        }
    }

    /// <summary>Serves <paramref name="request"/> on one of imcd's workers.</summary>
    internal void Queue(Action request) => _work.Add(request);

    private void Work()
    {
        foreach (var request in _work.GetConsumingEnumerable())
        {
            try
            {
                request(); // every request answers its own failures (AgentSession.Serve)
            }
            catch (Exception e)
            {
                WorkFailed(_logger, e); // not even answered: that process waits for its deadline; imcd serves on
            }
        }
    }

    internal string Machine => _machine;

    internal string Cluster => _paths.Cluster;

    /// <summary>Which kind of imcd this is, as its welcome tells each process.</summary>
    internal AgentMode Mode => _mode;

    internal IServedDirectory OpenDirectory() => _open(RegisteredUid);

    private void Accept()
    {
        while (!_stopping)
        {
            Socket connection;
            try
            {
                connection = _listener.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (!_stopping)
                {
                    AcceptFailed(_logger, e.Message);
                    Thread.Sleep(100);
                }

                continue;
            }

            try
            {
                var (pid, uid, gid) = AgentProtocol.PeerCredentials(connection);
                // The start time now: a registration later is refused if the pid has become another process's.
                if (!ProcessIdentity.TryReadStartTime(pid, out var start))
                {
                    connection.Dispose();
                    continue;
                }

                if (_sessions.Count >= MaxConnections || (uid != 0 && _sessions.Keys.Count(s => s.Uid == uid) >= MaxConnectionsPerUser))
                {
                    TooManyConnections(_logger, pid, uid);
                    connection.Dispose();
                    continue;
                }

                var session = new AgentSession(this, connection, new ProcessIdentity(pid, start), uid, gid, _logger);
                _sessions[session] = 0;
                session.Start(() => _sessions.TryRemove(session, out _));
            }
            catch (Exception e)
            {
                // No thread for it, the peer unknown, ...: this connection is not served; imcd serves on.
                ConnectionRefused(_logger, e.Message);
                connection.Dispose();
            }
        }
    }

    /// <summary>Stops listening, and ends every connection: their registrations are withdrawn, as at those processes' exit.</summary>
    public void Dispose()
    {
        _stopping = true;
        _listener.Dispose();
        _accepting.Join();
        var sessions = _sessions.Keys.ToList();
        foreach (var session in sessions)
        {
            session.Shutdown(); // all at once: each then ends as its requests under way are answered
        }

        foreach (var session in sessions)
        {
            session.Dispose();
        }

        _work.CompleteAdding();
        foreach (var worker in _workers)
        {
            worker.Join();
        }

        File.Delete(_path);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "a connection of process {Pid} (uid {Uid}) was refused: " +
        "imcd serves at most 128 connections per user other than root, and 512 in all")]
    private static partial void TooManyConnections(ILogger logger, int pid, int uid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the socket did not accept a connection: {Reason}")]
    private static partial void AcceptFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "a request could not be answered")]
    private static partial void WorkFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "a connection was not served: {Reason}")]
    private static partial void ConnectionRefused(ILogger logger, string reason);
}
