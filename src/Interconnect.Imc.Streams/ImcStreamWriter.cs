using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;

namespace Interconnect.Imc.Streams;

/// <summary>
/// The sending end of a stream: a <see cref="PipeWriter"/> whose bytes reach an <see cref="ImcStreamReader"/> on
/// another host exactly once and in order, across dropped writes, rail failover and a reader that restarts.
/// <para>
/// <see cref="GetSpan"/> hands out the sender's own copy of the next ring slot: the caller writes there, and the slot
/// is sent (one write of the slot into the ring, then its valid flag) when it is full, on <see cref="FlushAsync"/>,
/// or when a larger span is asked for. The copy stays until the reader has consumed the frame, so that it can be
/// sent again. Each frame carries the rail's error count read before it was written, and each transmission is
/// followed by <see cref="ImcContext.CheckErrorCount"/> (the manual's Examples 10-3 and 10-4): a failed check sends
/// the frames again, with a fresh count. The sender never writes a slot that the reader has not consumed (its credit
/// is the reader's FramesConsumed answer); when it has no credit, spans come from a staging buffer that
/// <see cref="FlushAsync"/> drains as credit comes, which is where back-pressure is felt.
/// </para>
/// <para>
/// A background thread answers for the sender while the caller is away: it resends what a check or a reader restart
/// asks for, and keeps a heartbeat, so that the reader can tell a slow sender from a gone one. One writer per stream
/// and per thread at a time, as for any <see cref="PipeWriter"/>.
/// </para>
/// </summary>
public sealed class ImcStreamWriter : PipeWriter, IDisposable
{
    private const long NoPending = long.MaxValue;
    private static readonly long s_heartbeatTicks = Stopwatch.Frequency / 10;

    /// <summary>The longest a span waits for credit before it is staged: GetSpan must not block for long.</summary>
    private static readonly TimeSpan s_creditSpin = TimeSpan.FromMilliseconds(1);

    private readonly ImcContext _context;
    private readonly ImcStreamOptions _options;
    private readonly string _receiverHost;
    private readonly ImcRegion _ring;
    private readonly ImcTransmitWindow _tx;
    private readonly ImcRegion _answers;
    private readonly ImcReceiveWindow _rx;
    private readonly byte[] _mirror;
    private readonly int _mirrorStride;
    private readonly int _slotSize;
    private readonly int _slotCount;
    private readonly int _rail;
    private readonly long _session;
    private readonly Lock _gate = new();
    private readonly PeerWatch _peer;
    private readonly Thread _pump;
    private readonly TimeSpan _creditSpin;

    // The caller's side: the open frame and the staging buffer.
    private bool _open;
    private int _fill;
    private bool _spanInStaging;
    private byte[]? _staging;
    private int _stagingStart;
    private int _stagingLength;
    private bool _completed;
    private volatile bool _cancelFlush;
    private volatile bool _stopping;
    private bool _disposed;

    // Shared with the background thread, under _gate. _next, _acked, _incarnation and _pendingFrom are also read
    // without it (credit and delivery checks on the caller's thread): those reads and their writes are Volatile, so a
    // value written under the gate by the pump is seen by the caller's next check, never a stale cached one.
    private long _next;
    private long _position;
    private long _acked;
    private long _verified;
    private long _verifiedWritten;
    private long _incarnation;
    private long _pendingFrom = NoPending;
    private long _heartbeat;
    private long _lastHeartbeat;
    private Exception? _failure;
    private volatile bool _lastCheckFailed;

    /// <summary>
    /// Allocates the stream's two regions (<see cref="ImcStreamOptions.Key"/> and the key after it) and attaches the
    /// ring for transmit to <paramref name="receiverHost"/> only. The reader may start before or after.
    /// </summary>
    /// <exception cref="ImcException">A call of the Imc API failed (for instance <see cref="ImcStatus.BadHost"/>).</exception>
    public ImcStreamWriter(ImcContext context, string receiverHost, ImcStreamOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentException.ThrowIfNullOrEmpty(receiverHost);
        _options = options ?? new ImcStreamOptions();
        _options.Validate();
        _context = context;
        _receiverHost = receiverHost;
        _slotSize = _options.SlotSize;
        _slotCount = _options.SlotCount;
        _rail = _options.LogicalRail;
        _ring = context.AllocateRegion(_options.Key, _options.RingRegionSize, ImcPermissions.UserReadWrite,
            ImcRegionFlags.None, _rail);
        try
        {
            _tx = _ring.AttachTransmitTo(receiverHost);
            _answers = context.AllocateRegion(_options.Key + 1, StreamLayout.AnswerRegionSize, ImcPermissions.UserReadWrite,
                ImcRegionFlags.Coherent, _rail);
            _rx = _answers.AttachReceive();
        }
        catch
        {
            _answers?.Dispose();
            _ring.Dispose();
            throw;
        }

        _mirrorStride = StreamLayout.HeaderLength + _slotSize;
        _mirror = GC.AllocateUninitializedArray<byte>(checked(_mirrorStride * _slotCount));
        _session = Random.Shared.NextInt64(1, long.MaxValue);
        _peer = new PeerWatch(_options.PeerTimeout);
        _creditSpin = _options.SpinBeforeSleep < s_creditSpin ? _options.SpinBeforeSleep : s_creditSpin;
        _pump = new Thread(PumpLoop) { IsBackground = true, Name = $"imc stream writer {_options.Key}" };
        _pump.Start();
    }

    /// <summary>Bytes given to the stream so far (sent or still staged).</summary>
    public long BytesWritten
    {
        get
        {
            lock (_gate)
            {
                return _position + _fill + _stagingLength;
            }
        }
    }

    /// <summary>Frames the reader has consumed, as far as this writer has seen (its answers).</summary>
    public long FramesAcknowledged => Volatile.Read(ref _acked);

    /// <summary>How often the error count showed an error: a failed check after a transmission, or a rail processing one.</summary>
    public long ErrorsDetected { get; private set; }

    /// <summary>How many frames were written again (after a failed check or a restart of the reader).</summary>
    public long FramesRetransmitted { get; private set; }

    /// <summary>How many times a new reader took over the stream (a reader restart).</summary>
    public long ReaderRestarts { get; private set; }

    /// <inheritdoc/>
    public override bool CanGetUnflushedBytes => true;

    /// <inheritdoc/>
    public override long UnflushedBytes => _fill + _stagingLength;

    /// <inheritdoc/>
    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        var (buffer, offset, length) = Reserve(sizeHint);
        return buffer.AsSpan(offset, length);
    }

    /// <inheritdoc/>
    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        var (buffer, offset, length) = Reserve(sizeHint);
        return buffer.AsMemory(offset, length);
    }

    /// <inheritdoc/>
    public override void Advance(int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (_spanInStaging)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, _staging!.Length - _stagingStart - _stagingLength);
            _stagingLength += bytes;
            return;
        }

        if (!_open)
        {
            if (bytes == 0)
            {
                return;
            }

            throw new InvalidOperationException("Advance was called without a span from GetSpan or GetMemory");
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, _slotSize - _fill);
        _fill += bytes;
        if (_fill == _slotSize)
        {
            SealOpen();
        }
    }

    /// <summary>
    /// Sends the open frame, then what is staged as the reader makes room; completes when every byte given so far is
    /// in the reader's memory and checked against the error count (the reader may not have consumed it yet). The
    /// first flush therefore waits for a reader to attach.
    /// </summary>
    /// <exception cref="ImcStreamPeerGoneException">The reader gave no sign of life for the peer timeout.</exception>
    /// <exception cref="IOException">The reader closed the stream.</exception>
    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable();
        if (_open && _fill > 0)
        {
            SealOpen();
        }

        _open = false;
        _fill = 0;
        _spanInStaging = false;
        return _stagingLength == 0 && IsDelivered ? new ValueTask<FlushResult>(new FlushResult(false, false)) : DrainAsync(cancellationToken);
    }

    /// <inheritdoc/>
    public override void CancelPendingFlush() => _cancelFlush = true;

    /// <summary>
    /// Ends the stream: with no <paramref name="exception"/>, flushes, sends the end and waits until the reader has
    /// consumed every byte; with one, tells the reader the stream was aborted. Then releases the regions.
    /// </summary>
    /// <exception cref="ImcStreamPeerGoneException">The reader was gone before it consumed every byte.</exception>
    public override void Complete(Exception? exception = null) => CompleteAsync(exception).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc cref="Complete"/>
    public override async ValueTask CompleteAsync(Exception? exception = null)
    {
        if (_completed || _disposed)
        {
            return;
        }

        try
        {
            if (exception is null)
            {
                _ = await FlushAsync().ConfigureAwait(false);
                await WaitAsync(() => HasCredit, "room in the ring for the end of the stream", CancellationToken.None)
                    .ConfigureAwait(false);
                SealControl(StreamLayout.EndLength);
                _completed = true;
                await WaitAsync(() => Volatile.Read(ref _acked) >= Volatile.Read(ref _next),
                    "the reader to consume the whole stream", CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                _completed = true;
                _open = false;
                _stagingLength = 0;
                if (_failure is null && HasCredit)
                {
                    SealControl(StreamLayout.AbortLength);
                    try
                    {
                        // Best effort: the frames and the abort reach the reader's memory, if a reader is there.
                        _ = await WaitAsync(() => Volatile.Read(ref _incarnation) != 0 && Volatile.Read(ref _pendingFrom) == NoPending,
                            "the reader to receive the abort", CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (IOException)
                    {
                    }
                }
            }
        }
        finally
        {
            _completed = true;
            Dispose();
        }
    }

    /// <summary>Stops the background thread and releases both regions (the context stays open).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stopping = true;
        _pump.Join();
        if (_staging is not null)
        {
            ArrayPool<byte>.Shared.Return(_staging);
            _staging = null;
        }

        _answers.Dispose();
        _ring.Dispose();
    }

    /// <summary>Every sealed frame is in the reader's memory, checked: none waits to be sent again.</summary>
    private bool IsDelivered => Volatile.Read(ref _pendingFrom) == NoPending && Volatile.Read(ref _incarnation) != 0;

    private bool HasCredit => Volatile.Read(ref _next) - Volatile.Read(ref _acked) < _slotCount;

    private (byte[] Buffer, int Offset, int Length) Reserve(int sizeHint)
    {
        ThrowIfUnusable();
        ArgumentOutOfRangeException.ThrowIfNegative(sizeHint);
        var need = Math.Max(sizeHint, 1);
        if (_stagingLength == 0)
        {
            if (_open && _slotSize - _fill >= need)
            {
                _spanInStaging = false;
                return (_mirror, MirrorPayload(_next) + _fill, _slotSize - _fill);
            }

            if (_open && _fill > 0)
            {
                SealOpen(); // the frame cannot hold what comes: send what it holds
            }

            _open = false;
            if (need <= _slotSize && (HasCredit || PumpAndCheckCredit()))
            {
                _open = true;
                _fill = 0;
                _spanInStaging = false;
                return (_mirror, MirrorPayload(_next), _slotSize);
            }
        }

        // No credit, or a span larger than a frame: stage, and let FlushAsync copy into frames as credit comes.
        EnsureStaging(need);
        _spanInStaging = true;
        var start = _stagingStart + _stagingLength;
        return (_staging!, start, _staging!.Length - start);
    }

    /// <summary>
    /// Out of credit: looks at the reader's answers until a slot is free, for as long as a wait spins before it sleeps
    /// (at most <see cref="s_creditSpin"/>); false when none came, and the caller's bytes go to the staging buffer.
    /// </summary>
    /// <remarks>
    /// A reader that consumes as fast as the writer produces frees a slot within microseconds. Staging at once would
    /// cost every byte that goes through the staging buffer a second copy (into the frame, when FlushAsync drains it),
    /// and once the staging buffer holds bytes, every span comes from it until the next flush: a writer a little ahead
    /// of its reader copied most of its bytes twice.
    /// </remarks>
    private bool PumpAndCheckCredit()
    {
        var backoff = new Backoff(_creditSpin);
        while (true)
        {
            lock (_gate)
            {
                Pump();
            }

            if (HasCredit)
            {
                return true;
            }

            if (_failure is not null || backoff.ShouldSleep)
            {
                return false;
            }

            backoff.Spin();
        }
    }

    private void EnsureStaging(int need)
    {
        if (_staging is not null && _staging.Length - _stagingStart - _stagingLength >= need)
        {
            return;
        }

        var size = Math.Max(Math.Max(_slotSize, 4096), (_stagingLength + need) * 2);
        var bigger = ArrayPool<byte>.Shared.Rent(size);
        if (_staging is not null)
        {
            _staging.AsSpan(_stagingStart, _stagingLength).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_staging);
        }

        _staging = bigger;
        _stagingStart = 0;
    }

    private async ValueTask<FlushResult> DrainAsync(CancellationToken cancellationToken)
    {
        while (_stagingLength > 0)
        {
            if (!HasCredit && !await WaitAsync(() => HasCredit, "room in the ring (the reader is not consuming)",
                    cancellationToken).ConfigureAwait(false))
            {
                return new FlushResult(isCanceled: true, isCompleted: false);
            }

            var chunk = Math.Min(_stagingLength, _slotSize);
            _staging.AsSpan(_stagingStart, chunk).CopyTo(_mirror.AsSpan(MirrorPayload(_next), chunk));
            _stagingStart += chunk;
            _stagingLength -= chunk;
            if (_stagingLength == 0)
            {
                _stagingStart = 0;
            }

            _open = true;
            _fill = chunk;
            SealOpen();
        }

        return await WaitAsync(() => IsDelivered, "a reader to attach, or the rail to carry the frames without error",
            cancellationToken).ConfigureAwait(false)
            ? new FlushResult(false, false)
            : new FlushResult(isCanceled: true, isCompleted: false);
    }

    /// <summary>Waits until <paramref name="done"/>; false when the flush was canceled.</summary>
    private async ValueTask<bool> WaitAsync(Func<bool> done, string waitingFor, CancellationToken cancellationToken)
    {
        var backoff = new Backoff(_options.SpinBeforeSleep);
        while (true)
        {
            lock (_gate)
            {
                Pump();
            }

            ThrowIfFailed();
            if (done())
            {
                return true;
            }

            if (_cancelFlush || cancellationToken.IsCancellationRequested)
            {
                _cancelFlush = false;
                return false;
            }

            if (_peer.IsGone)
            {
                var rail = _lastCheckFailed ? $" (the last check of logical rail {_rail} found an error: is the rail down?)" : "";
                throw new ImcStreamPeerGoneException(
                    $"the reader on host '{_receiverHost}' (stream key {_options.Key}) gave no sign of life for " +
                    $"{_options.PeerTimeout.TotalSeconds:0.#} s while waiting for {waitingFor}{rail}");
            }

            if (backoff.ShouldSleep)
            {
                if (!backoff.Nap())
                {
                    await Task.Delay(1, CancellationToken.None).ConfigureAwait(false);
                }
            }
            else
            {
                backoff.Spin();
            }
        }
    }

    private int MirrorPayload(long frame) => (int)(frame % _slotCount) * _mirrorStride + StreamLayout.HeaderLength;

    private void SealOpen()
    {
        var length = _fill;
        _open = false;
        _fill = 0;
        Seal(length);
    }

    private void SealControl(int length)
    {
        _open = false;
        _fill = 0;
        Seal(length);
    }

    /// <summary>Makes the next frame of <paramref name="length"/> bytes (payload already in the copy) and sends it.</summary>
    private void Seal(int length)
    {
        lock (_gate)
        {
            var frame = _next;
            var header = _mirror.AsSpan((int)(frame % _slotCount) * _mirrorStride, StreamLayout.HeaderLength);
            BinaryPrimitives.WriteInt64LittleEndian(header, _position);
            BinaryPrimitives.WriteInt64LittleEndian(header[8..], StreamLayout.Check(length, 0));
            Volatile.Write(ref _next, frame + 1); // read without the lock by HasCredit
            _position += Math.Max(length, 0);
            if (_pendingFrom == NoPending && _incarnation != 0)
            {
                var errorCount = _context.ReadErrorCount(_rail);
                if (errorCount < 0)
                {
                    ErrorsDetected++; // the rail is processing an error: the pump sends the frame once it is over
                }
                else
                {
                    Transmit(frame, errorCount);
                    if (_context.CheckErrorCount(ref errorCount, _rail) == ImcStatus.Success)
                    {
                        _verified = frame + 1;
                        return;
                    }

                    ErrorsDetected++;
                }
            }

            _pendingFrom = Math.Min(_pendingFrom, frame); // sent by the pump once a reader is there and the rail is calm
        }
    }

    /// <summary>Writes frame <paramref name="frame"/> from the copy: header and payload, then the valid flag.</summary>
    private void Transmit(long frame, int errorCount)
    {
        var slot = (int)(frame % _slotCount);
        var copy = _mirror.AsSpan(slot * _mirrorStride, _mirrorStride);
        var length = StreamLayout.LengthOf(BinaryPrimitives.ReadInt64LittleEndian(copy[8..]));
        BinaryPrimitives.WriteInt64LittleEndian(copy[8..], StreamLayout.Check(length, errorCount));
        var at = StreamLayout.SlotsOffset + ((long)slot * _options.SlotStride);
        _tx.Write(at + StreamLayout.HeaderInSlot, copy[..(StreamLayout.HeaderLength + Math.Max(length, 0))]);
        _tx.Write(at + StreamLayout.FlagInSlot, StreamLayout.Tag(_incarnation, frame + 1));
    }

    /// <summary>
    /// Under the gate: reads the reader's answers (a new incarnation means a restarted reader: send everything it has
    /// not consumed again), resends what is pending, and keeps the header words fresh (with <paramref name="repeat"/>,
    /// writes the Verified word again even if it did not move).
    /// </summary>
    private void Pump(bool repeat = false)
    {
        if (_disposed || _failure is not null)
        {
            return;
        }

        var incarnation = _rx.Read<long>(StreamLayout.IncarnationOffset);
        var consumed = _rx.Read<long>(StreamLayout.FramesConsumedOffset);
        if (incarnation != 0 && incarnation != _incarnation)
        {
            if (_incarnation != 0)
            {
                ReaderRestarts++;
            }

            _incarnation = incarnation;
            _verified = Volatile.Read(ref _acked);
            _pendingFrom = Volatile.Read(ref _acked);
            _peer.Touch();
            _lastHeartbeat = 0; // announce this sender to the new reader's fresh memory now
        }

        if (incarnation != 0 && consumed > Volatile.Read(ref _acked))
        {
            Volatile.Write(ref _acked, Math.Min(consumed, _next)); // read without the lock by HasCredit
        }

        if (_incarnation != 0 && _rx.Read<long>(StreamLayout.ClosedOffset) == _incarnation)
        {
            _failure = new IOException(
                $"the reader on host '{_receiverHost}' closed stream key {_options.Key} before its end");
            return;
        }

        _peer.Observe(_rx.Read<long>(StreamLayout.ReceiverHeartbeatOffset));
        if (_pendingFrom != NoPending && _incarnation != 0)
        {
            Retransmit();
        }

        var now = Stopwatch.GetTimestamp();
        if (now - _lastHeartbeat > s_heartbeatTicks)
        {
            _lastHeartbeat = now;
            _tx.Write(StreamLayout.SenderSessionOffset, _session);
            _tx.Write(StreamLayout.SenderHeartbeatOffset, ++_heartbeat);
        }

        var verified = StreamLayout.Tag(_incarnation, _verified);
        if (_incarnation != 0 && _verified > Volatile.Read(ref _acked) && (verified != _verifiedWritten || repeat))
        {
            // Frames checked but not consumed: say so, so the reader may take a frame whose count it doubts. Written
            // when it moves, and again by the background thread (a lost write is repaired within its period), not on
            // every look of a wait on the caller's thread: the reader reads this line on every look of its own.
            _tx.Write(StreamLayout.VerifiedOffset, verified);
            _verifiedWritten = verified;
        }
    }

    /// <summary>Sends every frame from the pending one again with a fresh error count, until a check passes.</summary>
    private void Retransmit()
    {
        var errorCount = _context.ReadErrorCount(_rail);
        if (errorCount < 0)
        {
            return; // the rail is processing an error: a check now would fail; the pump comes back
        }

        var from = Math.Max(_pendingFrom, Volatile.Read(ref _acked));
        for (var frame = from; frame < _next; frame++)
        {
            Transmit(frame, errorCount);
            FramesRetransmitted++;
        }

        if (_context.CheckErrorCount(ref errorCount, _rail) == ImcStatus.Success)
        {
            _pendingFrom = NoPending;
            _verified = _next;
            _lastCheckFailed = false;
        }
        else
        {
            ErrorsDetected++;
            _lastCheckFailed = true;
        }
    }

    private void PumpLoop()
    {
        while (!_stopping)
        {
            Thread.Sleep(1);
            try
            {
                lock (_gate)
                {
                    if (!_stopping)
                    {
                        Pump(repeat: true);
                    }
                }
            }
            catch (Exception e) when (e is ImcException or ObjectDisposedException or ArgumentException)
            {
                lock (_gate)
                {
                    _failure ??= e;
                }

                return;
            }
        }
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
        {
            ThrowCompleted();
        }

        ThrowIfFailed();
    }

    private void ThrowIfFailed()
    {
        var failure = _failure;
        if (failure is not null)
        {
            ThrowFailed(failure);
        }
    }

    [DoesNotReturn]
    private static void ThrowCompleted() => throw new InvalidOperationException("the writer is completed");

    [DoesNotReturn]
    private static void ThrowFailed(Exception failure) =>
        throw new IOException(failure.Message, failure);
}
