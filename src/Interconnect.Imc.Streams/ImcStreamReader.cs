using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;

namespace Interconnect.Imc.Streams;

/// <summary>
/// The receiving end of a stream (see <see cref="ImcStreamWriter"/>): a <see cref="PipeReader"/> whose buffers are
/// the receive memory of the ring itself, one segment per frame, valid until <see cref="AdvanceTo(SequencePosition, SequencePosition)"/>.
/// <para>
/// A frame is taken, in order, once its valid flag carries this reader's incarnation and its number, and either its
/// error count equals the rail's count read after it (nothing was lost since the sender read it) or the sender's
/// Verified word says a check after it passed. What is consumed is answered (FramesConsumed is the sender's credit,
/// BytesConsumed the stream position) in a coherent region, so a reader that is killed and started again finds where
/// its predecessor stopped and resumes there: nothing consumed is delivered again, nothing unconsumed is lost. A
/// background thread repeats the answers and a heartbeat, so the sender can tell a slow reader from a gone one.
/// </para>
/// </summary>
public sealed class ImcStreamReader : PipeReader, IDisposable
{
    private const int AnswerEveryMs = 20;
    private const int HeartbeatEvery = 5;

    private readonly ImcContext _context;
    private readonly ImcStreamOptions _options;
    private readonly ImcRegion _ring;
    private readonly ImcReceiveWindow _rx;
    private readonly ImcRegion _answers;
    private readonly ImcReceiveWindow _answersRx;
    private readonly ImcTransmitWindow _tx;
    private readonly ReceiveSegment[] _segments;
    private readonly long[] _starts;
    private readonly int[] _lengths;
    private readonly long[] _candidateChecks;
    private readonly int _slotCount;
    private readonly int _framesPerRead;
    private readonly int _rail;
    private readonly long _incarnation;
    private readonly PeerWatch _peer;
    private readonly Lock _gate = new();
    private readonly Thread _answerer;

    // The caller's state. _frame and _position are also read by the answering thread (under _gate, after the caller
    // wrote them): Volatile, so it answers the latest values and answers never go backwards.
    private long _frame;
    private long _position;
    private long _examined;
    private int _validated;
    private long _endFrame = -1;
    private bool _aborted;
    private bool _atEnd;
    private long _senderSession;
    private long _heartbeat;
    private volatile bool _cancelRead;
    private volatile bool _stopping;
    private bool _closed;
    private bool _disposed;

    /// <summary>
    /// Allocates the stream's two regions and attaches the ring for receive. If a reader of this stream ran before on
    /// this host and died, this one resumes where it stopped (<see cref="StartPosition"/>).
    /// </summary>
    /// <exception cref="ImcException">A call of the Imc API failed.</exception>
    public ImcStreamReader(ImcContext context, ImcStreamOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        _options = options ?? new ImcStreamOptions();
        _options.Validate();
        _context = context;
        _slotCount = _options.SlotCount;
        _framesPerRead = Math.Max(1, _slotCount / 2);
        _rail = _options.LogicalRail;
        _ring = context.AllocateRegion(_options.Key, _options.RingRegionSize, ImcPermissions.UserReadWrite,
            ImcRegionFlags.None, _rail);
        try
        {
            _rx = _ring.AttachReceive();
            _answers = context.AllocateRegion(_options.Key + 1, StreamLayout.AnswerRegionSize, ImcPermissions.UserReadWrite,
                ImcRegionFlags.Coherent, _rail);
            _answersRx = _answers.AttachReceive();
            _tx = _answers.AttachTransmit();
        }
        catch
        {
            _answers?.Dispose();
            _ring.Dispose();
            throw;
        }

        _segments = new ReceiveSegment[_slotCount];
        for (var slot = 0; slot < _slotCount; slot++)
        {
            var at = StreamLayout.SlotsOffset + ((long)slot * _options.SlotStride) + StreamLayout.PayloadInSlot;
            _segments[slot] = new ReceiveSegment(slot, new ReceiveMemory(_rx.AsSpan(at, _options.SlotSize)).Memory);
        }

        _starts = new long[_slotCount];
        _lengths = new int[_slotCount];
        _candidateChecks = new long[_slotCount];

        // A coherent region keeps its contents: a predecessor's answers are here. Resume where it stopped.
        var previous = _answersRx.Read<long>(StreamLayout.IncarnationOffset);
        _frame = _answersRx.Read<long>(StreamLayout.FramesConsumedOffset);
        _position = _answersRx.Read<long>(StreamLayout.BytesConsumedOffset);
        _examined = _position;
        StartPosition = _position;
        IsResumed = previous != 0;
        _incarnation = StreamLayout.NextIncarnation(previous);
        _peer = new PeerWatch(_options.PeerTimeout);
        lock (_gate)
        {
            Answer(everything: true); // the incarnation last: the sender sends again from FramesConsumed
        }

        _answerer = new Thread(AnswerLoop) { IsBackground = true, Name = $"imc stream reader {_options.Key}" };
        _answerer.Start();
    }

    /// <summary>The stream position this reader started at: 0, or where a predecessor that died had consumed to.</summary>
    public long StartPosition { get; }

    /// <summary>Whether this reader took over from a predecessor (its <see cref="StartPosition"/> may be past 0).</summary>
    public bool IsResumed { get; }

    /// <summary>The stream position consumed so far.</summary>
    public long Position => Volatile.Read(ref _position);

    /// <summary>How many times a frame's error count differed from the rail's (it was taken later, once vouched for).</summary>
    public long FramesDoubted { get; private set; }

    /// <inheritdoc/>
    public override bool TryRead(out ReadResult result)
    {
        ThrowIfUnusable();
        if (_cancelRead)
        {
            _cancelRead = false;
            result = new ReadResult(default, isCanceled: true, isCompleted: false);
            return true;
        }

        return TryBuild(out result);
    }

    /// <summary>Waits for bytes past what was examined, or the end of the stream.</summary>
    /// <exception cref="ImcStreamPeerGoneException">The sender gave no sign of life for the peer timeout.</exception>
    /// <exception cref="IOException">The sender aborted the stream, or another sender took the ring.</exception>
    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        return TryRead(out var result) ? new ValueTask<ReadResult>(result) : WaitAsync(cancellationToken);
    }

    /// <inheritdoc/>
    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    /// <inheritdoc/>
    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var consumedAt = PositionOf(consumed);
        var examinedAt = PositionOf(examined);
        var end = AvailableEnd();
        if (consumedAt < _position || consumedAt > end || examinedAt < consumedAt || examinedAt > end)
        {
            throw new InvalidOperationException(
                $"AdvanceTo: consumed {consumedAt} and examined {examinedAt} must lie in the last buffer ({_position} to {end})");
        }

        var moved = consumedAt != _position;
        Volatile.Write(ref _position, consumedAt); // Position is read by other threads
        _examined = Math.Max(_examined, examinedAt);
        if (ReleaseConsumed() || moved)
        {
            lock (_gate)
            {
                Answer(everything: false); // what is consumed is answered at once: a successor resumes after it
            }
        }
    }

    /// <inheritdoc/>
    public override void CancelPendingRead() => _cancelRead = true;

    /// <summary>
    /// Stops reading. Before the end of the stream this closes it: the sender stops with an error. Then releases the
    /// regions.
    /// </summary>
    public override void Complete(Exception? exception = null)
    {
        if (_disposed)
        {
            return;
        }

        if (!_atEnd)
        {
            lock (_gate)
            {
                _closed = true;
                _tx.Write(StreamLayout.ClosedOffset, _incarnation);
            }
        }

        Dispose();
    }

    /// <summary>
    /// Stops the background thread and releases both regions, without closing the stream: a reader started again
    /// resumes it (as after a crash).
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stopping = true;
        _answerer.Join();
        _answers.Dispose();
        _ring.Dispose();
    }

    private async ValueTask<ReadResult> WaitAsync(CancellationToken cancellationToken)
    {
        var backoff = new Backoff(_options.SpinBeforeSleep);
        while (true)
        {
            if (backoff.ShouldSleep)
            {
                if (!backoff.Nap())
                {
                    await Task.Delay(1, cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                backoff.Spin();
            }

            if (TryRead(out var result))
            {
                return result;
            }

            cancellationToken.ThrowIfCancellationRequested();
            WatchSender();
        }
    }

    /// <summary>Looks at the sender's header words: a new sender breaks the stream, a silent one is gone.</summary>
    private void WatchSender()
    {
        var session = _rx.Read<long>(StreamLayout.SenderSessionOffset);
        if (session != 0)
        {
            if (_senderSession == 0)
            {
                _senderSession = session;
            }
            else if (session != _senderSession)
            {
                throw new IOException($"another sender took stream key {_options.Key}: the stream it was sending is broken");
            }
        }

        _peer.Observe(_rx.Read<long>(StreamLayout.SenderHeartbeatOffset));
        if (_peer.IsGone)
        {
            var what = _peer.EverSeen || _senderSession != 0 ? "the sender" : "no sender";
            var verb = _peer.EverSeen || _senderSession != 0 ? "gave no sign of life" : "came";
            throw new ImcStreamPeerGoneException(
                $"{what} of stream key {_options.Key} {verb} for {_options.PeerTimeout.TotalSeconds:0.#} s " +
                $"(received {Position} bytes)");
        }
    }

    /// <summary>Takes the frames that arrived whole, and returns a buffer if there is one past what was examined.</summary>
    private bool TryBuild(out ReadResult result)
    {
        Validate();
        if (_aborted && AvailableEnd() <= _examined)
        {
            throw new IOException($"the sender aborted stream key {_options.Key} after {Position} bytes");
        }

        if (ReleaseConsumed())
        {
            lock (_gate)
            {
                Answer(everything: false);
            }
        }

        var end = AvailableEnd();
        if (end <= _examined && _endFrame < 0)
        {
            result = default;
            return false;
        }

        var buffer = BuildSequence(out var whole);
        result = new ReadResult(buffer, isCanceled: false, isCompleted: _endFrame >= 0 && whole);
        return true;
    }

    /// <summary>Checks the frames after the validated ones: flag, then the error count or the Verified word.</summary>
    private void Validate()
    {
        if (_endFrame >= 0)
        {
            return;
        }

        // Verified first: if it covers a frame, every write of that frame landed before we read its header.
        var verified = _rx.Read<long>(StreamLayout.VerifiedOffset);
        var verifiedCount = StreamLayout.TagOf(verified) == _incarnation ? StreamLayout.CountOf(verified) : 0;
        var found = 0;
        while (_validated + found < _slotCount)
        {
            var frame = _frame + _validated + found;
            var slot = (int)(frame % _slotCount);
            var at = StreamLayout.SlotsOffset + ((long)slot * _options.SlotStride);
            if (_rx.Read<long>(at + StreamLayout.FlagInSlot) != StreamLayout.Tag(_incarnation, frame + 1))
            {
                break;
            }

            _starts[slot] = _rx.Read<long>(at + StreamLayout.HeaderInSlot);
            _candidateChecks[found] = _rx.Read<long>(at + StreamLayout.HeaderInSlot + 8);
            found++;
            if (StreamLayout.LengthOf(_candidateChecks[found - 1]) < 0)
            {
                break;
            }
        }

        if (found == 0)
        {
            return;
        }

        // The rail's count after the reads above (the API orders them before it): equal to a frame's, nothing was lost.
        var errorCount = _context.ReadErrorCount(_rail);
        for (var i = 0; i < found; i++)
        {
            var frame = _frame + _validated;
            var check = _candidateChecks[i];
            if (frame >= verifiedCount && (errorCount < 0 || StreamLayout.ErrorCountOf(check) != errorCount))
            {
                FramesDoubted++;
                return; // the sender resends it with a fresh count, or says it is verified
            }

            var slot = (int)(frame % _slotCount);
            var length = StreamLayout.LengthOf(check);
            if (length > _options.SlotSize || length < StreamLayout.AbortLength ||
                (_validated > 0 && _starts[slot] != ExpectedStart()))
            {
                throw new InvalidDataException(
                    $"frame {frame} of stream key {_options.Key} is malformed (length {length}, start {_starts[slot]})");
            }

            _lengths[slot] = length;
            _validated++;
            if (length == StreamLayout.AbortLength)
            {
                _aborted = true;
                return;
            }

            if (length == StreamLayout.EndLength)
            {
                _endFrame = frame;
                return;
            }
        }
    }

    private long ExpectedStart()
    {
        var last = (int)((_frame + _validated - 1) % _slotCount);
        return _starts[last] + Math.Max(_lengths[last], 0);
    }

    /// <summary>The stream position after the last validated byte.</summary>
    private long AvailableEnd() => _validated == 0 ? _position : Math.Max(_position, ExpectedStart());

    /// <summary>Gives back the frames wholly consumed; true when the answers changed.</summary>
    private bool ReleaseConsumed()
    {
        var released = false;
        while (_validated > 0)
        {
            var slot = (int)(_frame % _slotCount);
            var length = _lengths[slot];
            if (length >= 0 && _starts[slot] + length > _position)
            {
                break;
            }

            if (length == StreamLayout.EndLength)
            {
                if (_starts[slot] > _position)
                {
                    break;
                }

                _atEnd = true;
            }

            Volatile.Write(ref _frame, _frame + 1); // read by the answering thread
            _validated--;
            released = true;
        }

        return released;
    }

    /// <summary>
    /// The buffer of a read: the validated frames from the position on, but at most <see cref="_framesPerRead"/> of them
    /// past what was examined (<paramref name="whole"/> is false when frames were left for the next read).
    /// </summary>
    /// <remarks>
    /// The buffers are the ring itself, so the frames of a buffer go back to the writer only when the caller advances
    /// past them. Handing out the whole ring at once lets a caller that consumes a buffer before advancing hold every
    /// slot: the writer then waits while the caller works, and the caller waits while the writer refills, and the two
    /// ends take turns. With half the ring per read, the writer fills one half while the caller consumes the other.
    /// </remarks>
    private ReadOnlySequence<byte> BuildSequence(out bool whole)
    {
        ReceiveSegment? first = null;
        ReceiveSegment? last = null;
        var firstIndex = 0;
        var fresh = 0;
        whole = true;
        for (var i = 0; i < _validated; i++)
        {
            var slot = (int)((_frame + i) % _slotCount);
            if (_lengths[slot] < 0)
            {
                break;
            }

            if (_starts[slot] >= _examined && ++fresh > _framesPerRead)
            {
                whole = false;
                break;
            }

            var segment = _segments[slot];
            segment.Set(_lengths[slot], _starts[slot]);
            if (first is null)
            {
                first = segment;
                firstIndex = (int)(_position - _starts[slot]);
            }
            else
            {
                last!.Link(segment);
            }

            last = segment;
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, firstIndex, last!, last!.Memory.Length);
    }

    private long PositionOf(SequencePosition position) =>
        position.GetObject() is ReceiveSegment segment ? segment.RunningIndex + position.GetInteger() : _position;

    /// <summary>Under the gate: writes the answers; with <paramref name="everything"/> also the heartbeat and incarnation.</summary>
    private void Answer(bool everything)
    {
        if (_disposed && !everything)
        {
            return;
        }

        _tx.Write(StreamLayout.BytesConsumedOffset, Volatile.Read(ref _position));
        _tx.Write(StreamLayout.FramesConsumedOffset, Volatile.Read(ref _frame));
        if (everything)
        {
            _tx.Write(StreamLayout.ClosedOffset, _closed ? _incarnation : 0L);
            _tx.Write(StreamLayout.ReceiverHeartbeatOffset, _heartbeat);
            _tx.Write(StreamLayout.IncarnationOffset, _incarnation);
        }
    }

    private void AnswerLoop()
    {
        var ticks = 0;
        var watch = Stopwatch.StartNew();
        while (!_stopping)
        {
            Thread.Sleep(AnswerEveryMs);
            try
            {
                lock (_gate)
                {
                    if (_stopping)
                    {
                        return;
                    }

                    if (++ticks % HeartbeatEvery == 0)
                    {
                        _heartbeat = watch.ElapsedMilliseconds + 1;
                    }

                    Answer(everything: true); // again: a lost answer is repaired within one period
                }
            }
            catch (Exception e) when (e is ImcException or ObjectDisposedException)
            {
                return;
            }
        }
    }

    private void ThrowIfUnusable()
    {
        if (_disposed)
        {
            ThrowDisposed();
        }
    }

    [DoesNotReturn]
    private static void ThrowDisposed() => throw new ObjectDisposedException(nameof(ImcStreamReader));
}
