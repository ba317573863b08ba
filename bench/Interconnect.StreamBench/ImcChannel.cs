using Interconnect.Imc;
using Interconnect.Imc.Streams;

namespace Interconnect.StreamBench;

/// <summary>
/// Two Imc streams, one each way (keys K and K + 2), between hosts alpha (the coordinator) and beta (the peer). Sends
/// go through GetSpan/Advance/FlushAsync; receives copy out of the reader's buffers (the receive memory) and advance.
/// Throughput produces each message straight into the writer's spans and sums the words in the reader's buffers,
/// which are the receive memory itself: no copy on either side but the writer's one write into the ring.
/// </summary>
internal sealed class ImcChannel : IChannel
{
    private readonly ImcContext _context;
    private readonly ImcStreamWriter _writer;
    private readonly ImcStreamReader _reader;

    public ImcChannel(string root, bool coordinator, bool spin, int slots, int slotKib)
    {
        var host = coordinator ? "alpha" : "beta";
        if (coordinator)
        {
            // Both hosts up before either attaches point-to-point to the other (auto-initialisation is imc_init).
            ImcContext.Open(new ImcOptions { Root = root, Cluster = "bench", Host = "beta", AutoInitialize = true }).Dispose();
        }

        _context = ImcContext.Open(new ImcOptions { Root = root, Cluster = "bench", Host = host, AutoInitialize = true });
        var spinFor = spin ? TimeSpan.FromHours(1) : TimeSpan.FromMilliseconds(0.2);
        var outbound = new ImcStreamOptions
        {
            Key = coordinator ? 5000 : 5002,
            SlotCount = slots,
            SlotSize = slotKib * 1024,
            SpinBeforeSleep = spinFor,
            PeerTimeout = TimeSpan.FromSeconds(60),
        };
        var inbound = outbound with { Key = coordinator ? 5002 : 5000 };
        _reader = new ImcStreamReader(_context, inbound);
        _writer = new ImcStreamWriter(_context, coordinator ? "beta" : "alpha", outbound);
    }

    public void Send(ReadOnlySpan<byte> message)
    {
        while (!message.IsEmpty)
        {
            var span = _writer.GetSpan();
            var part = Math.Min(span.Length, message.Length);
            message[..part].CopyTo(span);
            _writer.Advance(part);
            message = message[part..];
        }

        var flush = _writer.FlushAsync();
        if (!flush.IsCompleted)
        {
            _ = flush.AsTask().GetAwaiter().GetResult();
        }
    }

    public void Receive(Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            var read = _reader.ReadAsync();
            var result = read.IsCompleted ? read.Result : read.AsTask().GetAwaiter().GetResult();
            var buffer = result.Buffer;
            var take = (int)Math.Min(buffer.Length, destination.Length);
            var slice = buffer.Slice(0, take);
            foreach (var segment in slice)
            {
                segment.Span.CopyTo(destination);
                destination = destination[segment.Length..];
            }

            _reader.AdvanceTo(slice.End);
        }
    }

    public void SendProduced(int size, long number)
    {
        while (size > 0)
        {
            var span = _writer.GetSpan();
            var part = Math.Min(span.Length, size);
            Words.Fill(span[..part], (ulong)number);
            _writer.Advance(part);
            size -= part;
        }

        var flush = _writer.FlushAsync();
        if (!flush.IsCompleted)
        {
            _ = flush.AsTask().GetAwaiter().GetResult();
        }
    }

    public void Consume(int size, ref WordSum sum)
    {
        while (size > 0)
        {
            var read = _reader.ReadAsync();
            var result = read.IsCompleted ? read.Result : read.AsTask().GetAwaiter().GetResult();
            var slice = result.Buffer.Length > size ? result.Buffer.Slice(0, size) : result.Buffer;
            foreach (var segment in slice)
            {
                sum.Add(segment.Span);
            }

            size -= (int)slice.Length;
            _reader.AdvanceTo(slice.End);
        }
    }

    public void Dispose()
    {

        _writer.Dispose();
        _reader.Dispose();
        _context.Dispose();
    }
}
