using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Native = Interconnect.Driver.Interop.Ucx;

namespace Interconnect.Driver.Fabric.Ucx;

/// <summary>
/// The receiving half of the emulated NIC, in a machine's agent: it applies the writes other machines' processes send
/// as active messages (<see cref="NicMessages"/>) into the receive memory the agent published, after checking that the
/// memory is published now, that the write fits in it, and that nothing from that writer went missing before it (a
/// gap raises the rail's error count first), and only from a connection that presented the cluster key in its hello
/// (<see cref="NicMessages.Hello"/>). Everything here runs on the thread that progresses the agent's worker:
/// UCX calls the handlers from inside progress, and <see cref="Publish"/>, <see cref="Withdraw"/> and
/// <see cref="Collect"/> are called there too, so no lock guards the tables.
/// </summary>
/// <remarks>
/// <para><b>Connections.</b> A sender's messages reach a handler with the endpoint UCX made on this worker for that
/// sender's connection (the reply endpoint: every sender of this protocol asks for it). A hello with the cluster key
/// records that endpoint with the sender's writer id (64 random bits, in every message's header); every later message
/// is applied only if it came on a recorded endpoint and names that writer. So the key is checked once per connection,
/// and a message costs two compares with the last connection seen (a table lookup when the sender changes).</para>
/// <para><b>A reused handle.</b> UCX 1.13 destroys an endpoint it made for a peer as soon as the peer fails or closes,
/// without telling the application, even with an error handler installed (<c>ucp_ep_modify_nb</c>: an endpoint the
/// application did not create is "not exposed to a user" and is destroyed, debug log "destroy endpoint which is not
/// exposed to a user due to peer failure"), and its allocator hands the same address to the next connection. So the
/// endpoint alone cannot name a connection: the writer id binds it. A message on a recorded endpoint that names
/// another writer (a new connection on a reused handle) is refused and the record dropped, so a stranger gets one
/// guess of 64 random bits per reuse, and the legitimate writer, had it been that connection, says hello again on its
/// next connection anyway.</para>
/// </remarks>
internal sealed unsafe class NicReceiver : IDisposable
{
    private const int TrimAbove = 4096;
    private const long IdleWriterMs = 60_000;

    private readonly UcxWorker _worker;
    private readonly int _rails;
    private readonly Action<int> _raise;
    private readonly ulong _idBase = (ulong)Random.Shared.NextInt64(1, uint.MaxValue) << 32;
    private readonly Dictionary<ulong, Memory> _memories = [];
    private readonly Dictionary<(ulong Writer, int Rail), Seen> _writers = [];
    private readonly List<(nint Request, nint Buffer)> _replies = [];
    private readonly byte[] _key;
    private readonly Dictionary<nint, ulong> _connections = []; // reply endpoints whose hello presented the key: their writer
    private nint _lastConnection;                              // the authenticated endpoint the last message came on
    private ulong _lastWriter;                                 // and its writer
    private HashSet<long> _endedEpochs = []; // replaced whole by the agent's thread, read by the progress thread
    private long* _arena; // the lock arena's words, once published
    private int _arenaWords;
    private GCHandle _self;
    private ulong _nextId;
    private long _lastTrimMs;
    private long _applied;
    private long _refused;
    private long _raised;
    private long _malformed;
    private long _reads;
    private long _words;
    private long _unauthenticated;

    /// <param name="worker">The agent's worker, whose progress thread calls everything here.</param>
    /// <param name="rails">The cluster's logical rails.</param>
    /// <param name="raise">Raises this machine's error count of a logical rail (a write toward it may have been lost).</param>
    /// <param name="clusterKey">The cluster key (<see cref="NicMessages.KeyLength"/> bytes) a connection's hello must present.</param>
    public NicReceiver(UcxWorker worker, int rails, Action<int> raise, ReadOnlySpan<byte> clusterKey)
    {
        NicMessages.CheckKey(clusterKey, nameof(clusterKey));

        _key = clusterKey.ToArray();
        _worker = worker;
        _rails = rails;
        _raise = raise;
        _self = GCHandle.Alloc(this);
        var self = GCHandle.ToIntPtr(_self);
        worker.SetMessageHandler(NicMessages.Write, &OnWrite, self);
        worker.SetMessageHandler(NicMessages.Flush, &OnFlush, self);
        worker.SetMessageHandler(NicMessages.Read, &OnRead, self);
        worker.SetMessageHandler(NicMessages.Words, &OnWords, self);
        worker.SetMessageHandler(NicMessages.Hello, &OnHello, self);
    }

    /// <summary>Writes applied.</summary>
    public long Applied => Volatile.Read(ref _applied);

    /// <summary>Writes, reads and lock-word operations refused (withdrawn or unknown memory, outside it, wrong rail, stale).</summary>
    public long Refused => Volatile.Read(ref _refused);

    /// <summary>Error counts raised for writes that went missing.</summary>
    public long Raised => Volatile.Read(ref _raised);

    /// <summary>Reads answered with the bytes.</summary>
    public long Reads => Volatile.Read(ref _reads);

    /// <summary>Lock-word operations applied.</summary>
    public long Words => Volatile.Read(ref _words);

    /// <summary>
    /// Messages refused because their connection has not presented the cluster key (hellos with another key included):
    /// nothing of them was applied or answered with data.
    /// </summary>
    public long Unauthenticated => Volatile.Read(ref _unauthenticated);

    /// <summary>
    /// Connections recorded as having presented the cluster key (one may have ended unseen: UCX does not say). Progress
    /// thread (or once it stopped).
    /// </summary>
    public int Connections => _connections.Count;

    /// <summary>Messages that were not what any sender of this protocol sends (ignored).</summary>
    public long Malformed => Volatile.Read(ref _malformed);

    /// <summary>
    /// Publishes <paramref name="length"/> bytes at <paramref name="address"/> (receive memory of a region on
    /// <paramref name="rail"/>) for writes from other machines; returns the id writers name it by. Progress thread.
    /// </summary>
    public ulong Publish(nint address, long length, int rail)
    {
        var id = _idBase | ++_nextId;
        _memories[id] = new Memory(address, length, rail);
        return id;
    }

    /// <summary>
    /// The machine epochs that ended (their machine was fenced, left, or joined again) as the agent last read etcd: a
    /// write of one of them is refused. Any thread; the set must not change after this call.
    /// </summary>
    public void SetEndedEpochs(HashSet<long> ended) => Volatile.Write(ref _endedEpochs, ended);

    /// <summary>
    /// Publishes the lock arena, <paramref name="words"/> 8-byte words at <paramref name="address"/>, to
    /// <see cref="NicMessages.Words"/> operations (until disposed). Progress thread.
    /// </summary>
    public void PublishArena(nint address, int words)
    {
        _arena = (long*)address;
        _arenaWords = words;
    }

    /// <summary>Withdraws memory <paramref name="id"/>: a write that names it from now on is refused. Progress thread.</summary>
    public void Withdraw(ulong id) => _memories.Remove(id);

    /// <summary>Frees the answers that UCX finished sending. Progress thread, after progress.</summary>
    public void Collect()
    {
        for (var i = _replies.Count - 1; i >= 0; i--)
        {
            var (request, buffer) = _replies[i];
            if (Native.RequestCheckStatus(request) != Native.InProgress)
            {
                Native.RequestFree(request);
                NativeMemory.Free((void*)buffer);
                _replies.RemoveAt(i);
            }
        }
    }

    /// <summary>Stops handling messages. Called once the progress thread has stopped, before the worker goes.</summary>
    public void Dispose()
    {
        if (!_self.IsAllocated)
        {
            return;
        }

        _worker.SetMessageHandler(NicMessages.Write, null, 0);
        _worker.SetMessageHandler(NicMessages.Flush, null, 0);
        _worker.SetMessageHandler(NicMessages.Read, null, 0);
        _worker.SetMessageHandler(NicMessages.Words, null, 0);
        _worker.SetMessageHandler(NicMessages.Hello, null, 0);
        _connections.Clear();
        _arena = null;
        _self.Free();
        // Answers still in flight stay with UCX until the worker is destroyed; their small buffers are let go with it.
        _replies.Clear();
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static sbyte OnWrite(nint argument, byte* header, nuint headerLength, byte* data, nuint length,
        Native.AmRecvParam* param)
    {
        // Nothing may leave a handler that UCX called: an exception here would end imcd.
        try
        {
            var self = (NicReceiver)GCHandle.FromIntPtr(argument).Target!;
            if (headerLength != (nuint)sizeof(NicMessages.WriteHeader) || (param->RecvAttr & Native.AmRecvAttrFlagRndv) != 0 ||
                length > NicMessages.MaxPayload)
            {
                Interlocked.Increment(ref self._malformed);
                return Native.Ok;
            }

            var write = Unsafe.ReadUnaligned<NicMessages.WriteHeader>(header);
            if (!self.IsAuthenticated(param, write.Writer))
            {
                self.RefuseStranger(param, write);
                return Native.Ok;
            }

            self.ApplyWrite(write, data, (long)length, param);
        }
        catch (Exception)
        {
            // A bug of ours, not the sender's: the write is lost, and nothing else is; the sender's next flush
            // raises the count for it, since its sequence number was not recorded.
        }

        return Native.Ok;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static sbyte OnFlush(nint argument, byte* header, nuint headerLength, byte* data, nuint length,
        Native.AmRecvParam* param)
    {
        try
        {
            var self = (NicReceiver)GCHandle.FromIntPtr(argument).Target!;
            if (headerLength != (nuint)sizeof(NicMessages.FlushHeader) || (param->RecvAttr & Native.AmRecvAttrFlagRndv) != 0 ||
                length % sizeof(ulong) != 0 || length > NicMessages.Rails * sizeof(ulong))
            {
                Interlocked.Increment(ref self._malformed);
                return Native.Ok;
            }

            var flush = Unsafe.ReadUnaligned<NicMessages.FlushHeader>(header);
            if (!self.IsAuthenticated(param, flush.Writer))
            {
                self._unauthenticated++; // no answer: the flush is not confirmed
                return Native.Ok;
            }

            self.ApplyFlush(flush, new ReadOnlySpan<ulong>(data, (int)length / sizeof(ulong)));
            if (flush.Token != 0)
            {
                var answer = new NicMessages.FlushedHeader { Token = flush.Token };
                self.Reply(param, NicMessages.Flushed, &answer, sizeof(NicMessages.FlushedHeader));
            }
        }
        catch (Exception)
        {
            // As in OnWrite: the writer's flush gets no answer and reports it.
        }

        return Native.Ok;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static sbyte OnRead(nint argument, byte* header, nuint headerLength, byte* data, nuint length,
        Native.AmRecvParam* param)
    {
        try
        {
            var self = (NicReceiver)GCHandle.FromIntPtr(argument).Target!;
            if (headerLength != (nuint)sizeof(NicMessages.ReadHeader) || length != 0)
            {
                Interlocked.Increment(ref self._malformed);
                return Native.Ok;
            }

            var read = Unsafe.ReadUnaligned<NicMessages.ReadHeader>(header);
            if (!self.IsAuthenticated(param, read.Writer))
            {
                self.RefuseStranger(param, read.Token);
                return Native.Ok;
            }

            self.AnswerRead(read, param);
        }
        catch (Exception)
        {
            // As in OnWrite: the reader gets no answer, times out, and tries another copy.
        }

        return Native.Ok;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static sbyte OnWords(nint argument, byte* header, nuint headerLength, byte* data, nuint length,
        Native.AmRecvParam* param)
    {
        try
        {
            var self = (NicReceiver)GCHandle.FromIntPtr(argument).Target!;
            if (headerLength != (nuint)sizeof(NicMessages.WordsHeader) || (param->RecvAttr & Native.AmRecvAttrFlagRndv) != 0)
            {
                Interlocked.Increment(ref self._malformed);
                return Native.Ok;
            }

            var words = Unsafe.ReadUnaligned<NicMessages.WordsHeader>(header);
            if (!self.IsAuthenticated(param, words.Writer))
            {
                self.RefuseStranger(param, words.Token);
                return Native.Ok;
            }

            var written = words.Op == (int)NicMessages.WordOp.Write ? (nuint)words.Count * sizeof(long) : 0;
            if (words.Count is < 1 or > NicMessages.MaxWords || length != written)
            {
                Interlocked.Increment(ref self._malformed);
                return Native.Ok;
            }

            self.ApplyWords(words, (long*)data, param);
        }
        catch (Exception)
        {
            // As in OnWrite: the asker gets no answer, times out, and reads the word back.
        }

        return Native.Ok;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static sbyte OnHello(nint argument, byte* header, nuint headerLength, byte* data, nuint length,
        Native.AmRecvParam* param)
    {
        try
        {
            var self = (NicReceiver)GCHandle.FromIntPtr(argument).Target!;
            if (headerLength != (nuint)sizeof(NicMessages.HelloHeader) || (param->RecvAttr & Native.AmRecvAttrFlagRndv) != 0 ||
                length % sizeof(ulong) != 0 || length > NicMessages.Rails * sizeof(ulong))
            {
                Interlocked.Increment(ref self._malformed);
                return Native.Ok;
            }

            var hello = Unsafe.ReadUnaligned<NicMessages.HelloHeader>(header);
            if (self.Authenticate(param, hello.Writer, new ReadOnlySpan<byte>(hello.Key, NicMessages.KeyLength)))
            {
                // As a flush without an answer: whatever did not arrive before this connection raises the counts now.
                self.ApplyFlush(new NicMessages.FlushHeader { Writer = hello.Writer },
                    new ReadOnlySpan<ulong>(data, (int)length / sizeof(ulong)));
            }
        }
        catch (Exception)
        {
            // As in OnWrite: the connection stays unauthenticated, and its sender's flushes get no answer.
        }

        return Native.Ok;
    }

    /// <summary>
    /// Whether the message being handled came on a connection whose hello presented the cluster key, from the writer
    /// that said that hello. Every message. A recorded endpoint that now carries another writer's messages (UCX reused
    /// the handle for a new connection) is dropped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsAuthenticated(Native.AmRecvParam* param, ulong writer)
    {
        var endpoint = ReplyEndpoint(param);
        if (endpoint == _lastConnection && writer == _lastWriter && endpoint != 0)
        {
            return true; // the common case: the same connection as the last message
        }

        if (endpoint == 0 || !_connections.TryGetValue(endpoint, out var known))
        {
            return false;
        }

        if (known != writer)
        {
            Forget(endpoint);
            return false;
        }

        _lastConnection = endpoint;
        _lastWriter = writer;
        return true;
    }

    /// <summary>The endpoint UCX gave the handler as the way back to the sender: its connection here (0: none).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nint ReplyEndpoint(Native.AmRecvParam* param) =>
        (param->RecvAttr & Native.AmRecvAttrReplyEp) != 0 ? param->ReplyEp : 0;

    /// <summary>
    /// Checks a hello's key (in constant time) and records its connection, with its writer, as authenticated; a hello
    /// with another key drops the record of its endpoint. False when the connection is not authenticated (counted).
    /// </summary>
    private bool Authenticate(Native.AmRecvParam* param, ulong writer, ReadOnlySpan<byte> key)
    {
        var endpoint = ReplyEndpoint(param);
        if (endpoint == 0 || !CryptographicOperations.FixedTimeEquals(key, _key))
        {
            if (endpoint != 0)
            {
                Forget(endpoint);
            }

            _unauthenticated++;
            return false;
        }

        Forget(endpoint); // a reused handle's record goes with the last-seen cache
        _connections[endpoint] = writer;
        return true;
    }

    private void Forget(nint endpoint)
    {
        _connections.Remove(endpoint);
        if (_lastConnection == endpoint)
        {
            _lastConnection = 0;
        }
    }

    /// <summary>
    /// Counts a write of a connection that has not presented the key, applies nothing of it, and refuses it, so that a
    /// process given a wrong key fails at once and says why (counted on its own rail).
    /// </summary>
    private void RefuseStranger(Native.AmRecvParam* param, in NicMessages.WriteHeader write)
    {
        _unauthenticated++;
        var refused = new NicMessages.RefusedHeader
        {
            Memory = write.Memory, Rail = write.Rail, Reason = (int)NicMessages.Refusal.Unauthenticated,
        };
        Reply(param, NicMessages.Refused, &refused, sizeof(NicMessages.RefusedHeader));
    }

    /// <summary>As for a write: a read or a lock-word operation gets the refusal, and no bytes.</summary>
    private void RefuseStranger(Native.AmRecvParam* param, ulong token)
    {
        _unauthenticated++;
        var refused = new NicMessages.ReadDataHeader { Token = token, Refusal = (int)NicMessages.Refusal.Unauthenticated };
        Reply(param, NicMessages.ReadData, &refused, sizeof(NicMessages.ReadDataHeader));
    }

    /// <summary>
    /// Applies a lock-word operation to the arena and answers with what it read (a compare-and-swap's old word, the
    /// words read) or with why it is refused: an ended epoch, no arena, words outside it, an unknown operation.
    /// </summary>
    private void ApplyWords(in NicMessages.WordsHeader words, long* written, Native.AmRecvParam* param)
    {
        var refusal = IsEnded(words.Epoch) ? NicMessages.Refusal.StaleEpoch
            : _arena == null ? NicMessages.Refusal.UnknownMemory
            : words.Index < 0 || words.Index > _arenaWords - words.Count ? NicMessages.Refusal.OutOfBounds
            : words.Op is < (int)NicMessages.WordOp.CompareAndSwap or > (int)NicMessages.WordOp.Write ? NicMessages.Refusal.OutOfBounds
            : 0;
        var answer = new NicMessages.ReadDataHeader { Token = words.Token, Refusal = (int)refusal };
        if (refusal != 0)
        {
            _refused++;
            Reply(param, NicMessages.ReadData, &answer, sizeof(NicMessages.ReadDataHeader));
            return;
        }

        var at = _arena + words.Index;
        switch ((NicMessages.WordOp)words.Op)
        {
            case NicMessages.WordOp.CompareAndSwap:
                var old = Interlocked.CompareExchange(ref *at, words.Desired, words.Expected);
                Reply(param, NicMessages.ReadData, &answer, sizeof(NicMessages.ReadDataHeader), (byte*)&old, sizeof(long));
                break;
            case NicMessages.WordOp.Read:
                var read = stackalloc long[words.Count]; // at most MaxWords: 8 KiB
                for (var i = 0; i < words.Count; i++)
                {
                    read[i] = Volatile.Read(ref at[i]);
                }

                Reply(param, NicMessages.ReadData, &answer, sizeof(NicMessages.ReadDataHeader), (byte*)read, words.Count * sizeof(long));
                break;
            default:
                for (var i = 0; i < words.Count; i++)
                {
                    Volatile.Write(ref at[i], Unsafe.ReadUnaligned<long>(written + i));
                }

                Reply(param, NicMessages.ReadData, &answer, sizeof(NicMessages.ReadDataHeader));
                break;
        }

        _words++;
    }

    /// <summary>Answers a read with the bytes, copied out of the memory now, or with why it is refused.</summary>
    private void AnswerRead(in NicMessages.ReadHeader read, Native.AmRecvParam* param)
    {
        Memory memory = default;
        var refusal = IsEnded(read.Epoch) ? NicMessages.Refusal.StaleEpoch
            : read.Length > NicMessages.MaxPayload ? NicMessages.Refusal.OutOfBounds
            : Find(read.Memory, read.Offset, read.Length, out memory);

        var answer = new NicMessages.ReadDataHeader { Token = read.Token, Refusal = (int)refusal };
        if (refusal != 0)
        {
            _refused++;
            Reply(param, NicMessages.ReadData, &answer, sizeof(NicMessages.ReadDataHeader));
            return;
        }

        _reads++;
        Reply(param, NicMessages.ReadData, &answer, sizeof(NicMessages.ReadDataHeader), (byte*)memory.Address + read.Offset,
            (int)read.Length);
    }

    private void ApplyWrite(in NicMessages.WriteHeader write, byte* data, long length, Native.AmRecvParam* param)
    {
        if ((uint)write.Rail >= (uint)_rails)
        {
            Refuse(param, write, NicMessages.Refusal.WrongRail);
            return;
        }

        var now = Environment.TickCount64;
        var key = (write.Writer, write.Rail);
        var last = _writers.TryGetValue(key, out var seen) ? seen.Last : 0;
        if (write.Sequence <= last)
        {
            Refuse(param, write, NicMessages.Refusal.Stale); // counted when the gap it left was found
            return;
        }

        if (write.Sequence != last + 1)
        {
            Raise(write.Rail); // writes before this one went missing: the count moves before this one lands
        }

        _writers[key] = new Seen(write.Sequence, now);
        TrimWriters(now);
        Memory memory = default;
        var refusal = IsEnded(write.Epoch) ? NicMessages.Refusal.StaleEpoch
            : Find(write.Memory, write.Offset, (ulong)length, out memory);
        if (refusal == 0 && memory.Rail != write.Rail)
        {
            refusal = NicMessages.Refusal.WrongRail;
        }

        if (refusal != 0)
        {
            Refuse(param, write, refusal);
            return;
        }

        var target = (byte*)memory.Address + write.Offset;
        // As on one machine (Route.Deliver): aligned words as whole stores, anything else as one copy, which moves
        // aligned words whole as well.
        if (length == sizeof(ulong) && (write.Offset & 7) == 0)
        {
            Volatile.Write(ref *(ulong*)target, Unsafe.ReadUnaligned<ulong>(data));
        }
        else if (length == sizeof(uint) && (write.Offset & 3) == 0)
        {
            Volatile.Write(ref *(uint*)target, Unsafe.ReadUnaligned<uint>(data));
        }
        else
        {
            Volatile.WriteBarrier();
            new ReadOnlySpan<byte>(data, (int)length).CopyTo(new Span<byte>(target, (int)length));
        }

        _applied++;
    }

    /// <summary>Whether <paramref name="epoch"/> (0: none given) is a machine epoch that ended, as the agent last read etcd.</summary>
    private bool IsEnded(long epoch) => epoch != 0 && Volatile.Read(ref _endedEpochs).Contains(epoch);

    /// <summary>
    /// The memory published as <paramref name="id"/>, if <paramref name="length"/> bytes at <paramref name="offset"/>
    /// lie within it: 0, or why a write or read of that range is refused.
    /// </summary>
    private NicMessages.Refusal Find(ulong id, ulong offset, ulong length, out Memory memory) =>
        !_memories.TryGetValue(id, out memory) ? NicMessages.Refusal.UnknownMemory
            : offset > (ulong)memory.Length || length > (ulong)memory.Length - offset ? NicMessages.Refusal.OutOfBounds
            : 0;

    /// <summary>A writer's last sequence numbers, rail by rail: whatever of them did not arrive raises that rail's count.</summary>
    private void ApplyFlush(in NicMessages.FlushHeader flush, ReadOnlySpan<ulong> sent)
    {
        var now = Environment.TickCount64;
        for (var rail = 0; rail < sent.Length && rail < _rails; rail++)
        {
            var key = (flush.Writer, rail);
            var last = _writers.TryGetValue(key, out var seen) ? seen.Last : 0;
            if (sent[rail] > last)
            {
                Raise(rail);
            }

            if (sent[rail] != 0)
            {
                _writers[key] = new Seen(Math.Max(last, sent[rail]), now);
            }
        }

        TrimWriters(now);
    }

    private void Raise(int rail)
    {
        _raise(rail);
        _raised++;
    }

    private void Refuse(Native.AmRecvParam* param, in NicMessages.WriteHeader write, NicMessages.Refusal reason)
    {
        _refused++;
        var answer = new NicMessages.RefusedHeader { Memory = write.Memory, Rail = write.Rail, Reason = (int)reason };
        Reply(param, NicMessages.Refused, &answer, sizeof(NicMessages.RefusedHeader));
    }

    /// <summary>
    /// Answers the sender of the message being handled, if it gave a way back: <paramref name="header"/>, then
    /// <paramref name="dataLength"/> bytes from <paramref name="data"/>, both copied first (UCX may send them later).
    /// </summary>
    private void Reply(Native.AmRecvParam* param, uint id, void* header, int length, byte* data = null, int dataLength = 0)
    {
        if (ReplyEndpoint(param) == 0)
        {
            return;
        }

        // Both must stay put until UCX has sent them; a short answer usually goes at once (no request).
        var buffer = (byte*)NativeMemory.Alloc((nuint)(length + dataLength));
        Buffer.MemoryCopy(header, buffer, length, length);
        if (dataLength > 0)
        {
            Buffer.MemoryCopy(data, buffer + length, dataLength, dataLength);
        }

        var send = new Native.RequestParam { OpAttrMask = Native.OpAttrFieldFlags, Flags = Native.AmSendFlagEager };
        var request = Native.AmSendNbx(param->ReplyEp, id, buffer, (nuint)length, dataLength > 0 ? buffer + length : null,
            (nuint)dataLength, &send);
        if (request == 0 || Native.IsError(request))
        {
            NativeMemory.Free(buffer);
            return;
        }

        _replies.Add((request, (nint)buffer));
    }

    /// <summary>Forgets writers idle for a minute once there are many (a writer that comes back is taken as new: its count rises).</summary>
    private void TrimWriters(long now)
    {
        if (_writers.Count <= TrimAbove || now - _lastTrimMs < 1000)
        {
            return;
        }

        _lastTrimMs = now;
        foreach (var key in _writers.Where(w => now - w.Value.AtMs > IdleWriterMs).Select(w => w.Key).ToList())
        {
            _writers.Remove(key);
        }
    }

    private readonly record struct Memory(nint Address, long Length, int Rail);

    private readonly record struct Seen(ulong Last, long AtMs);
}
