using System.Collections.Concurrent;
using System.Net.Sockets;

namespace Interconnect.Driver.Agent;

/// <summary>
/// A process's connection to its machine's imcd (<see cref="AgentProtocol"/>): <see cref="Call{TReply}"/> sends a
/// request and waits for its reply, from any thread, several at once; a thread of its own reads the replies. When
/// imcd goes (it stopped, or closed the connection), every call under way and every later one fails with
/// <see cref="DriverStatus.NotInitialized"/>: the process's registrations went with the connection.
/// </summary>
internal sealed class AgentClient : IDisposable
{
    /// <summary>
    /// How long a call waits for imcd's answer. imcd bounds every request it serves (etcd's calls, the waits for other
    /// machines' acknowledgements), so this is reached only when imcd itself is stopped or stuck.
    /// </summary>
    private static readonly TimeSpan s_answerTimeout = TimeSpan.FromSeconds(60);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly string _machine;
    private readonly Lock _sending = new();
    private readonly ConcurrentDictionary<long, TaskCompletionSource<AgentReply>> _pending = new();
    private readonly Thread _reader;
    private long _nextId;
    private volatile string? _broken; // why the connection is no longer usable

    private AgentClient(Socket socket, string machine)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _machine = machine;
        _reader = new Thread(ReadReplies) { IsBackground = true, Name = "imcd replies" };
        _reader.Start();
    }

    /// <summary>Connects to the imcd serving <paramref name="path"/> and greets it; throws NotInitialized when none does.</summary>
    public static AgentClient Connect(string path, string machine, string cluster)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new DriverException(DriverStatus.NotInitialized,
                $"machine '{machine}''s imcd does not serve cluster '{cluster}' here ({path}: {e.Message}): start imcd on this " +
                $"machine (imcd --cluster {cluster} --machine {machine}) with the same IMC_ROOT first");
        }

        var client = new AgentClient(socket, machine);
        try
        {
            var welcome = client.Call<WelcomeReply>(new HelloRequest(AgentProtocol.Version, machine, cluster));
            if (welcome.Version != AgentProtocol.Version)
            {
                throw new DriverException(DriverStatus.NotInitialized,
                    $"machine '{machine}''s imcd speaks protocol {welcome.Version}, this program {AgentProtocol.Version}: " +
                    "run the same release of both");
            }

            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Sends <paramref name="request"/> and returns imcd's reply; a failure imcd reports is thrown as it was raised there.</summary>
    public TReply Call<TReply>(AgentRequest request) where TReply : AgentReply
    {
        var id = Interlocked.Increment(ref _nextId);
        var answer = new TaskCompletionSource<AgentReply>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        try
        {
            var frame = AgentProtocol.Encode(new RequestFrame(id, request));
            lock (_sending)
            {
                if (_broken is null)
                {
                    try
                    {
                        _stream.Write(frame);
                    }
                    catch (IOException e)
                    {
                        Break($"the connection broke ({e.Message})");
                    }
                }
            }

            if (_broken is { } why)
            {
                throw Gone(why);
            }

            if (!answer.Task.Wait(s_answerTimeout))
            {
                throw new DriverException(DriverStatus.Timeout,
                    $"machine '{_machine}''s imcd did not answer within {s_answerTimeout.TotalSeconds:0} s: is it stopped? " +
                    "(imcs shows the machines)");
            }

            return answer.Task.Result switch
            {
                TReply reply => reply,
                FailedReply failed => throw new DriverException(failed.Status, failed.Message),
                var other => throw new DriverException(DriverStatus.McError,
                    $"machine '{_machine}''s imcd answered {other.GetType().Name} to {request.GetType().Name}: run the same release of both"),
            };
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

    /// <summary>Sends a request whose reply carries nothing.</summary>
    public void Call(AgentRequest request) => _ = Call<DoneReply>(request);

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
        catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException or ObjectDisposedException)
        {
            Break($"the connection broke ({e.Message})");
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

    private DriverException Gone(string why) => new(DriverStatus.NotInitialized,
        $"machine '{_machine}''s imcd is gone for this process: {why}; its registrations went with it: restart the program " +
        "once imcd runs");

    public void Dispose()
    {
        _broken ??= "this process closed it";
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        _socket.Dispose();
        _stream.Dispose();
        if (_reader != Thread.CurrentThread)
        {
            _reader.Join();
        }
    }
}
