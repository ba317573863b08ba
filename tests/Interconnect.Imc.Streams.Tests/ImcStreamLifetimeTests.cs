using Interconnect.Imc;
using Interconnect.Testing;

namespace Interconnect.Imc.Streams.Tests;

/// <summary>Ends that go away: a reader replaced midway, a writer that stops without ending, a reader that never comes.</summary>
public sealed class ImcStreamLifetimeTests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    [Test]
    public async Task ShouldResumeExactlyWhereTheFormerReaderStoppedWhenANewReaderTakesOver()
    {
        var options = new ImcStreamOptions { Key = 800, SlotCount = 8, SlotSize = 8 * 1024, PeerTimeout = TimeSpan.FromSeconds(60) };
        var data = StreamPair.Bytes(6, 8 << 20);
        var firstContext = ImcContext.Open(_cluster.Options("beta"));
        var first = new ImcStreamReader(firstContext, options);
        using var writer = new ImcStreamWriter(_cluster.Open("alpha"), "beta", options);
        var writing = Task.Run(async () =>
        {
            for (var at = 0; at < data.Length; at += 10_000)
            {
                _ = await writer.WriteAsync(data.AsMemory(at, Math.Min(10_000, data.Length - at)));
            }

            await writer.CompleteAsync();
        });

        // The first reader consumes an odd amount, mid-frame, and goes away without a word, as a killed process would:
        // its context closes, so this host's receive memory of the ring is dropped and comes back zeroed.
        var sink = new MemoryStream();
        var firstPart = await StreamPair.DrainAsync(first, sink, stopAfter: (3 << 20) + 12_345, maxConsume: 7_777);
        first.Dispose();
        firstContext.Dispose();
        Assert.That(firstPart, Is.EqualTo((3 << 20) + 12_345));

        using var second = new ImcStreamReader(_cluster.Open("beta"), options);
        Assert.That(second.IsResumed, Is.True);
        Assert.That(second.StartPosition, Is.EqualTo(firstPart));
        _ = await StreamPair.DrainAsync(second, sink);

        Assert.That(writing.Wait(StreamPair.Deadline), Is.True, "the writer did not see the whole stream consumed");
        Assert.That(writer.ReaderRestarts, Is.EqualTo(1));
        Assert.That(sink.Length, Is.EqualTo(data.Length));
        Assert.That(StreamPair.Sha256(sink.ToArray()), Is.EqualTo(StreamPair.Sha256(data)));
    }

    [Test]
    public async Task ShouldTellTheReaderTheSenderIsGoneWhenItStopsWithoutEnding()
    {
        var options = new ImcStreamOptions { Key = 810, SlotCount = 4, SlotSize = 4 * 1024, PeerTimeout = TimeSpan.FromSeconds(1) };
        using var reader = new ImcStreamReader(_cluster.Open("beta"), options);
        var writerContext = ImcContext.Open(_cluster.Options("alpha"));
        var writer = new ImcStreamWriter(writerContext, "beta", options);
        _ = await writer.WriteAsync(new byte[5000]);
        writer.Dispose();
        writerContext.Dispose();

        var sink = new MemoryStream();
        var draining = StreamPair.DrainAsync(reader, sink);
        var gone = Assert.ThrowsAsync<ImcStreamPeerGoneException>(async () => await draining.WaitAsync(StreamPair.Deadline));
        Assert.That(sink.Length, Is.EqualTo(5000), "what was sent was received");
        Assert.That(gone!.Message, Does.Contain("the sender of stream key 810 gave no sign of life for 1 s"));
    }

    [Test]
    public void ShouldTellTheWriterTheReaderIsGoneWhenNoneComes()
    {
        var options = new ImcStreamOptions { Key = 820, SlotCount = 2, SlotSize = 4 * 1024, PeerTimeout = TimeSpan.FromSeconds(1) };
        var writer = new ImcStreamWriter(_cluster.Open("alpha"), "beta", options);
        var gone = Assert.ThrowsAsync<ImcStreamPeerGoneException>(async () =>
        {
            _ = await writer.WriteAsync(new byte[100_000]).AsTask().WaitAsync(StreamPair.Deadline);
        });
        Assert.That(gone!.Message, Does.Contain("the reader on host 'beta' (stream key 820) gave no sign of life for 1 s"));
        writer.Dispose();
    }

    [Test]
    public async Task ShouldStopTheWriterWithAnErrorWhenTheReaderClosesBeforeTheEnd()
    {
        var options = new ImcStreamOptions { Key = 830, SlotCount = 2, SlotSize = 4 * 1024 };
        var reader = new ImcStreamReader(_cluster.Open("beta"), options);
        using var writer = new ImcStreamWriter(_cluster.Open("alpha"), "beta", options);
        _ = await writer.WriteAsync(new byte[1000]);
        var result = await reader.ReadAsync();
        Assert.That(result.Buffer.Length, Is.EqualTo(1000));
        reader.AdvanceTo(result.Buffer.End);
        reader.Complete();

        var closed = Assert.ThrowsAsync<IOException>(async () =>
        {
            _ = await writer.WriteAsync(new byte[100_000]).AsTask().WaitAsync(StreamPair.Deadline);
        });
        Assert.That(closed!.Message, Does.Contain("closed stream key 830 before its end"));
    }

    [Test]
    public async Task ShouldTellTheReaderTheSenderAbortedWhenTheWriterCompletesWithAnError()
    {
        var options = new ImcStreamOptions { Key = 840, SlotCount = 4, SlotSize = 4 * 1024 };
        using var reader = new ImcStreamReader(_cluster.Open("beta"), options);
        var writer = new ImcStreamWriter(_cluster.Open("alpha"), "beta", options);
        _ = await writer.WriteAsync(new byte[3000]);
        await writer.CompleteAsync(new InvalidOperationException("the source failed"));

        var sink = new MemoryStream();
        var aborted = Assert.ThrowsAsync<IOException>(async () => await StreamPair.DrainAsync(reader, sink).WaitAsync(StreamPair.Deadline));
        Assert.That(aborted!.Message, Does.Contain("the sender aborted stream key 840 after 3000 bytes"));
        Assert.That(sink.Length, Is.EqualTo(3000), "what was sent before the abort was received");
    }
}
