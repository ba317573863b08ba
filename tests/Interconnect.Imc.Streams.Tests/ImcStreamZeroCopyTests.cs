using System.Buffers;
using System.Runtime.InteropServices;
using Interconnect.Imc;
using Interconnect.Testing;

namespace Interconnect.Imc.Streams.Tests;

/// <summary>
/// The reader's buffers are the receive memory itself: what that promises while the consumer holds them (the writer
/// waits for credit and never overwrites them) and before a frame is checked (it is never handed out).
/// </summary>
public sealed class ImcStreamZeroCopyTests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    [Test]
    public async Task ShouldHoldTheWriterOnCreditAndKeepTheBytesWhileTheReaderHoldsItsBuffers()
    {
        const int SlotSize = 4096;
        const int Slots = 4;
        var options = new ImcStreamOptions { Key = 760, SlotCount = Slots, SlotSize = SlotSize };
        var data = StreamPair.Bytes(7, (Slots + 2) * SlotSize);
        using var reader = new ImcStreamReader(_cluster.Open("beta"), options);
        using var writer = new ImcStreamWriter(_cluster.Open("alpha"), "beta", options);

        // Fill the ring: four frames, delivered and checked, none consumed.
        _ = await writer.WriteAsync(data.AsMemory(0, Slots * SlotSize));
        var held = await reader.ReadAsync().AsTask().WaitAsync(StreamPair.Deadline);
        Assert.That(held.Buffer.Length, Is.EqualTo(Slots / 2 * SlotSize), "a read hands out half the ring at most");
        reader.AdvanceTo(held.Buffer.Start, held.Buffer.End); // examined, not consumed: the next read gives the rest too
        held = await reader.ReadAsync().AsTask().WaitAsync(StreamPair.Deadline);
        Assert.That(held.Buffer.Length, Is.EqualTo(Slots * SlotSize));
        Assert.That(MemoryMarshal.TryGetArray(held.Buffer.First, out _), Is.False, "the buffer is the receive memory, not a copy");

        // The reader holds all four frames in place, not advancing past any of them.
        writer.Write(data.AsSpan(Slots * SlotSize, 2 * SlotSize));
        var flush = writer.FlushAsync();
        for (var look = 0; look < 50 && !flush.IsCompleted; look++)
        {
            await Task.Delay(2);
        }

        Assert.That(flush.IsCompleted, Is.False, "the writer has no credit while the reader holds every frame");
        Assert.That(writer.FramesAcknowledged, Is.Zero);
        Assert.That(held.Buffer.ToArray(), Is.EqualTo(data[..(Slots * SlotSize)]), "the held buffers are intact");

        // Consuming one frame gives one frame of credit back: the flush goes on, and the rest arrives after it.
        reader.AdvanceTo(held.Buffer.GetPosition(SlotSize), held.Buffer.End);
        var again = await reader.ReadAsync().AsTask().WaitAsync(StreamPair.Deadline);
        Assert.That(again.Buffer.Slice(0, (Slots - 1) * SlotSize).ToArray(), Is.EqualTo(data[SlotSize..(Slots * SlotSize)]),
            "the same bytes, still in place");
        reader.AdvanceTo(again.Buffer.Start);
        var sink = new MemoryStream();
        sink.Write(data, 0, SlotSize);
        var reading = Task.Run(() => StreamPair.DrainAsync(reader, sink));
        _ = await flush.AsTask().WaitAsync(StreamPair.Deadline);
        await writer.CompleteAsync();
        Assert.That(reading.Wait(StreamPair.Deadline), Is.True, "the reader did not reach the end");
        Assert.That(sink.ToArray(), Is.EqualTo(data));
    }

    [Test]
    public async Task ShouldHandOutAtMostHalfTheRingPerReadSoTheWriterRefillsTheOtherHalfMeanwhile()
    {
        const int SlotSize = 4096;
        const int Slots = 8;
        var options = new ImcStreamOptions { Key = 765, SlotCount = Slots, SlotSize = SlotSize };
        var data = StreamPair.Bytes(9, (Slots + (Slots / 2)) * SlotSize);
        using var reader = new ImcStreamReader(_cluster.Open("beta"), options);
        using var writer = new ImcStreamWriter(_cluster.Open("alpha"), "beta", options);

        // A full ring, then the end: a read gives the first half only, and does not say the stream is complete.
        _ = await writer.WriteAsync(data.AsMemory(0, Slots * SlotSize));
        var first = await reader.ReadAsync().AsTask().WaitAsync(StreamPair.Deadline);
        Assert.That(first.Buffer.ToArray(), Is.EqualTo(data[..(Slots / 2 * SlotSize)]));
        Assert.That(first.IsCompleted, Is.False);

        // The caller consumes that half while holding nothing else: the writer gets that half of the ring back and
        // sends more into it, while the second half still waits for the caller.
        reader.AdvanceTo(first.Buffer.End);
        _ = await writer.WriteAsync(data.AsMemory(Slots * SlotSize)).AsTask().WaitAsync(StreamPair.Deadline);
        var completing = writer.CompleteAsync().AsTask();

        var sink = new MemoryStream();
        sink.Write(data, 0, Slots / 2 * SlotSize);
        var sizes = new List<long>();
        while (true)
        {
            var result = await reader.ReadAsync().AsTask().WaitAsync(StreamPair.Deadline);
            sizes.Add(result.Buffer.Length);
            foreach (var segment in result.Buffer)
            {
                sink.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await completing.WaitAsync(StreamPair.Deadline);
        Assert.That(sizes, Has.All.LessThanOrEqualTo(Slots / 2 * SlotSize), "no read handed out more than half the ring");
        Assert.That(sink.ToArray(), Is.EqualTo(data), "every byte, once, in order, and the end after the last");
    }

    [Test]
    public async Task ShouldNeverHandOutAFrameWhoseWriteWasDroppedBeforeItIsSentAgainAndChecked()
    {
        const int SlotSize = 4096;
        const int Frames = 24;
        var options = new ImcStreamOptions { Key = 770, SlotCount = 8, SlotSize = SlotSize };
        var data = StreamPair.Bytes(8, Frames * SlotSize);
        using var reader = new ImcStreamReader(_cluster.Open("beta"), options);
        using var writer = new ImcStreamWriter(_cluster.Open("alpha"), "beta", options);

        // The reader looks as often as it can and compares every buffer it is given, in place, with what was sent: a
        // frame whose payload write was lost (its flag landed, its bytes did not) must not be among them.
        long consumed = 0;
        var wrong = 0;
        var reading = Task.Run(async () =>
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var at = consumed;
                foreach (var segment in result.Buffer)
                {
                    if (!segment.Span.SequenceEqual(data.AsSpan((int)at, segment.Length)))
                    {
                        wrong++;
                    }

                    at += segment.Length;
                }

                consumed += result.Buffer.Length;
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        });

        // Before every other frame, the next write toward the reader's host is lost: mostly the frame's own bytes.
        for (var frame = 0; frame < Frames; frame++)
        {
            if (frame % 2 == 1)
            {
                ImcControl.InjectErrors(0, 1, "beta", StreamPair.ControlOptions(_cluster));
            }

            var span = writer.GetSpan(SlotSize);
            data.AsSpan(frame * SlotSize, SlotSize).CopyTo(span);
            writer.Advance(SlotSize); // a whole frame: sent at once, from the writer's copy
        }

        await writer.CompleteAsync();
        Assert.That(reading.Wait(StreamPair.Deadline), Is.True, "the reader did not reach the end");
        Assert.That(wrong, Is.Zero, "buffers handed out with bytes that were not sent");
        Assert.That(consumed, Is.EqualTo(data.Length));
        Assert.That(writer.FramesRetransmitted, Is.GreaterThan(0), "the lost writes were sent again");
        TestContext.Out.WriteLine($"{writer.ErrorsDetected} failed checks, {writer.FramesRetransmitted} frames sent again, " +
            $"{reader.FramesDoubted} frames doubted by the reader");
    }
}
