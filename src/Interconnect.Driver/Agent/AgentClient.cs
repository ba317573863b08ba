using System.Collections.Concurrent;
using System.Net.Sockets;

namespace Interconnect.Driver.Agent;

/// <summary>
/// A process's connection to its machine's imcd (<see cref="AgentProtocol"/>): <see cref="Call{TReply}"/> sends a
/// request and waits for its reply, from any thread, several at once. When imcd goes (killed, or restarted within its
/// lease), the calls under way fail with <see cref="DriverStatus.NotInitialized"/>, and the process connects again and
/// takes up its registrations with the new imcd, which grants each only if its entry names this process: at its next
/// call, or on its own as soon as imcd answers again (<see cref="Reconnect"/>), so a process that asks nothing (one that
/// only waits for signals) is known to the new imcd too.
/// </summary>
internal sealed class AgentClient : IDisposable
{
    private readonly string _path;
    private readonly string _machine;
    private readonly string _cluster;
    private readonly bool _acrossMachines;
    private readonly string _imcd; // for messages
    private readonly Lock _connecting = new();
    /// <summary>How often, and for how long, a process whose imcd went tries to reach a new one on its own.</summary>
    private static readonly TimeSpan s_reconnectEvery = TimeSpan.FromMilliseconds(200), s_reconnectFor = TimeSpan.FromSeconds(60);

    private readonly HashSet<Caller> _registrations = []; // taken up again on a new connection
    private Connection _connection;
    private volatile bool _disposed;

    private AgentClient(string path, string machine, string cluster, bool acrossMachines)
    {
        _path = path;
        _machine = machine;
        _cluster = cluster;
        _acrossMachines = acrossMachines;
        _imcd = acrossMachines ? $"machine '{machine}''s imcd" : $"cluster '{cluster}''s imcd";
        _connection = Open();
        Mode = _connection.Mode;
    }

    /// <summary>
    /// Connects to the imcd serving <paramref name="path"/> and greets it; throws NotInitialized when none does.
    /// <paramref name="acrossMachines"/>: whether the process was told of a cluster across machines (<c>IMC_DIRECTORY</c>),
    /// which its messages then name; whichever kind of imcd answers says so in <see cref="Mode"/>.
    /// </summary>
    public static AgentClient Connect(string path, string machine, string cluster, bool acrossMachines = true) =>
        new(path, machine, cluster, acrossMachines);

    /// <summary>Which kind of imcd answered the first hello: a machine's agent, or <c>imcd --local</c>.</summary>
    public AgentMode Mode { get; }

    /// <summary>Sends <paramref name="request"/> and returns imcd's reply; a failure imcd reports is thrown as it was raised there.</summary>
    public TReply Call<TReply>(AgentRequest request) where TReply : AgentReply
    {
        var reply = Current().Call(request) switch
        {
            TReply expected => expected,
            FailedReply failed => throw new DriverException(failed.Status, failed.Message),
            var other => throw new DriverException(DriverStatus.McError,
                $"{_imcd} answered {other.GetType().Name} to {request.GetType().Name}: run the same release of both"),
        };
        lock (_connecting)
        {
            switch (request, reply)
            {
                case (RegisterRequest, RegisteredReply made):
                    _registrations.Add(new Caller(made.Slot, made.Incarnation));
                    break;
                case (UnregisterRequest gone, _):
                    _registrations.Remove(gone.Process);
                    break;
            }
        }

        return reply;
    }

    /// <summary>Sends a request whose reply carries nothing.</summary>
    public void Call(AgentRequest request) => _ = Call<DoneReply>(request);

    /// <summary>The connection, made again (registrations taken up) when the last one broke.</summary>
    private Connection Current()
    {
        lock (_connecting)
        {
            if (_connection.Broken is null)
            {
                return _connection;
            }

            var fresh = Open();
            if (fresh.Mode != Mode)
            {
                fresh.Dispose();
                throw new DriverException(DriverStatus.NotInitialized,
                    $"the imcd at {_path} was restarted as {Describe(fresh.Mode)}, where this process began with " +
                    $"{Describe(Mode)}: open a new context");
            }

            try
            {
                foreach (var caller in _registrations.ToList())
                {
                    if (fresh.Call(new ResumeRequest(caller)) is not RegisteredReply)
                    {
                        _registrations.Remove(caller); // released meanwhile (its host went down): its calls say so
                    }
                }
            }
            catch
            {
                fresh.Dispose(); // gone again: the next call tries anew
                throw;
            }

            _connection.Dispose();
            _connection = fresh;
            return fresh;
        }
    }

    private Connection Open()
    {
        var endPoint = AgentProtocol.EndPoint(_path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(endPoint);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new DriverException(DriverStatus.NotInitialized, _acrossMachines
                ? $"machine '{_machine}' does not serve cluster '{_cluster}': no imcd answers at {_path} ({e.SocketErrorCode}): " +
                    $"start imcd on this machine (imcd --cluster {_cluster} --machine {_machine}), with the same IMC_ROOT, first"
                : $"cluster '{_cluster}' is served by imcd (its socket is {_path}), but no imcd answers there " +
                    $"({e.SocketErrorCode}): start it again (imcd --local --cluster {_cluster}, with the same IMC_ROOT); to " +
                    $"use the cluster without imcd, remove {_path}");
        }

        var connection = new Connection(socket, _imcd, Reconnect);
        try
        {
            switch (connection.Call(new HelloRequest(AgentProtocol.Version, _machine, _cluster)))
            {
                case WelcomeReply { Version: AgentProtocol.Version } welcome:
                    connection.Mode = welcome.Mode;
                    return connection;
                case WelcomeReply other:
                    throw new DriverException(DriverStatus.NotInitialized,
                        $"{connection.Imcd} speaks protocol {other.Version}, this program {AgentProtocol.Version}: " +
                        "run the same release of both");
                case FailedReply failed:
                    throw new DriverException(failed.Status, failed.Message);
                default:
                    throw new DriverException(DriverStatus.NotInitialized, $"{connection.Imcd} did not greet this program");
            }
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Called when imcd ended a connection: unless this process closed it, tries every
    /// <see cref="s_reconnectEvery"/> for <see cref="s_reconnectFor"/> to connect again and take up its registrations,
    /// on a thread of its own, and stops at the first success (or when a call made it meanwhile).
    /// </summary>
    private void Reconnect()
    {
        // Called on the broken connection's reader thread, which a call making the connection again may be joining
        // while it holds _connecting: so nothing here waits for that lock; the thread below does.
        if (_disposed)
        {
            return;
        }

        new Thread(() =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!_disposed && clock.Elapsed < s_reconnectFor)
            {
                Thread.Sleep(s_reconnectEvery);
                try
                {
                    lock (_connecting)
                    {
                        if (_disposed || _registrations.Count == 0)
                        {
                            return; // nothing to take up: the next call connects
                        }

                        _ = Current(); // the connection, made again and registrations taken up if it is still broken
                        return;
                    }
                }
                catch (DriverException)
                {
                    // No imcd yet, or one that refused: try again, or leave it to the next call.
                }
            }
        })
        { IsBackground = true, Name = "imcd reconnect" }.Start();
    }

    private static string Describe(AgentMode mode) =>
        mode == AgentMode.Local ? "imcd --local (a cluster on one machine)" : "a machine's imcd (a cluster across machines)";

    public void Dispose()
    {
        lock (_connecting)
        {
            _disposed = true;
            _connection.Dispose();
        }
    }

    /// <summary>One socket to imcd: requests written under a lock, replies read by a thread of its own and paired by id.</summary>
    private sealed class Connection : IDisposable
    {
        /// <summary>
        /// How long a call waits for imcd's answer. imcd bounds every request it serves (etcd's calls, the directory
        /// lock, the waits for other machines' acknowledgements: well under a minute together), so this is reached only
        /// when imcd itself is stopped or stuck.
        /// </summary>
        private static readonly TimeSpan s_answerTimeout = TimeSpan.FromSeconds(120);

        private readonly Socket _socket;
        private readonly NetworkStream _stream;
        private readonly Lock _sending = new();
        private readonly ConcurrentDictionary<long, TaskCompletionSource<AgentReply>> _pending = new();
        private readonly Thread _reader;
        private readonly Action _ended;
        private long _nextId;
        private volatile string? _broken;

        /// <summary>A connection on <paramref name="socket"/>; <paramref name="ended"/> is called when imcd ends it (not when this side does).</summary>
        public Connection(Socket socket, string imcd, Action ended)
        {
            _socket = socket;
            _stream = new NetworkStream(socket, ownsSocket: false);
            Imcd = imcd;
            _ended = ended;
            _reader = new Thread(ReadReplies) { IsBackground = true, Name = "imcd replies" };
            _reader.Start();
        }

        /// <summary>The imcd at the other end, for messages ("machine 'm1''s imcd").</summary>
        public string Imcd { get; }

        /// <summary>Which kind of imcd greeted this connection.</summary>
        public AgentMode Mode { get; set; }

        /// <summary>Why the connection is no longer usable; null while it is.</summary>
        public string? Broken => _broken;

        public AgentReply Call(AgentRequest request)
        {
            var id = Interlocked.Increment(ref _nextId);
            var answer = new TaskCompletionSource<AgentReply>(TaskCreationOptions.RunContinuationsAsynchronously);
            _pending[id] = answer;
            try
            {
                var frame = AgentProtocol.Encode(new RequestFrame(id, request));
                lock (_sending)
                {
                    try
                    {
                        _stream.Write(frame);
                    }
                    catch (Exception e) when (e is IOException or ObjectDisposedException)
                    {
                        Break($"the connection broke ({e.Message})");
                    }
                }

                if (_broken is { } why)
                {
                    throw Gone(why);
                }

                if (!answer.Task.Wait(s_answerTimeout))
                {
                    throw new DriverException(DriverStatus.Timeout,
                        $"{Imcd} did not answer within {s_answerTimeout.TotalSeconds:0} s: is it stopped? " +
                        "(imcs shows the machines)");
                }

                return answer.Task.Result;
            }
            catch (AggregateException e) when (e.InnerException is DriverException gone)
            {
                throw gone;
            }
            finally
            {
                _pending.TryRemove(id, out _);
            }
        }

        private void ReadReplies()
        {
            try
            {
                while (AgentProtocol.ReadFrame(_stream) is { } json)
                {
                    var frame = AgentProtocol.ReadReply(json);
                    if (_pending.TryGetValue(frame.Id, out var answer))
                    {
                        answer.TrySetResult(frame.Reply);
                    }
                }

                Break("imcd closed the connection");
            }
            catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException or
                                          NotSupportedException or ObjectDisposedException)
            {
                Break($"the connection broke ({e.Message})");
            }

            if (_broken != Closed)
            {
                _ended();
            }
        }

        private void Break(string why)
        {
            _broken ??= why;
            foreach (var answer in _pending.Values)
            {
                answer.TrySetException(Gone(why));
            }
        }

        private const string Closed = "this process closed it";

        private DriverException Gone(string why) => new(DriverStatus.NotInitialized,
            $"{Imcd} went away during this request ({why}): the next request connects again once " +
            "imcd runs; whether this one was made, imcs tells");

        public void Dispose()
        {
            _broken ??= Closed;
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }

            _socket.Dispose();
            if (_reader != Thread.CurrentThread)
            {
                _reader.Join();
            }

            _stream.Dispose();
        }
    }
}
