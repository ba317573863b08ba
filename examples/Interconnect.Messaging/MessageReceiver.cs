using System.Diagnostics;
using Interconnect.Imc;

namespace Interconnect.Messaging;

/// <summary>
/// The receiving end of a message ring (see <see cref="MessageSender"/>). <see cref="Receive(Span{byte}, TimeSpan)"/>
/// takes the next message in order once it has arrived and its error count, compared with this host's count read
/// after the message (Example 10-3), says nothing was lost in between; otherwise it tells the sender, which sends
/// it again. It acknowledges what it took, so the sender can reuse the slot, and repeats its answers while it waits,
/// in case one was lost.
/// </summary>
public sealed class MessageReceiver : IDisposable
{
    private static readonly TimeSpan s_answerEvery = TimeSpan.FromMilliseconds(1);
    private readonly ImcContext _context;
    private readonly RingLayout _layout;
    private readonly ImcRegion _ring;
    private readonly ImcReceiveWindow _rx;
    private readonly ImcRegion _answers;
    private readonly ImcTransmitWindow _tx;
    private readonly byte[] _scratch;
    private readonly Stopwatch _sinceAnswer = Stopwatch.StartNew();
    private long _expected;
    private (long Sequence, int SendCount) _lastRejected = (-1, 0);

    /// <summary>Allocates and attaches the ring and answer regions, and tells the sender it is attached.</summary>
    public MessageReceiver(ImcContext context, MessageRingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        _context = context;
        _layout = new RingLayout(options ?? new MessageRingOptions());
        var rail = _layout.Options.LogicalRail;
        _ring = context.AllocateRegion(_layout.RingKey, _layout.RingRegionSize, ImcPermissions.UserReadWrite,
            ImcRegionFlags.None, rail);
        try
        {
            _rx = _ring.AttachReceive();
            _answers = context.AllocateRegion(_layout.AnswerKey, RingLayout.AnswerRegionSize, ImcPermissions.UserReadWrite,
                ImcRegionFlags.Coherent, rail);
            _tx = _answers.AttachTransmit();
        }
        catch
        {
            _answers?.Dispose();
            _ring.Dispose();
            throw;
        }

        _scratch = new byte[_layout.Options.MaxMessageLength];
        Answer();
    }

    /// <summary>How many messages were taken.</summary>
    public long Received => _expected;

    /// <summary>How many arrivals were refused because their error count differed from this host's.</summary>
    public long Rejected { get; private set; }

    /// <summary>Takes the next message into <paramref name="destination"/> and returns its length.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than the message (it stays next).</exception>
    /// <exception cref="TimeoutException">No message came in time.</exception>
    /// <exception cref="ImcException">A call of the Imc API failed.</exception>
    public int Receive(Span<byte> destination, TimeSpan timeout)
    {
        var deadline = Deadline.After(timeout);
        var spinner = default(SpinWait);
        while (true)
        {
            var length = TryTake(destination, deadline);
            if (length >= 0)
            {
                return length;
            }

            if (_sinceAnswer.Elapsed > s_answerEvery)
            {
                Answer(); // again: the sender may have missed the last answer
            }

            deadline.ThrowIfPassed($"message {_expected} on ring key {_layout.RingKey}");
            spinner.SpinOnce(sleep1Threshold: -1); // spin, then yield: never sleep a millisecond while a message may come
        }
    }

    /// <summary>Takes the next message and returns a copy of it.</summary>
    /// <exception cref="TimeoutException">No message came in time.</exception>
    public byte[] Receive(TimeSpan timeout)
    {
        var buffer = new byte[_layout.Options.MaxMessageLength];
        var length = Receive(buffer, timeout);
        return buffer.AsSpan(0, length).ToArray();
    }

    /// <summary>Detaches and deallocates the ring's regions (the context stays open).</summary>
    public void Dispose()
    {
        _answers.Dispose();
        _ring.Dispose();
    }

    /// <summary>The length of the message taken, or -1 when the next one has not arrived whole.</summary>
    private int TryTake(Span<byte> destination, Deadline deadline)
    {
        var slot = _layout.SlotOffset(_expected);
        if (_rx.Read<long>(slot + RingLayout.SequenceOffset) != _expected + 1)
        {
            return -1;
        }

        // Read the message: the count sent with it, then its length and payload, then this host's error count.
        var sent = _rx.Read<int>(slot + RingLayout.SendCountOffset);
        var length = _rx.Read<int>(slot + RingLayout.LengthOffset);
        var sane = (uint)length <= (uint)_scratch.Length;
        if (sane)
        {
            _rx.Read(slot + RingLayout.PayloadOffset, _scratch.AsSpan(0, length));
        }

        Interlocked.MemoryBarrier(); // the reads of the message complete before the error count is read
        var errorCount = RingLayout.StableErrorCount(_context, _layout.Options.LogicalRail, deadline);
        if (errorCount != sent || !sane)
        {
            // A write may have been lost between the sender's count and ours: ask for the message again (once per
            // transmission; a new transmission brings a new count).
            if (_lastRejected != (_expected, sent))
            {
                _lastRejected = (_expected, sent);
                Rejected++;
                _tx.Write(RingLayout.StalledOffset, _expected + 1);
            }

            return -1;
        }

        if (length > destination.Length)
        {
            throw new ArgumentException($"message {_expected} has {length} bytes; the buffer has room for {destination.Length}",
                nameof(destination));
        }

        _scratch.AsSpan(0, length).CopyTo(destination);
        _expected++;
        Answer();
        return length;
    }

    private void Answer()
    {
        _tx.Write(RingLayout.ConsumedOffset, _expected);
        if (_expected == 0)
        {
            _tx.Write(RingLayout.ReadyOffset, _context.ProcessId); // the sender waits for it before its first write
        }

        _sinceAnswer.Restart();
    }
}
