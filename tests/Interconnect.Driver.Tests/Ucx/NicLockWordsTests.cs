using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Driver.Store;
using Interconnect.Testing;

namespace Interconnect.Driver.Tests.Ucx;

/// <summary>
/// Lock words through the emulated NIC: a machine's agent (<see cref="UcxMachineNic"/>, as imcd runs it) applies
/// every compare-and-swap, read and write on its lock arena for a process's <see cref="NicLockWords"/>, and refuses
/// what it cannot apply: no arena published yet, words outside it, and any operation of an epoch that ended there
/// (the fencing token, checked where the word lives).
/// </summary>
[NonParallelizable]
[CancelAfter(120_000)]
public sealed unsafe class NicLockWordsTests
{
    private const int Words = 64;
    private static readonly byte[] s_key = RandomNumberGenerator.GetBytes(NicMessages.KeyLength);

    [Test]
    public void ShouldSwapReadAndWriteTheWordsOfThePublishedArena()
    {
        UcxLibraries.Require();
        using var fixture = new Fixture();
        fixture.Publish();
        using var words = fixture.Open(Words);

        words.Write(3, [10, 11, 12]);
        Assert.That(words.CompareAndSwap(4, expected: 11, desired: 99), Is.EqualTo(11), "applied: the old word comes back");
        Assert.That(words.CompareAndSwap(5, expected: 0, desired: 7), Is.EqualTo(12), "not applied: the word held another value");
        var read = new long[4];
        words.Read(2, read);

        Assert.That(read, Is.EqualTo(new long[] { 0, 10, 99, 12 }));
        Assert.That(fixture.Arena[4], Is.EqualTo(99), "the operations landed in the arena's memory");
        Assert.That(fixture.Nic.Counts.Words, Is.EqualTo(4));
    }

    [Test]
    public void ShouldRefuseTheOperationsOfAnEpochThatEndedAndLeaveTheWordAlone()
    {
        UcxLibraries.Require();
        using var fixture = new Fixture();
        fixture.Publish();
        fixture.Directory.JoinEpoch(41);
        using var fenced = fixture.Open(Words);
        fixture.Nic.SetEndedEpochs(new HashSet<long> { 41 });

        var refused = Assert.Throws<DriverException>(() => fenced.CompareAndSwap(0, expected: 0, desired: 5));

        Assert.That(refused!.Status, Is.EqualTo(DriverStatus.McError));
        Assert.That(refused.Message, Does.Contain("StaleEpoch").And.Contain("epoch has ended"));
        Assert.That(fixture.Arena[0], Is.Zero, "a lock of an ended epoch is not taken");

        fixture.Directory.JoinEpoch(42);
        using var rejoined = fixture.Open(Words);
        Assert.That(rejoined.CompareAndSwap(0, expected: 0, desired: 6), Is.Zero, "the new epoch takes it");
        Assert.That(fixture.Arena[0], Is.EqualTo(6));
    }

    [Test]
    public void ShouldRefuseWordsOutsideTheArenaAndAnArenaNotPublished()
    {
        UcxLibraries.Require();
        using var fixture = new Fixture();
        using var early = fixture.Open(Words);

        var unpublished = Assert.Throws<DriverException>(() => early.CompareAndSwap(0, 0, 1));
        Assert.That(unpublished!.Message, Does.Contain("UnknownMemory"));

        fixture.Publish();
        using var believedLonger = fixture.Open(2 * Words); // a process that believes the arena longer than it is
        var outside = Assert.Throws<DriverException>(() => believedLonger.Read(Words, new long[1]));
        Assert.That(outside!.Message, Does.Contain("OutOfBounds"));
        Assert.That(believedLonger.CompareAndSwap(Words - 1, 0, 3), Is.Zero, "the agent answers on");
        Assert.That(fixture.Nic.Counts.Refused, Is.EqualTo(2));
    }

    /// <summary>
    /// A stranger that reaches the agent's address with UCX's one-sided operations (a put names an address and any
    /// key: UCX's emulation over tcp checks none) changes nothing: the agent's context has no handler for them, so
    /// only its own messages, which it checks, reach its memory. The put fails or never completes; the arena's word
    /// stays as it was, and the agent serves lock words on.
    /// </summary>
    [Test]
    public void ShouldApplyNoOneSidedPutOfAStrangerToTheArena()
    {
        UcxLibraries.Require();
        var transports = Environment.GetEnvironmentVariable("UCX_TLS");
        Environment.SetEnvironmentVariable("UCX_TLS", "tcp"); // as across machines: puts are emulated with messages
        var own = NativeMemory.AllocZeroed(64);
        try
        {
            using var fixture = new Fixture();
            fixture.Publish();
            using var stranger = UcxContext.Create(UcxOperations.MessagesAndOneSided);
            using var worker = stranger.CreateWorker();
            worker.Timeout = TimeSpan.FromSeconds(2);
            using var memory = stranger.Map((nint)own, 64); // its own memory's key: the emulation checks none
            using var endpoint = worker.Connect(fixture.Nic.Address, "imcd");
            using var key = endpoint.UnpackKey(memory.PackKey());
            var word = BitConverter.GetBytes(0x5555L);

            Assert.Catch(() =>
            {
                endpoint.Put(word, (ulong)fixture.ArenaAddress + (3 * sizeof(long)), key);
                endpoint.Flush();
            }, "the put completed at the agent");

            Assert.That(fixture.Arena[3], Is.Zero, "a stranger's put landed in the agent's memory");
            using var words = fixture.Open(Words);
            Assert.That(words.CompareAndSwap(3, 0, 1), Is.Zero, "the agent serves lock words on");
        }
        finally
        {
            NativeMemory.Free(own);
            Environment.SetEnvironmentVariable("UCX_TLS", transports);
        }
    }

    /// <summary>An agent's NIC with an arena of <see cref="Words"/> words, and a process's fabric toward it.</summary>
    private sealed class Fixture : IDisposable
    {
        private readonly TemporaryCluster _cluster = TemporaryCluster.Create("h");
        private readonly long* _arena = (long*)NativeMemory.AllocZeroed(Words * sizeof(long));
        private readonly UcxFabric _fabric = new();

        public Fixture()
        {
            Directory = ControlFileDirectory.OpenOrCreate(ClusterPaths.Resolve(_cluster.Root, TemporaryCluster.ClusterName));
        }

        public UcxMachineNic Nic { get; } = UcxMachineNic.Start(rails: 1, raise: _ => { }, ProgressMode.Wait, s_key);

        public ControlFileDirectory Directory { get; }

        public Span<long> Arena => new(_arena, Words);

        public nint ArenaAddress => (nint)_arena;

        public void Publish() => Nic.PublishArena((nint)_arena, Words);

        /// <summary>The arena's words as a process of this machine's current epoch opens them, believing it <paramref name="words"/> long.</summary>
        public ILockWords Open(int words) => _fabric.OpenWords("m", Nic.Address, words, Directory.Standing("m", () => s_key));

        public void Dispose()
        {
            Nic.Dispose();
            NativeMemory.Free(_arena);
            Directory.Dispose();
            _cluster.Dispose();
        }
    }
}
