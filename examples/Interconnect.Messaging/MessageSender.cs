using System.Buffers.Binary;
using System.Diagnostics;
using Interconnect.Imc;

namespace Interconnect.Messaging;

/// <summary>
/// The sending end of a message ring (manual 10.10: a simple message-passing library that hides latency, coherency
/// and error detection from its callers). <see cref="Send"/> copies a message into the next slot of a ring in a
/// region and returns without waiting for it to arrive: up to <see cref="MessageRingOptions.SlotCount"/> messages are
/// in flight, so the receiver's latency is hidden. It waits for the receiver to attach before the first write, so no
/// message is lost to initial coherency. Each slot carries the rail's error count read before it was written, and
/// after each write the sender checks the count (Example 10-4's <see cref="ImcContext.CheckErrorCount"/>): on an
/// error it sends every message the receiver has not acknowledged again, until the check passes. The receiver checks
/// the count too (Example 10-3) and takes messages in order only. One sender and one receiver per ring.
/// </summary>
public sealed class MessageSender : IDisposable
{
    private readonly ImcContext _context;
    private readonly RingLayout _layout;
    private readonly ImcRegion _ring;
    private readonly ImcTransmitWindow _tx;
    private readonly ImcRegion _answers;
    private readonly ImcReceiveWindow _rx;
    private readonly byte[][] _copies;
    private readonly Stopwatch _sinceProgress = new();
    private long _next;
    private long _acknowledged;
    private long _stallHandled;
    private bool _connected;

    /// <summary>Allocates the ring and answer regions and attaches them; the receiver may attach before or after.</summary>
    public MessageSender(ImcContext context, MessageRingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        _context = context;
        _layout = new RingLayout(options ?? new MessageRingOptions());
        var rail = _layout.Options.LogicalRail;
        _ring = context.AllocateRegion(_layout.RingKey, _layout.RingRegionSize, ImcPermissions.UserReadWrite,
            ImcRegionFlags.None, rail);
        try
        {
            _tx = _ring.AttachTransmit();
            _answers = context.AllocateRegion(_layout.AnswerKey, RingLayout.AnswerRegionSize, ImcPermissions.UserReadWrite,
                ImcRegionFlags.Coherent, rail);
            _rx = _answers.AttachReceive();
        }
        catch
        {
            _answers?.Dispose();
            _ring.Dispose();
            throw;
        }

        _copies = new byte[_layout.Options.SlotCount][];
        for (var i = 0; i < _copies.Length; i++)
        {
            _copies[i] = new byte[sizeof(int) + _layout.Options.MaxMessageLength];
        }
    }

    /// <summary>How many messages were given to <see cref="Send"/>.</summary>
    public long Sent => _next;

    /// <summary>How many of them the receiver has taken, as far as this sender has seen.</summary>
    public long Acknowledged => _acknowledged;

    /// <summary>How often the error check after a write failed (an error on the rail, or one being processed).</summary>
    public long ErrorsDetected { get; private set; }

    /// <summary>How many messages were written again after an error, a damage report or a silence of the receiver.</summary>
    public long Retransmissions { get; private set; }

    /// <summary>
    /// Sends <paramref name="message"/>: returns once it is in the receiver's memory, checked against the error count,
    /// without waiting for the receiver to take it. Waits only for the receiver to attach (first message) or for
    /// room in the ring.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The message is longer than <see cref="MessageRingOptions.MaxMessageLength"/>.</exception>
    /// <exception cref="TimeoutException">The receiver did not attach, or did not make room, in time.</exception>
    /// <exception cref="ImcException">A call of the Imc API failed.</exception>
    public void Send(ReadOnlySpan<byte> message, TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(message.Length, _layout.Options.MaxMessageLength, nameof(message));
        var deadline = Deadline.After(timeout);
        Connect(deadline);
        while (_next - Poll(deadline) >= _layout.Options.SlotCount)
        {
            Idle(deadline, "room in the ring (the receiver is not taking messages)");
        }

        var copy = _copies[_next % _copies.Length];
        BinaryPrimitives.WriteInt32LittleEndian(copy, message.Length);
        message.CopyTo(copy.AsSpan(sizeof(int)));

        var errorCount = RingLayout.StableErrorCount(_context, _layout.Options.LogicalRail, deadline);
        WriteSlot(_next, errorCount);
        _next++;
        if (_context.CheckErrorCount(ref errorCount, _layout.Options.LogicalRail) != ImcStatus.Success)
        {
            ErrorsDetected++;
            Retransmit(deadline);
        }
    }

    /// <summary>Waits until the receiver has taken every message sent, sending again what it seems to have missed.</summary>
    /// <exception cref="TimeoutException">The receiver did not take them all in time.</exception>
    public void Flush(TimeSpan timeout)
    {
        var deadline = Deadline.After(timeout);
        while (Poll(deadline) < _next)
        {
            Idle(deadline, $"the receiver to take messages {_acknowledged} to {_next - 1}");
        }
    }

    /// <summary>Detaches and deallocates the ring's regions (the context stays open).</summary>
    public void Dispose()
    {
        _answers.Dispose();
        _ring.Dispose();
    }

    private void Connect(Deadline deadline)
    {
        if (_connected)
        {
            return;
        }

        // A receiver sees only what is written after its attach (manual 10.6.2): wait until it says it is attached.
        var spinner = default(SpinWait);
        while (_rx.Read<int>(RingLayout.ReadyOffset) == 0)
        {
            deadline.ThrowIfPassed($"a receiver to attach ring key {_layout.RingKey}");
            spinner.SpinOnce();
        }

        _connected = true;
        _sinceProgress.Restart();
    }

    /// <summary>Reads the receiver's answers: returns how many messages it has taken, and resends on a damage report.</summary>
    private long Poll(Deadline deadline)
    {
        var consumed = _rx.Read<long>(RingLayout.ConsumedOffset);
        if (consumed > _acknowledged)
        {
            _acknowledged = Math.Min(consumed, _next);
            _sinceProgress.Restart();
        }

        var stalled = _rx.Read<long>(RingLayout.StalledOffset);
        if (stalled > _stallHandled)
        {
            _stallHandled = stalled;
            if (stalled > _acknowledged && stalled <= _next)
            {
                Retransmit(deadline); // the receiver saw a message whose count differs from its own: send it again
            }
        }

        return _acknowledged;
    }

    /// <summary>Waits a little; after a silence of the receiver with messages outstanding, sends them again.</summary>
    private void Idle(Deadline deadline, string waitingFor)
    {
        deadline.ThrowIfPassed(waitingFor);
        if (_sinceProgress.Elapsed > _layout.Options.RetransmitAfter && _next > _acknowledged)
        {
            Retransmit(deadline);
            _sinceProgress.Restart();
        }

        Thread.Yield();
    }

    /// <summary>
    /// Writes every message the receiver has not acknowledged again, with a fresh error count, until the error check
    /// passes: then all of them are in the receiver's memory, whole.
    /// </summary>
    private void Retransmit(Deadline deadline)
    {
        while (true)
        {
            deadline.ThrowIfPassed($"logical rail {_layout.Options.LogicalRail} to carry messages without error");
            var errorCount = RingLayout.StableErrorCount(_context, _layout.Options.LogicalRail, deadline);
            for (var sequence = _acknowledged; sequence < _next; sequence++)
            {
                WriteSlot(sequence, errorCount);
                Retransmissions++;
            }

            if (_context.CheckErrorCount(ref errorCount, _layout.Options.LogicalRail) == ImcStatus.Success)
            {
                return;
            }

            ErrorsDetected++;
        }
    }

    private void WriteSlot(long sequence, int errorCount)
    {
        var slot = _layout.SlotOffset(sequence);
        var copy = _copies[sequence % _copies.Length];
        var length = BinaryPrimitives.ReadInt32LittleEndian(copy);
        // Length and payload first, then the count, then the valid flag: a count that matches on arrival vouches for
        // the payload before it (had the payload been lost, the count would have risen before the count after it
        // could be seen), and a retransmission rewrites the same bytes, so a reader never sees a mixture.
        _tx.Write(slot + RingLayout.LengthOffset, copy.AsSpan(0, sizeof(int) + length));
        _tx.Write(slot + RingLayout.SendCountOffset, errorCount);
        _tx.Write(slot + RingLayout.SequenceOffset, sequence + 1);
    }
}
