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
    private readonly ClusterPaths _paths;
    private readonly string _machine;
    private readonly AgentMode _mode;
    private readonly Func<Func<int, long, bool>, IServedDirectory> _open;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly string _path;
    private readonly Thread _accepting;
    private readonly ConcurrentDictionary<AgentSession, byte> _sessions = new();
    private readonly ConcurrentDictionary<ProcessIdentity, int> _registered = new(); // registrations per process
    private volatile bool _stopping;

    private AgentServer(ClusterPaths paths, string machine, AgentMode mode, Func<Func<int, long, bool>, IServedDirectory> open,
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
    }

    /// <summary>
    /// Listens at <c>imcd.sock</c> in the cluster's folder (which imcd owns: <see cref="ClusterPaths.ForAgent"/>), in
    /// place of a socket an imcd that died left there. Each connection is served by a directory <paramref name="open"/>
    /// makes, given the test of whether a process registered here (only those are signalled).
    /// </summary>
    public static AgentServer Start(ClusterPaths paths, string machine, AgentMode mode, Func<Func<int, long, bool>, IServedDirectory> open,
        ILogger logger)
    {
        var path = AgentProtocol.SocketPath(paths);
        File.Delete(path); // a link is removed, not followed
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            File.SetUnixFileMode(path, (UnixFileMode)0b110_110_110);
            listener.Listen(128);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new DriverException(DriverStatus.OpenError, $"imcd cannot listen at {path}: {e.Message}");
        }

        var server = new AgentServer(paths, machine, mode, open, logger, listener, path);
        server._accepting.Start();
        return server;
    }

    /// <summary>Whether imcd registered this process (pid, start time) for one of its connections: only those are signalled.</summary>
    public bool IsRegistered(int pid, long startTime) => _registered.ContainsKey(new ProcessIdentity(pid, startTime));

    internal void Registered(ProcessIdentity process) => _registered.AddOrUpdate(process, 1, (_, n) => n + 1);

    internal void Unregistered(ProcessIdentity process)
    {
        if (_registered.AddOrUpdate(process, 0, (_, n) => n - 1) <= 0)
        {
            _registered.TryRemove(new KeyValuePair<ProcessIdentity, int>(process, 0));
        }
    }

    internal string Machine => _machine;

    internal string Cluster => _paths.Cluster;

    /// <summary>Which kind of imcd this is, as its welcome tells each process.</summary>
    internal AgentMode Mode => _mode;

    internal IServedDirectory OpenDirectory() => _open(IsRegistered);

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
                var session = new AgentSession(this, connection, pid, uid, gid, _logger);
                _sessions[session] = 0;
                session.Start(() => _sessions.TryRemove(session, out _));
            }
            catch (SocketException e)
            {
                PeerUnknown(_logger, e.Message);
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
        foreach (var session in _sessions.Keys)
        {
            session.Dispose();
        }

        File.Delete(_path);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the socket did not accept a connection: {Reason}")]
    private static partial void AcceptFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "a connection whose peer the kernel does not name was refused: {Reason}")]
    private static partial void PeerUnknown(ILogger logger, string reason);
}
