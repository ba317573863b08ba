using System.Net;
using System.Net.Sockets;

namespace Interconnect.Testing;

/// <summary>
/// A TCP proxy on loopback in front of one server (etcd's client port), for breaking a client's connections on purpose:
/// it forwards bytes both ways, counts the connections it accepted, and on demand cuts them all now
/// (<see cref="CutAll"/>), cuts the next connection on which the server starts an answer
/// (<see cref="CutAtNextAnswer"/>), or closes new connections as soon as they come (<see cref="Refusing"/>). A cut
/// resets both sides, as a broken network would. Disposing it stops the proxy and ends every connection.
/// </summary>
public sealed class TcpProxy : IDisposable
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(30);

    private readonly IPEndPoint _server;
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Connection> _connections = [];
    private readonly Task _accepting;
    private int _accepted;
    private int _cutAtNextAnswer;
    private bool _refusing;

    /// <summary>Listens on 127.0.0.1 at a port of the system's choosing, forwarding to 127.0.0.1:<paramref name="serverPort"/>.</summary>
    public TcpProxy(int serverPort)
    {
        _server = new IPEndPoint(IPAddress.Loopback, serverPort);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen();
        Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndPoint!).Port}";
        _accepting = AcceptAsync();
    }

    /// <summary>The proxy's URL for an HTTP (gRPC) client, <c>http://127.0.0.1:PORT</c>.</summary>
    public string Url { get; }

    /// <summary>How many connections the proxy accepted so far, refused ones included.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>While true, a new connection is closed as soon as it is accepted: the server is out of reach.</summary>
    public bool Refusing
    {
        get => Volatile.Read(ref _refusing); // read by the accepting task
        set => Volatile.Write(ref _refusing, value);
    }

    /// <summary>
    /// Cuts the next connection on which the server starts an answer, before any byte of that answer reaches the client,
    /// once. The client's request has then reached the server and been acted on, and the client never learns how.
    /// </summary>
    /// <remarks>
    /// "The next bytes from the server" would not do: etcd's gRPC server also sends HTTP/2 control frames of its own
    /// accord, a PING as soon as a request's data arrives (gRPC's bandwidth estimate) and WINDOW_UPDATEs, ahead of the
    /// answer; a cut there races the server's handling of the request. So the server's bytes are read as HTTP/2 frames
    /// (RFC 9113 §4.1: a 9-byte header giving the payload's length and the frame's type) and the cut comes at the first
    /// HEADERS or DATA frame: the answer.
    /// </remarks>
    public void CutAtNextAnswer() => Interlocked.Exchange(ref _cutAtNextAnswer, 1);

    /// <summary>Cuts every connection open now.</summary>
    public void CutAll()
    {
        lock (_connections)
        {
            foreach (var connection in _connections)
            {
                connection.Cut();
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        try
        {
            // No connection is added once accepting has ended; then each is cut and its forwarding awaited.
            if (!_accepting.Wait(s_deadline))
            {
                throw new InvalidOperationException($"the proxy at {Url} did not stop accepting within {s_deadline.TotalSeconds} s");
            }

            CutAll();
            if (!Task.WaitAll([.. _connections.Select(c => c.Forwarding)], s_deadline))
            {
                throw new InvalidOperationException($"the proxy's connections did not end within {s_deadline.TotalSeconds} s");
            }
        }
        finally
        {
            _stop.Dispose();
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return; // disposed
            }

            Interlocked.Increment(ref _accepted);
            lock (_connections)
            {
                // Refusing read under the lock CutAll takes: a connection accepted while a test sets Refusing and
                // then cuts is either refused here or added before the cut, never added after it and left open.
                if (Refusing)
                {
                    Connection.Reset(client);
                    continue;
                }

                var connection = new Connection(this, client);
                _connections.Add(connection);
                connection.Start(); // under the lock: a CutAll sees it with its forwarding task
            }
        }
    }

    /// <summary>One client's connection and the proxy's own to the server, forwarded both ways until either ends or is cut.</summary>
    private sealed class Connection(TcpProxy proxy, Socket client)
    {
        private readonly Socket _server = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly Http2Frames _answers = new();

        public Task Forwarding { get; private set; } = Task.CompletedTask;

        public void Start() => Forwarding = ForwardAsync();

        /// <summary>Resets both sides: a pending read on either ends, and so do both directions.</summary>
        public void Cut()
        {
            Reset(client);
            Reset(_server);
        }

        public static void Reset(Socket socket)
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0); // closing sends RST, as a broken network would
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                // Closed already.
            }

            socket.Dispose();
        }

        private async Task ForwardAsync()
        {
            try
            {
                using var connecting = CancellationTokenSource.CreateLinkedTokenSource(proxy._stop.Token);
                connecting.CancelAfter(s_deadline);
                await _server.ConnectAsync(proxy._server, connecting.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                Cut(); // the server is not there, or the proxy stopped
                return;
            }

            var toServer = PumpAsync(client, _server, answers: false);
            var toClient = PumpAsync(_server, client, answers: true);
            _ = await Task.WhenAny(toServer, toClient).ConfigureAwait(false);
            Cut(); // one direction ended (or was cut): end the other
            await Task.WhenAll(toServer, toClient).ConfigureAwait(false);
        }

        private async Task PumpAsync(Socket from, Socket to, bool answers)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    var length = await from.ReceiveAsync(buffer, SocketFlags.None, proxy._stop.Token).ConfigureAwait(false);
                    if (length == 0)
                    {
                        return;
                    }

                    // Every chunk from the server goes through the frame reader, armed or not, so it keeps its place.
                    if (answers && _answers.StartsAnswer(buffer.AsSpan(0, length)) &&
                        Interlocked.Exchange(ref proxy._cutAtNextAnswer, 0) == 1)
                    {
                        return; // cut: ForwardAsync resets both sides
                    }

                    var data = buffer.AsMemory(0, length);
                    while (!data.IsEmpty)
                    {
                        data = data[await to.SendAsync(data, SocketFlags.None, proxy._stop.Token).ConfigureAwait(false)..];
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                // Cut, reset by the other side, or the proxy stopped.
            }
        }
    }

    /// <summary>Follows the HTTP/2 frames of a server's byte stream, chunk by chunk, to tell where an answer starts.</summary>
    private sealed class Http2Frames
    {
        private const int HeaderLength = 9;
        private const byte Data = 0x0;
        private const byte Headers = 0x1;
        private readonly byte[] _header = new byte[HeaderLength];
        private int _headerFilled;
        private int _payloadLeft;

        /// <summary>Whether a HEADERS or DATA frame's header ends in <paramref name="chunk"/>, the next bytes of the stream.</summary>
        public bool StartsAnswer(ReadOnlySpan<byte> chunk)
        {
            var answer = false;
            while (!chunk.IsEmpty)
            {
                if (_payloadLeft > 0)
                {
                    var skipped = Math.Min(_payloadLeft, chunk.Length);
                    _payloadLeft -= skipped;
                    chunk = chunk[skipped..];
                    continue;
                }

                var taken = Math.Min(HeaderLength - _headerFilled, chunk.Length);
                chunk[..taken].CopyTo(_header.AsSpan(_headerFilled));
                _headerFilled += taken;
                chunk = chunk[taken..];
                if (_headerFilled == HeaderLength)
                {
                    _headerFilled = 0;
                    _payloadLeft = (_header[0] << 16) | (_header[1] << 8) | _header[2];
                    answer |= _header[3] is Data or Headers;
                }
            }

            return answer;
        }
    }
}
