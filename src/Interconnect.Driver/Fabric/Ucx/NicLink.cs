using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Native = Interconnect.Driver.Interop.Ucx;

namespace Interconnect.Driver.Fabric.Ucx;

/// <summary>
/// The sending half of the emulated NIC toward one machine: this process's connection to that machine's agent, the
/// sequence numbers of what it sent there per logical rail, and the connection's repair (<see cref="NicMessages"/>).
/// </summary>
/// <remarks>
/// <para>A write never throws because the machine is away: when the connection is broken (the peer failed, a send
/// failed or outlived the worker's deadline) the write takes its sequence number and is not sent, and the link
/// connects again, at once and then at growing intervals up to a second. A new connection first says how far the
/// sequences went (a <see cref="NicMessages.Hello"/>: the cluster key, then the sequences, as a flush without an
/// answer), so the target takes the connection for the cluster's and raises its counts for whatever did not arrive
/// before it applies anything newer. Writes while the new connection is being made are not sent either (a reconnect waits for
/// it briefly; only the first connection waits the whole deadline, as the first put of a route always did).</para>
/// <para>Every call takes the worker's lock, as every use of the worker does (<see cref="UcxWorker"/>); the worker is
/// this link's alone, so a send that waits for a stalled target delays writes to that target only. A write's sends are
/// started and left in flight (<see cref="Start"/>, <see cref="TryComplete"/>), so one write to several machines
/// hands its bytes to each before it waits for any: a stalled machine holds the call, not the others' copies.</para>
/// </remarks>
internal sealed unsafe class NicLink
{
    private const long RetryMaxMs = 1000;
    private const long ReconnectWaitMs = 100;

    /// <summary>Sends a link keeps in flight at most (a stalled target fills them; the next write then waits).</summary>
    public const int InFlightMax = 64;

    private readonly UcxWorker _worker;
    private readonly byte[] _address;
    private readonly string _peer;
    private readonly ulong _writer;
    private readonly ulong _tokenBase;
    private readonly ulong[] _sequences = new ulong[NicMessages.Rails];

    // The hello of a connection being made (the cluster key), and the sequences it carries: pinned, UCX reads them until
    // it is sent.
    private readonly NicMessages.HelloHeader[] _hello = GC.AllocateArray<NicMessages.HelloHeader>(1, pinned: true);
    private readonly ulong[] _helloSequences = GC.AllocateArray<ulong>(NicMessages.Rails, pinned: true);
    private nint _helloRequest;
    private long _helloDeadline;

    // Writes in flight: a slot's request (0: free), the pinned header UCX reads until the send ends, and when the send
    // is given up. Touched under the worker's lock only.
    private readonly nint[] _inFlight = new nint[InFlightMax];
    private readonly long[] _inFlightDeadline = new long[InFlightMax];
    private readonly long[] _inFlightStart = new long[InFlightMax];
    private readonly NicMessages.WriteHeader[] _inFlightHeaders = GC.AllocateArray<NicMessages.WriteHeader>(InFlightMax, pinned: true);
    private int _inFlightCount;

    private UcxEndpoint? _endpoint;
    private State _state = State.Down;
    private bool _everUp;
    private long _retryAtMs;
    private long _retryDelayMs;
    private ulong _nextToken;
    private ulong _flushed;
    private long _numbered;        // writes numbered through this link so far (sent or not)
    private long _numberedAtToken; // _numbered when the flush _nextToken was sent
    private long _confirmed;       // writes the target confirmed: a flush sent after them was answered
    private long _lost;
    private long _reconnects;

    // The question under way (a read or a lock-word operation; one at a time, under the worker's lock): its token, where
    // its answer's bytes go, and its answer.
    private ulong _nextRead;
    private ulong _readToken;
    private byte* _readInto;
    private int _readLength;
    private int _readAnswer; // -1 while none came; 0 the bytes came; otherwise the Refusal

    /// <param name="worker">This link's own worker (<see cref="UcxFabric"/>).</param>
    /// <param name="address">The target agent's worker address.</param>
    /// <param name="peer">The target's name in messages.</param>
    /// <param name="writer">This process's writer id: the same toward every machine, unique in the cluster.</param>
    /// <param name="index">This link's number in the process: answers to its flushes carry it in their token.</param>
    /// <param name="clusterKey">The cluster key every connection's hello presents (<see cref="NicMessages.KeyLength"/> bytes).</param>
    public NicLink(UcxWorker worker, byte[] address, string peer, ulong writer, int index, ReadOnlySpan<byte> clusterKey)
    {
        NicMessages.CheckKey(clusterKey, nameof(clusterKey));

        _worker = worker;
        _address = address;
        _peer = peer;
        _writer = writer;
        _tokenBase = (ulong)index << 40;
        _hello[0].Writer = writer;
        clusterKey.CopyTo(new Span<byte>(Unsafe.AsPointer(ref _hello[0]), sizeof(NicMessages.HelloHeader))[sizeof(ulong)..]);
    }

    private enum State
    {
        Up,
        Connecting,
        Down,
    }

    /// <summary>The token's high bits: which link a <see cref="NicMessages.Flushed"/> answers.</summary>
    public static int IndexOf(ulong token) => (int)(token >> 40);

    /// <summary>This link's own worker.</summary>
    public UcxWorker Worker => _worker;

    /// <summary>How long a flush of this link waits for the target by default (the worker's deadline).</summary>
    public TimeSpan Timeout => _worker.Timeout;

    /// <summary>Writes given a number but not sent (the connection was down): the target's count rose, or will.</summary>
    public long Lost => Volatile.Read(ref _lost);

    /// <summary>Connections made again after one broke.</summary>
    public long Reconnects => Volatile.Read(ref _reconnects);

    /// <summary>
    /// Starts sending a write of the <paramref name="length"/> bytes at <paramref name="data"/> to
    /// <paramref name="offset"/> of memory <paramref name="memory"/> (on <paramref name="rail"/>; the writer's machine in
    /// <paramref name="epoch"/>), in messages of at most <see cref="NicMessages.MaxPayload"/> bytes split at word
    /// boundaries, after every earlier write through this link. True when a send of this link is still in flight: the
    /// bytes must stay pinned and unchanged until <see cref="TryComplete"/> says none is. Never throws because the target
    /// is away; waits only when <see cref="InFlightMax"/> sends are in flight already (for the oldest, up to the worker's
    /// deadline, after which the connection is given up).
    /// </summary>
    public bool Start(ulong memory, int rail, long epoch, long offset, byte* data, int length)
    {
        lock (_worker.Lock)
        {
            var done = 0;
            do
            {
                // Each piece but the last ends on a word boundary of the memory: no word is split between messages.
                var size = length - done;
                if (size > NicMessages.MaxPayload)
                {
                    size = (int)(((offset + done + NicMessages.MaxPayload) & ~7L) - (offset + done));
                }

                // Ready first: a new connection's hello carries the numbers sent before this write, not this one's.
                var slot = Ready() ? FreeSlot() : -1;
                var header = new NicMessages.WriteHeader
                {
                    Writer = _writer,
                    Sequence = ++_sequences[rail],
                    Memory = memory,
                    Offset = (ulong)(offset + done),
                    Epoch = epoch,
                    Rail = rail,
                };
                _numbered++;
                if (slot < 0)
                {
                    _lost++; // not sent: the gap in the sequence raises the target's count when the link is back
                }
                else
                {
                    StartWrite(slot, header, data + done, size);
                }

                done += size;
            }
            while (done < length);

            // This is also where the targets' answers (a refusal, counted on this machine's rail) are taken in while a
            // process only writes.
            _ = _worker.Progress();
            Reap();
            return _inFlightCount > 0;
        }
    }

    /// <summary>
    /// One step toward the end of every send in flight on this link: progresses its worker once and frees what was
    /// sent; gives the connection up when the oldest send outlived the worker's deadline (what it held is lost, and
    /// counted by the target when the link is back). True once nothing is in flight. Does not wait for the link's lock:
    /// false while another thread holds it.
    /// </summary>
    public bool TryComplete()
    {
        if (!_worker.Lock.TryEnter())
        {
            return false;
        }

        try
        {
            if (_inFlightCount == 0)
            {
                return true;
            }

            _ = _worker.Progress();
            Reap();
            return _inFlightCount == 0;
        }
        finally
        {
            _worker.Lock.Exit();
        }
    }

    /// <summary>
    /// Returns true once the target has applied (or counted as lost) every write sent through this link so far: it
    /// answered a flush sent after them. False when the answer did not come within <paramref name="timeout"/>, or the
    /// machine could not be reached again at once (a couple of tries): its counts rise for whatever was lost when this
    /// link next reaches it, and if it never does, its hosts' leave raises them everywhere. So a lock release or an
    /// exit does not wait for a machine that is away.
    /// </summary>
    public bool Flush(TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + UcxWorker.ToStopwatchTicks(timeout);
        ulong token = 0;
        var tries = 0;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            lock (_worker.Lock)
            {
                if (_confirmed == _numbered)
                {
                    return true; // nothing written since the last answered flush (or ever): a machine that is away
                                 // and no longer written to delays no flush
                }

                if (token != 0 && _flushed >= token)
                {
                    return true;
                }

                if (token == 0 || _state != State.Up || _endpoint!.IsBroken)
                {
                    // (Again) on a connection made anew: the answer to a flush sent on a broken one may never come.
                    token = 0;
                    if (_state != State.Up)
                    {
                        if (tries++ == 2)
                        {
                            return false;
                        }

                        _retryAtMs = 0; // try now, not when the writes' back-off says
                        if (_state == State.Connecting)
                        {
                            _ = AwaitHello(ReconnectWaitMs); // a connection being made: give it the moment a write would
                        }
                    }

                    if (Ready())
                    {
                        token = _tokenBase | ++_nextToken;
                        _numberedAtToken = _numbered;
                        var header = new NicMessages.FlushHeader { Writer = _writer, Token = token };
                        Send(ready: true, NicMessages.Flush, new ReadOnlySpan<byte>(&header, sizeof(NicMessages.FlushHeader)),
                            MemoryMarshal.AsBytes(_sequences.AsSpan()));
                    }
                }

                if (token != 0)
                {
                    _ = _worker.Progress();
                    if (_flushed >= token)
                    {
                        return true;
                    }
                }
            }

            Thread.Yield();
        }

        return false;
    }

    /// <summary>
    /// Reads <paramref name="length"/> bytes (at most <see cref="NicMessages.MaxPayload"/>) at <paramref name="offset"/>
    /// of memory <paramref name="memory"/> into <paramref name="destination"/>, as the target's agent has them now (the
    /// reader's machine in <paramref name="epoch"/>). Throws <see cref="UcxException"/> when the target cannot be reached
    /// or does not answer within the worker's deadline, and <see cref="DriverException"/> (McError) when it refuses:
    /// the memory was withdrawn meanwhile, or the reader's epoch ended.
    /// </summary>
    public void Read(ulong memory, long epoch, long offset, byte* destination, int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, NicMessages.MaxPayload);
        lock (_worker.Lock)
        {
            var header = new NicMessages.ReadHeader
            {
                Token = NextAskToken(),
                Writer = _writer,
                Memory = memory,
                Offset = (ulong)offset,
                Length = (ulong)length,
                Epoch = epoch,
            };
            Ask(NicMessages.Read, (byte*)&header, sizeof(NicMessages.ReadHeader), header.Token, [], destination, length,
                "read its copy of a region");
        }
    }

    /// <summary>
    /// Applies a lock-word operation at the target's lock arena and waits for its answer: a compare-and-swap's old word
    /// (into <paramref name="answer"/>, one word), <paramref name="count"/> words read (into <paramref name="answer"/>),
    /// or nothing (a write of <paramref name="written"/>). Throws as <see cref="Read"/> does; a compare-and-swap whose
    /// answer did not come may have been applied.
    /// </summary>
    public void Words(NicMessages.WordOp op, long epoch, int index, int count, long expected, long desired,
        ReadOnlySpan<long> written, Span<long> answer)
    {
        lock (_worker.Lock)
        {
            var header = new NicMessages.WordsHeader
            {
                Token = NextAskToken(),
                Writer = _writer,
                Epoch = epoch,
                Expected = expected,
                Desired = desired,
                Index = index,
                Count = count,
                Op = (int)op,
            };
            fixed (long* into = answer)
            {
                Ask(NicMessages.Words, (byte*)&header, sizeof(NicMessages.WordsHeader), header.Token,
                    MemoryMarshal.AsBytes(written), (byte*)into, answer.Length * sizeof(long), "reach its lock words");
            }
        }
    }

    /// <summary>A token for a question to the target (a read or a lock-word operation), one at a time: flushes count theirs.</summary>
    private ulong NextAskToken() => _tokenBase | (1UL << 39) | ++_nextRead;

    /// <summary>
    /// Sends message <paramref name="id"/> and waits for its <see cref="NicMessages.ReadData"/> answer, which must
    /// carry <paramref name="length"/> bytes (copied to <paramref name="into"/>) or a refusal. A link that is down is
    /// connected again at once: the caller waits for an answer anyway. Under the worker's lock.
    /// </summary>
    private void Ask(uint id, byte* header, int headerLength, ulong token, ReadOnlySpan<byte> data, byte* into, int length,
        string what)
    {
        if (_state == State.Down)
        {
            _retryAtMs = 0; // not when the writes' back-off says: this one waits for the answer anyway
        }

        if (!Ready() && !(_state == State.Connecting && AwaitHello((long)_worker.Timeout.TotalMilliseconds)))
        {
            throw new UcxException(DriverStatus.Timeout, 0, $"{_peer} could not be reached to {what}");
        }

        _readToken = token;
        _readInto = into;
        _readLength = length;
        _readAnswer = -1;
        try
        {
            _endpoint!.Send(id, new ReadOnlySpan<byte>(header, headerLength), data);
            var deadline = Stopwatch.GetTimestamp() + UcxWorker.ToStopwatchTicks(_worker.Timeout);
            while (_readAnswer < 0)
            {
                if (_endpoint.IsBroken || Stopwatch.GetTimestamp() > deadline)
                {
                    // The connection goes with it (below): an answer that comes later must not land.
                    throw new UcxException(DriverStatus.Timeout, 0,
                        $"{_peer} did not answer within {_worker.Timeout.TotalSeconds:0.#} s to {what}");
                }

                if (_worker.Progress() == 0)
                {
                    Thread.Yield();
                }
            }
        }
        catch (UcxException)
        {
            Break();
            throw;
        }
        finally
        {
            _readToken = 0; // from here on, an answer is dropped
            _readInto = null;
        }

        if (_readAnswer != 0)
        {
            var refusal = (NicMessages.Refusal)_readAnswer;
            var why = refusal switch
            {
                NicMessages.Refusal.StaleEpoch => "this machine's epoch has ended there (it was fenced or joined again " +
                                                  "since this process opened the cluster): open the cluster again",
                NicMessages.Refusal.OutOfBounds => "what was asked is not inside it (the region or lock set changed meanwhile)",
                NicMessages.Refusal.Unauthenticated => "this process's connection did not present the cluster's key (the key " +
                                                       "its imcd gave it is not the one that machine's imcd holds)",
                _ => "it was withdrawn meanwhile, or is not published there (its imcd restarted)",
            };
            throw new DriverException(DriverStatus.McError, $"{_peer} refused to {what} ({refusal}): {why}");
        }
    }

    /// <summary>Called by the process's handler of <see cref="NicMessages.ReadData"/>, inside progress (under the lock).</summary>
    internal void OnReadData(ulong token, int refusal, byte* data, long length)
    {
        if (token != _readToken || _readAnswer >= 0)
        {
            return; // not the read under way (one given up on, on a connection since closed)
        }

        if (refusal == 0 && length != _readLength)
        {
            refusal = (int)NicMessages.Refusal.OutOfBounds; // not what was asked: taken for a refusal
        }

        if (refusal == 0)
        {
            Buffer.MemoryCopy(data, _readInto, _readLength, _readLength);
        }

        _readAnswer = refusal;
    }

    /// <summary>Called by the process's handler of <see cref="NicMessages.Flushed"/>, inside progress (under the lock).</summary>
    internal void OnFlushed(ulong token)
    {
        if (token > _flushed)
        {
            _flushed = token;
            if (token == (_tokenBase | _nextToken))
            {
                _confirmed = _numberedAtToken; // the latest flush: everything numbered before it is settled
            }
        }
    }

    /// <summary>Closes the connection (flushing is the caller's business).</summary>
    public void Close()
    {
        lock (_worker.Lock)
        {
            DropHello();
            DropInFlight("the link was closed");
            _endpoint?.Dispose();
            _endpoint = null;
            _state = State.Down;
        }
    }

    /// <summary>Sends one message if the link was <paramref name="ready"/>; otherwise (or if the send fails) it is lost, and counted.</summary>
    private void Send(bool ready, uint id, ReadOnlySpan<byte> header, ReadOnlySpan<byte> data)
    {
        if (!ready)
        {
            _lost++;
            return;
        }

        try
        {
            _endpoint!.Send(id, header, data);
        }
        catch (UcxException)
        {
            _lost++;
            Break();
        }
    }

    /// <summary>True when the link is up; moves the connection along otherwise (reconnecting when it is time).</summary>
    private bool Ready()
    {
        switch (_state)
        {
            case State.Up:
                if (!_endpoint!.IsBroken)
                {
                    return true;
                }

                Break();
                return Ready();

            case State.Connecting:
                return AwaitHello(0);

            default:
                if (Environment.TickCount64 < _retryAtMs)
                {
                    return false;
                }

                Connect();
                return _state == State.Connecting && AwaitHello(_everUp ? ReconnectWaitMs : (long)_worker.Timeout.TotalMilliseconds);
        }
    }

    private void Connect()
    {
        DropHello();
        DropInFlight("the connection was made anew");
        _endpoint?.Dispose();
        _endpoint = null;
        try
        {
            _endpoint = _worker.Connect(_address, _peer);
            _sequences.CopyTo(_helloSequences, 0);
            fixed (NicMessages.HelloHeader* hello = _hello)
            fixed (ulong* sequences = _helloSequences)
            {
                // Both arrays are pinned for good: UCX may read them after this returns, until the hello is sent. The
                // hello (writer and key) is written once, in the constructor.
                _helloRequest = _endpoint.StartSend(NicMessages.Hello, (byte*)hello, sizeof(NicMessages.HelloHeader),
                    (byte*)sequences, _helloSequences.Length * sizeof(ulong));
            }

            _helloDeadline = Environment.TickCount64 + (long)_worker.Timeout.TotalMilliseconds;
            _state = State.Connecting;
            if (_everUp)
            {
                _reconnects++;
            }
        }
        catch (UcxException)
        {
            Break();
        }
    }

    /// <summary>Progresses the hello for at most <paramref name="waitMs"/>: true once it is sent (the link is up).</summary>
    private bool AwaitHello(long waitMs)
    {
        var until = Environment.TickCount64 + waitMs;
        while (true)
        {
            var status = _helloRequest == 0 ? Native.Ok : _endpoint!.Poll(_helloRequest);
            if (status == Native.Ok)
            {
                _helloRequest = 0;
                _state = State.Up;
                _everUp = true;
                _retryDelayMs = 0;
                return true;
            }

            if (status != Native.InProgress)
            {
                _helloRequest = 0; // freed by Poll
                Break();
                return false;
            }

            var now = Environment.TickCount64;
            if (now > _helloDeadline)
            {
                Break();
                return false;
            }

            if (now >= until)
            {
                return false;
            }

            Thread.SpinWait(20);
        }
    }

    /// <summary>The connection is gone: drop it, and try again after a delay that grows to a second.</summary>
    private void Break()
    {
        DropHello();
        DropInFlight("the connection was given up");
        _endpoint?.Dispose();
        _endpoint = null;
        _state = State.Down;
        _retryAtMs = Environment.TickCount64 + _retryDelayMs;
        _retryDelayMs = Math.Clamp(_retryDelayMs * 2, 50, RetryMaxMs);
    }

    private void DropHello()
    {
        if (_helloRequest != 0)
        {
            _endpoint?.Abandon(_helloRequest, "its first message was given up");
            _helloRequest = 0;
        }
    }

    /// <summary>A free slot for a send, once one is free (the oldest sends ended); -1 when the link broke meanwhile.</summary>
    private int FreeSlot()
    {
        while (_inFlightCount == InFlightMax)
        {
            _ = _worker.Progress();
            Reap();
            if (_state != State.Up)
            {
                return -1;
            }
        }

        for (var slot = 0; ; slot++)
        {
            if (_inFlight[slot] == 0)
            {
                return slot;
            }
        }
    }

    /// <summary>Starts one message of a write from <paramref name="slot"/>; a send that ends at once leaves the slot free.</summary>
    private void StartWrite(int slot, in NicMessages.WriteHeader header, byte* data, int size)
    {
        _inFlightHeaders[slot] = header;
        var pinned = (byte*)Unsafe.AsPointer(ref _inFlightHeaders[slot]); // pinned for good
        nint request;
        try
        {
            request = _endpoint!.StartSend(NicMessages.Write, pinned, sizeof(NicMessages.WriteHeader), data, size);
        }
        catch (UcxException)
        {
            _lost++;
            Break();
            return;
        }

        if (request == 0)
        {
            _worker.CountPut(0);
            return;
        }

        var now = Stopwatch.GetTimestamp();
        _inFlight[slot] = request;
        _inFlightStart[slot] = now;
        _inFlightDeadline[slot] = now + _worker.TimeoutTicks;
        _inFlightCount++;
    }

    /// <summary>Frees the slots whose sends ended; gives the connection up when one failed or outlived its deadline.</summary>
    private void Reap()
    {
        if (_inFlightCount == 0)
        {
            return;
        }

        var now = Stopwatch.GetTimestamp();
        for (var slot = 0; slot < InFlightMax; slot++)
        {
            var request = _inFlight[slot];
            if (request == 0)
            {
                continue;
            }

            var status = _endpoint!.Check(request);
            if (status == Native.InProgress)
            {
                if (now > _inFlightDeadline[slot])
                {
                    Break(); // abandons every send in flight
                    return;
                }

                continue;
            }

            _inFlight[slot] = 0; // freed by Check
            _inFlightCount--;
            if (status != Native.Ok)
            {
                _lost++;
                Break();
                return;
            }

            _worker.CountPut(Math.Max(1, now - _inFlightStart[slot]));
        }
    }

    /// <summary>Gives up every send in flight: the endpoint is closed at once, so none reads its bytes any more.</summary>
    private void DropInFlight(string why)
    {
        if (_inFlightCount == 0)
        {
            return;
        }

        for (var slot = 0; slot < InFlightMax; slot++)
        {
            if (_inFlight[slot] != 0)
            {
                _endpoint!.Abandon(_inFlight[slot], why); // the first closes the endpoint (forcibly); each frees its request
                _inFlight[slot] = 0;
                _lost++;
            }
        }

        _inFlightCount = 0;
    }
}
