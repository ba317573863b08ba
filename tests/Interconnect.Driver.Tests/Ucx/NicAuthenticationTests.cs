using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Interconnect.Driver.Directory;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Driver.Store;
using Interconnect.Testing;
using Native = Interconnect.Driver.Interop.Ucx;

namespace Interconnect.Driver.Tests.Ucx;

/// <summary>
/// The cluster key on the emulated NIC's connections: a machine's agent (<see cref="UcxMachineNic"/>, as imcd runs it)
/// applies writes, answers reads and applies lock-word operations only from connections whose hello presented the
/// cluster key. A stranger who reaches the agent's UCX address and sends well-formed messages, with no hello or with
/// a hello of another key, changes no byte of published memory or of the lock arena and gets no byte back, while a
/// process that holds the key (a <see cref="UcxFabric"/>) writes and reads on; the agent counts what it refused.
/// </summary>
[NonParallelizable]
[CancelAfter(120_000)]
public sealed unsafe class NicAuthenticationTests
{
    private const int Size = 4096;
    private const int ArenaWords = 64;
    private const byte Secret = 0xAB;
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(20);

    // What came back to the stranger (its worker's handlers, on the test's thread inside progress).
    private static long s_answers;
    private static long s_answeredBytes;
    private static long s_flushed;

    [Test]
    public void ShouldApplyNothingFromAConnectionThatNeverPresentedTheKey()
    {
        UcxLibraries.Require();
        using var fixture = new Fixture();
        using var stranger = new Stranger(fixture.Nic.Address);
        var before = fixture.Nic.Counts;

        var sent = stranger.SendEverything(fixture.MemoryId);

        fixture.AssertNothingApplied(stranger, sent, before);
    }

    [Test]
    public void ShouldApplyNothingFromAConnectionWhoseHelloPresentedAnotherKey()
    {
        UcxLibraries.Require();
        using var fixture = new Fixture();
        using var stranger = new Stranger(fixture.Nic.Address);
        var before = fixture.Nic.Counts;

        stranger.Hello(RandomNumberGenerator.GetBytes(NicMessages.KeyLength));
        var sent = 1 + stranger.SendEverything(fixture.MemoryId);

        fixture.AssertNothingApplied(stranger, sent, before);
        Assert.That(fixture.Nic.Connections, Is.EqualTo(1), "only the key holder's connection is authenticated");
    }

    /// <summary>
    /// A connection that presented the key ends (its sender closes it); UCX destroys the agent's endpoint of it without
    /// a word and gives its handle to the next connection, a stranger's. The stranger's messages, on that handle, name
    /// another writer than the hello did: refused, and the handle's record dropped.
    /// </summary>
    [Test]
    public void ShouldRefuseAStrangerOnTheReusedEndpointOfAClosedConnection()
    {
        UcxLibraries.Require();
        var transports = Environment.GetEnvironmentVariable("UCX_TLS");
        Environment.SetEnvironmentVariable("UCX_TLS", "tcp"); // as across machines: a closed connection is a closed socket
        try
        {
            RefuseOnAReusedEndpoint();
        }
        finally
        {
            Environment.SetEnvironmentVariable("UCX_TLS", transports);
        }
    }

    private static void RefuseOnAReusedEndpoint()
    {
        using var fixture = new Fixture();
        using (var holder = new Stranger(fixture.Nic.Address, writer: 0x1001))
        {
            holder.Hello(fixture.Key);
            holder.Write(fixture.MemoryId, sequence: 1, offset: 64, 0x1122334455667788);
            Eventually(() => fixture.Memory(64) == 0x1122334455667788, "a raw sender that presented the key writes");
            Assert.That(fixture.Nic.Connections, Is.EqualTo(1));
        }

        Thread.Sleep(500); // the agent sees the connection end (UCX destroys its endpoint then), which nothing reports

        using var late = new Stranger(fixture.Nic.Address);
        var before = fixture.Nic.Counts;
        var sent = late.SendEverything(fixture.MemoryId);
        fixture.AssertNothingApplied(late, sent, before); // and the closed connection's record went: the handle was reused
    }

    private static void Eventually(Func<bool> condition, string what)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(s_deadline.TotalSeconds * Stopwatch.Frequency);
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                Assert.Fail($"not within {s_deadline.TotalSeconds} s: {what}");
            }

            Thread.Sleep(5);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static sbyte OnAnswer(nint argument, byte* header, nuint headerLength, byte* data, nuint length, Native.AmRecvParam* param)
    {
        Interlocked.Increment(ref s_answers);
        Interlocked.Add(ref s_answeredBytes, (long)length);
        if (argument == NicMessages.Flushed)
        {
            Interlocked.Increment(ref s_flushed);
        }

        return Native.Ok;
    }

    /// <summary>A process with no key: raw UCX, its own context, the protocol's messages well formed.</summary>
    private sealed class Stranger : IDisposable
    {
        private readonly UcxContext _context = UcxContext.Create(UcxOperations.Messages);
        private readonly UcxWorker _worker;
        private readonly UcxEndpoint _endpoint;

        private readonly ulong _writer;

        public Stranger(byte[] address, ulong writer = 77)
        {
            _writer = writer;
            s_answers = 0;
            s_answeredBytes = 0;
            s_flushed = 0;
            _worker = _context.CreateWorker();
            _worker.SetMessageHandler(NicMessages.Flushed, &OnAnswer, (nint)NicMessages.Flushed);
            _worker.SetMessageHandler(NicMessages.Refused, &OnAnswer, (nint)NicMessages.Refused);
            _worker.SetMessageHandler(NicMessages.ReadData, &OnAnswer, (nint)NicMessages.ReadData);
            _endpoint = _worker.Connect(address, "the agent");
        }

        public void Hello(byte[] key)
        {
            var hello = new NicMessages.HelloHeader { Writer = _writer };
            key.CopyTo(new Span<byte>(hello.Key, NicMessages.KeyLength));
            _endpoint.Send(NicMessages.Hello, new ReadOnlySpan<byte>(&hello, sizeof(NicMessages.HelloHeader)), new byte[8]);
        }

        public void Write(ulong memory, ulong sequence, ulong offset, long value)
        {
            var write = new NicMessages.WriteHeader { Writer = _writer, Sequence = sequence, Memory = memory, Offset = offset };
            _endpoint.Send(NicMessages.Write, new ReadOnlySpan<byte>(&write, sizeof(NicMessages.WriteHeader)), BitConverter.GetBytes(value));
        }

        /// <summary>A write, a read, a flush (with and without a token), and every lock-word operation: how many messages.</summary>
        public int SendEverything(ulong memory)
        {
            Write(memory, sequence: 1, offset: 0, 0x5555_5555_5555_5555);
            Write(memory, sequence: 2, offset: Size - 8, 0x6666);
            var read = new NicMessages.ReadHeader { Token = 11, Writer = _writer, Memory = memory, Offset = 0, Length = Size };
            _endpoint.Send(NicMessages.Read, new ReadOnlySpan<byte>(&read, sizeof(NicMessages.ReadHeader)), []);
            var cas = new NicMessages.WordsHeader { Token = 12, Writer = _writer, Expected = 0, Desired = 5, Index = 0, Count = 1, Op = (int)NicMessages.WordOp.CompareAndSwap };
            _endpoint.Send(NicMessages.Words, new ReadOnlySpan<byte>(&cas, sizeof(NicMessages.WordsHeader)), []);
            var words = new NicMessages.WordsHeader { Token = 13, Writer = _writer, Index = 0, Count = 4, Op = (int)NicMessages.WordOp.Read };
            _endpoint.Send(NicMessages.Words, new ReadOnlySpan<byte>(&words, sizeof(NicMessages.WordsHeader)), []);
            var store = new NicMessages.WordsHeader { Token = 14, Writer = _writer, Index = 1, Count = 2, Op = (int)NicMessages.WordOp.Write };
            _endpoint.Send(NicMessages.Words, new ReadOnlySpan<byte>(&store, sizeof(NicMessages.WordsHeader)),
                MemoryMarshal.AsBytes<long>([9, 9]));
            var flush = new NicMessages.FlushHeader { Writer = _writer, Token = 15 };
            _endpoint.Send(NicMessages.Flush, new ReadOnlySpan<byte>(&flush, sizeof(NicMessages.FlushHeader)), new byte[8]);
            var oldHello = new NicMessages.FlushHeader { Writer = _writer, Token = 0 }; // the hello before there was a key
            _endpoint.Send(NicMessages.Flush, new ReadOnlySpan<byte>(&oldHello, sizeof(NicMessages.FlushHeader)), new byte[8]);
            return 8;
        }

        /// <summary>Takes in whatever the agent answered, for a moment.</summary>
        public void Listen(TimeSpan during)
        {
            var until = Stopwatch.GetTimestamp() + (long)(during.TotalSeconds * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < until)
            {
                if (_worker.Progress() == 0)
                {
                    Thread.Sleep(1);
                }
            }
        }

        public void Dispose()
        {
            _endpoint.Dispose();
            _worker.Dispose();
            _context.Dispose();
        }
    }

    /// <summary>An agent's NIC with published memory (filled with a secret) and an arena, and a key holder's fabric toward it.</summary>
    private sealed class Fixture : IDisposable
    {
        private readonly TemporaryCluster _cluster = TemporaryCluster.Create("h");
        private readonly ControlFileDirectory _directory;
        private readonly byte* _memory = (byte*)NativeMemory.Alloc(Size);
        private readonly long* _arena = (long*)NativeMemory.AllocZeroed(ArenaWords * sizeof(long));
        private readonly UcxFabric _fabric = new();

        public Fixture()
        {
            new Span<byte>(_memory, Size).Fill(Secret);
            Nic = UcxMachineNic.Start(rails: 1, raise: _ => { }, ProgressMode.Wait, Key);
            MemoryId = Nic.Publish((nint)_memory, Size, 0);
            Nic.PublishArena((nint)_arena, ArenaWords);
            _directory = ControlFileDirectory.OpenOrCreate(ClusterPaths.Resolve(_cluster.Root, TemporaryCluster.ClusterName));
        }

        public byte[] Key { get; } = RandomNumberGenerator.GetBytes(NicMessages.KeyLength);

        public UcxMachineNic Nic { get; }

        public ulong MemoryId { get; }

        public long Memory(int offset) => Volatile.Read(ref *(long*)(_memory + offset));

        /// <summary>
        /// After a stranger sent <paramref name="sent"/> messages: the agent counted each as unauthenticated and applied
        /// none (the memory still holds the secret, but where a key holder wrote, the arena is untouched), the stranger
        /// got no byte and no flush confirmed; and the key holder's writes, reads and lock words work on.
        /// </summary>
        public void AssertNothingApplied(Stranger stranger, int sent, NicCounts before)
        {
            // Taken in once the agent counted as many messages as were sent, or (with the check gone) once it applied
            // or answered them: the stranger's answers come while it listens.
            Eventually(() => Nic.Counts.Unauthenticated - before.Unauthenticated >= sent ||
                             Nic.Counts.Applied + Nic.Counts.Reads + Nic.Counts.Words - before.Applied - before.Reads - before.Words >= 5,
                $"the agent took in the stranger's {sent} messages");
            stranger.Listen(TimeSpan.FromMilliseconds(300));

            var counts = Nic.Counts;
            Assert.That(Memory(0), Is.EqualTo(Pattern()), "the stranger's write landed");
            Assert.That(Memory(Size - 8), Is.EqualTo(Pattern()), "the stranger's second write landed");
            Assert.That(new Span<long>(_arena, ArenaWords).ToArray(), Is.All.Zero, "the stranger changed a lock word");
            Assert.That(Interlocked.Read(ref s_answeredBytes), Is.Zero, "the stranger got bytes back");
            Assert.That(Interlocked.Read(ref s_flushed), Is.Zero, "the stranger's flush was confirmed");
            Assert.That(counts.Applied + counts.Reads + counts.Words - before.Applied - before.Reads - before.Words, Is.Zero,
                "something of the stranger's was applied or read");
            Assert.That(counts.Unauthenticated - before.Unauthenticated, Is.EqualTo(sent),
                "each message of the stranger was counted as unauthenticated");

            Assert.That(Nic.Connections, Is.Zero, "a connection is still recorded as authenticated (the closed one's, if UCX did not reuse its handle for the stranger)");

            // The key holder (a process whose imcd gave it the key) writes, reads and takes a lock word on.
            var standing = _directory.Standing("m", () => Key);
            using var target = _fabric.OpenTarget(new RemoteMemory("m", "test", Nic.Address, MemoryId, Rail: 0, Size), standing);
            var value = 0x0102030405060708L;
            _ = target.Start(8, (byte*)&value, sizeof(long));
            target.Fence();
            Assert.That(Memory(8), Is.EqualTo(value), "the key holder's write landed");
            var copy = new byte[Size];
            fixed (byte* destination = copy)
            {
                _fabric.Read(new RemoteMemory("m", "test", Nic.Address, MemoryId, Rail: 0, Size), destination, Size, standing);
            }

            Assert.That(copy[Size - 1], Is.EqualTo(Secret), "the key holder reads the memory");
            using var words = _fabric.OpenWords("m", Nic.Address, ArenaWords, standing);
            Assert.That(words.CompareAndSwap(7, 0, 1), Is.Zero, "the key holder takes a lock word");
            Assert.That(Nic.Counts.Unauthenticated, Is.EqualTo(counts.Unauthenticated), "the key holder's messages were refused");
        }

        private static long Pattern() => BitConverter.ToInt64(Enumerable.Repeat(Secret, 8).ToArray());

        public void Dispose()
        {
            Nic.Dispose();
            NativeMemory.Free(_memory);
            NativeMemory.Free(_arena);
            _directory.Dispose();
            _cluster.Dispose();
        }
    }
}
