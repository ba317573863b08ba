using System.Runtime.InteropServices;
using Interconnect.Imc;
using Interconnect.Testing;

namespace Interconnect.Imc.Streams.Tests;

/// <summary>A writer on host alpha and a reader on host beta, in this process, each with its own context.</summary>
public sealed class ImcStreamTests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    [TestCase(1, 8, 16 * 1024, 24)]
    [TestCase(2, 2, 4 * 1024, 4)]
    public async Task ShouldDeliverEveryByteInOrderForWritesOfEverySize(int seed, int slots, int slotSize, int mebibytes)
    {
        var options = new ImcStreamOptions { Key = 700, SlotCount = slots, SlotSize = slotSize };
        var data = StreamPair.Bytes(seed, mebibytes << 20);
        using var reader = new ImcStreamReader(_cluster.Open("beta"), options);
        using var writer = new ImcStreamWriter(_cluster.Open("alpha"), "beta", options);
        var sink = new MemoryStream();
        var reading = Task.Run(() => StreamPair.DrainAsync(reader, sink));

        // Writes of 1 byte to several frames (staged, then cut into frames), through GetSpan and the Write extension.
        var random = new Random(seed);
        var at = 0;
        while (at < data.Length)
        {
            var size = Math.Min(data.Length - at, random.Next(3) switch { 0 => random.Next(1, 100), 1 => random.Next(1, slotSize * 2), _ => random.Next(1, slotSize * 8) });
            if (random.Next(2) == 0)
            {
                var span = writer.GetSpan(Math.Min(size, slotSize));
                var part = Math.Min(size, span.Length);
                data.AsSpan(at, part).CopyTo(span);
                writer.Advance(part);
                size = part;
            }
            else
            {
                _ = await writer.WriteAsync(data.AsMemory(at, size));
            }

            at += size;
            if (random.Next(4) == 0)
            {
                _ = await writer.FlushAsync();
            }
        }

        await writer.CompleteAsync();
        Assert.That(reading.Wait(StreamPair.Deadline), Is.True, "the reader did not reach the end");
        Assert.That(sink.Length, Is.EqualTo(data.Length));
        Assert.That(StreamPair.Sha256(sink.ToArray()), Is.EqualTo(StreamPair.Sha256(data)));
    }

    [Test]
    public async Task ShouldRetransmitAndDeliverEveryByteOnceWhenWritesAreDropped()
    {
        var options = new ImcStreamOptions { Key = 710, SlotCount = 8, SlotSize = 8 * 1024 };
        var data = StreamPair.Bytes(3, 16 << 20);
        using var reader = new ImcStreamReader(_cluster.Open("beta"), options);
        using var writer = new ImcStreamWriter(_cluster.Open("alpha"), "beta", options);
        var sink = new MemoryStream();
        var reading = Task.Run(() => StreamPair.DrainAsync(reader, sink));

        // Every 64 KiB written (16 frames, about 32 writes), one to three deliveries on the rail are lost: frames,
        // flags, the reader's answers or the heartbeats, wherever they fall.
        var random = new Random(3);
        const int Chunk = 4096;
        for (var at = 0; at < data.Length; at += Chunk)
        {
            if (at % (64 * 1024) == 0 && at < data.Length - (1 << 20))
            {
                ImcControl.InjectErrors(0, random.Next(1, 4), options: StreamPair.ControlOptions(_cluster));
            }

            _ = await writer.WriteAsync(data.AsMemory(at, Chunk));
        }

        await writer.CompleteAsync();
        Assert.That(reading.Wait(StreamPair.Deadline), Is.True, "the reader did not reach the end");
        Assert.That(StreamPair.Sha256(sink.ToArray()), Is.EqualTo(StreamPair.Sha256(data)));
        Assert.That(sink.Length, Is.EqualTo(data.Length));
        Assert.That(writer.ErrorsDetected, Is.GreaterThan(0), "the checks saw the drops");
        Assert.That(writer.FramesRetransmitted, Is.GreaterThan(0));
        TestContext.Out.WriteLine($"{writer.ErrorsDetected} failed checks, {writer.FramesRetransmitted} frames sent again, " +
            $"{reader.FramesDoubted} frames doubted by the reader");
    }

    [Test]
    public async Task ShouldLoseNothingWhenTheReaderIsSlowerThanTheWriter()
    {
        var options = new ImcStreamOptions { Key = 720, SlotCount = 2, SlotSize = 4 * 1024 };
        var data = StreamPair.Bytes(4, 1 << 20);
        using var reader = new ImcStreamReader(_cluster.Open("beta"), options);
        using var writer = new ImcStreamWriter(_cluster.Open("alpha"), "beta", options);
        var sink = new MemoryStream();

        // The reader consumes at most 1000 bytes a read and pauses; the writer pushes 64 KiB writes into 8 KiB of ring.
        var reading = Task.Run(() => StreamPair.DrainAsync(reader, sink, maxConsume: 1000, pause: TimeSpan.FromMilliseconds(0.5)));
        for (var at = 0; at < data.Length; at += 64 * 1024)
        {
            _ = await writer.WriteAsync(data.AsMemory(at, 64 * 1024));
            // The flush put every byte so far in the reader's memory, a frame (at most a slot) at a time, and the
            // writer never runs more than the ring ahead of the reader: all but SlotCount of those frames were consumed.
            var sent = (at + (64 * 1024)) / options.SlotSize;
            Assert.That(writer.FramesAcknowledged, Is.GreaterThanOrEqualTo(sent - options.SlotCount),
                $"after {at + (64 * 1024)} bytes: the writer ran further ahead of the slow reader than its ring");
        }

        await writer.CompleteAsync();
        Assert.That(reading.Wait(StreamPair.Deadline), Is.True, "the reader did not reach the end");
        Assert.That(sink.ToArray(), Is.EqualTo(data));
    }

    [Test]
    public async Task ShouldCarryTheStreamThroughTheStreamAdapters()
    {
        var options = new ImcStreamOptions { Key = 730, SlotCount = 4, SlotSize = 16 * 1024 };
        var data = StreamPair.Bytes(5, 3 << 20);
        using var reader = new ImcStreamReader(_cluster.Open("beta"), options);
        using var writer = new ImcStreamWriter(_cluster.Open("alpha"), "beta", options);
        var sink = new MemoryStream();
        var reading = Task.Run(async () =>
        {
            await using var input = reader.AsStream();
            await input.CopyToAsync(sink);
        });

        await using (var output = writer.AsStream())
        {
            for (var at = 0; at < data.Length; at += 100_000)
            {
                await output.WriteAsync(data.AsMemory(at, Math.Min(100_000, data.Length - at)));
            }
        }

        Assert.That(reading.Wait(StreamPair.Deadline), Is.True, "the reader did not reach the end");
        Assert.That(sink.ToArray(), Is.EqualTo(data));
    }

    [Test]
    public async Task ShouldHandOutTheReceiveMemoryAndAllocateNothingPerFrameInTheSteadyState()
    {
        var options = new ImcStreamOptions { Key = 740, SlotCount = 64, SlotSize = 4 * 1024 };
        using var reader = new ImcStreamReader(_cluster.Open("beta"), options);
        using var writer = new ImcStreamWriter(_cluster.Open("alpha"), "beta", options);
        const int Frames = 40;
        const int Size = 1000;

        // Warm up: connect, and run every path once, so the counted round finds the JIT done and the reader attached.
        _ = await writer.WriteAsync(new byte[Size]);
        var warm = await reader.ReadAsync();
        Assert.That(warm.Buffer.Length, Is.EqualTo(Size));
        Assert.That(MemoryMarshal.TryGetArray(warm.Buffer.First, out _), Is.False, "the buffer is not a managed array");
        reader.AdvanceTo(warm.Buffer.End);
        var synchronous = 0;
        long consumed = 0;
        void Write()
        {
            var span = writer.GetSpan(Size);
            span[..Size].Fill(7);
            writer.Advance(Size);
            synchronous += CompletedAtOnce(writer.FlushAsync()) ? 1 : 0; // with credit, a flush never waits
        }

        void Read()
        {
            while (reader.TryRead(out var result) && result.Buffer.Length > 0)
            {
                consumed += result.Buffer.Length;
                reader.AdvanceTo(result.Buffer.End);
            }
        }

        _ = Rounds(Frames, Write);
        _ = Rounds(1, Read);
        synchronous = 0;
        consumed = 0;

        var writes = Rounds(Frames, Write);
        var reads = Rounds(1, Read);

        Assert.That(synchronous, Is.EqualTo(Frames));
        Assert.That(consumed, Is.EqualTo(Frames * Size), "every frame was in the receive memory once flushed");
        Assert.That(writes, Is.Zero, "bytes allocated by 40 writes and flushes");
        Assert.That(reads, Is.Zero, "bytes allocated by reading 40 frames");
    }

    private static bool CompletedAtOnce(ValueTask<System.IO.Pipelines.FlushResult> flush) => flush.IsCompletedSuccessfully;

    private static long Rounds(int count, Action round)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < count; i++)
        {
            round();
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Test]
    public void ShouldRefuseOptionsThatDescribeNoRing()
    {
        using var context = _cluster.Open("beta");
        Assert.That(() => new ImcStreamReader(context, new ImcStreamOptions { SlotCount = 1 }), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new ImcStreamReader(context, new ImcStreamOptions { SlotSize = 100 }), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new ImcStreamWriter(context, "nosuchhost", new ImcStreamOptions { Key = 750 }),
            Throws.InstanceOf<ImcException>().With.Property(nameof(ImcException.Status)).EqualTo(ImcStatus.BadHost));
    }
}
