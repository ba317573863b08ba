using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Interconnect.Driver.Directory;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Driver.Store;
using Interconnect.Testing;

namespace Interconnect.Driver.Tests.Ucx;

/// <summary>
/// The emulated NIC's reads (the first copy of a coherent region on a machine): the agent's side
/// (<see cref="NicReceiver"/>, on a worker of its own with a progress thread, as in imcd) answers a process's side
/// (<see cref="UcxFabric"/>) with the bytes of memory it published now, and refuses memory it withdrew or a range
/// outside it, without harm; withdrawn memory can be freed at once.
/// </summary>
[NonParallelizable]
[CancelAfter(120_000)]
public sealed unsafe class NicReadTests
{
    private const int Size = 600_001; // three messages, the last a short one not ending on a word

    [Test]
    public void ShouldReadPublishedMemoryWholeAndRefuseWithdrawnMemoryAndRangesOutsideIt()
    {
        UcxLibraries.Require();
        using var agent = new Agent();
        var memory = (byte*)NativeMemory.Alloc(Size);
        var other = (byte*)NativeMemory.Alloc(4096);
        var scratch = (byte*)NativeMemory.Alloc(Size + 8); // where the refused reads would have gone
        try
        {
            Random.Shared.NextBytes(new Span<byte>(memory, Size));
            new Span<byte>(other, 4096).Fill(7);
            var id = agent.Run(() => agent.Nic.Publish((nint)memory, Size, 0));
            var otherId = agent.Run(() => agent.Nic.Publish((nint)other, 4096, 0));
            using var cluster = TemporaryCluster.Create("h");
            using var directory = ControlFileDirectory.OpenOrCreate(ClusterPaths.Resolve(cluster.Root, TemporaryCluster.ClusterName));
            var standing = directory.Standing("m"); // epoch 0, not fenced: a process of a machine with no imcd yet
            var peers = new UcxFabric();

            var copy = new byte[Size];
            fixed (byte* destination = copy)
            {
                peers.Read(Remote(agent, id, Size), destination, Size, standing);
            }

            Assert.That(copy, Is.EqualTo(new Span<byte>(memory, Size).ToArray()), "the bytes read are the memory's");
            Assert.That(agent.Nic.Reads, Is.EqualTo(3));

            // A range outside the memory (the reader believes it longer): refused by the agent, nothing read.
            var outside = Assert.Throws<DriverException>(() => peers.Read(Remote(agent, id, Size + 8), scratch, Size + 8, standing));
            Assert.That(outside!.Status, Is.EqualTo(DriverStatus.McError));
            Assert.That(outside.Message, Does.Contain("OutOfBounds"));

            // Withdrawn, then freed at once (as imcd unmaps it): a read that names it is refused, and the agent runs on.
            agent.Run(() => agent.Nic.Withdraw(id));
            NativeMemory.Free(memory);
            memory = null;
            var withdrawn = Assert.Throws<DriverException>(() => peers.Read(Remote(agent, id, Size), scratch, Size, standing));
            Assert.That(withdrawn!.Status, Is.EqualTo(DriverStatus.McError));
            Assert.That(withdrawn.Message, Does.Contain("UnknownMemory").And.Contain("withdrawn"));

            var still = new byte[4096];
            fixed (byte* destination = still)
            {
                peers.Read(Remote(agent, otherId, 4096), destination, 4096, standing);
            }

            Assert.That(still, Is.All.EqualTo(7), "the agent still answers reads of memory it publishes");
            Assert.That(agent.Nic.Refused, Is.EqualTo(2));
        }
        finally
        {
            NativeMemory.Free(memory);
            NativeMemory.Free(other);
            NativeMemory.Free(scratch);
        }
    }

    /// <summary>
    /// A reader whose machine's epoch the agent knows as ended (the machine was fenced, or joined again) is refused
    /// with StaleEpoch and gets no bytes, though its own control file still says it stands; a reader of a live epoch
    /// reads the same memory.
    /// </summary>
    [Test]
    public void ShouldRefuseAReadFromAnEpochThatEnded()
    {
        UcxLibraries.Require();
        using var agent = new Agent();
        var memory = (byte*)NativeMemory.Alloc(4096);
        try
        {
            new Span<byte>(memory, 4096).Fill(9);
            var id = agent.Run(() => agent.Nic.Publish((nint)memory, 4096, 0));
            using var cluster = TemporaryCluster.Create("h");
            using var directory = ControlFileDirectory.OpenOrCreate(ClusterPaths.Resolve(cluster.Root, TemporaryCluster.ClusterName));
            directory.JoinEpoch(41);
            var ended = directory.Standing("m");
            agent.Nic.SetEndedEpochs([41]);
            var peers = new UcxFabric();

            var copy = (byte*)NativeMemory.AllocZeroed(4096);
            try
            {
                var refused = Assert.Throws<DriverException>(() => peers.Read(Remote(agent, id, 4096), copy, 4096, ended));
                Assert.That(refused!.Status, Is.EqualTo(DriverStatus.McError));
                Assert.That(refused.Message, Does.Contain("StaleEpoch").And.Contain("epoch has ended"));
                Assert.That(new Span<byte>(copy, 4096).ToArray(), Is.All.Zero, "nothing of the memory came with the refusal");

                directory.JoinEpoch(42);
                peers.Read(Remote(agent, id, 4096), copy, 4096, directory.Standing("m"));
                Assert.That(new Span<byte>(copy, 4096).ToArray(), Is.All.EqualTo(9), "a reader of a live epoch reads the memory");
            }
            finally
            {
                NativeMemory.Free(copy);
            }

            Assert.That(agent.Nic.Refused, Is.EqualTo(1));
        }
        finally
        {
            NativeMemory.Free(memory);
        }
    }

    private static RemoteMemory Remote(Agent agent, ulong id, long length) =>
        new("m", "test", agent.Address, id, Rail: 0, length);

    /// <summary>An agent's NIC: its worker progressed by a thread of its own, which also runs what the test asks of it.</summary>
    private sealed class Agent : IDisposable
    {
        private readonly UcxContext _context = UcxContext.Create();
        private readonly UcxWorker _worker;
        private readonly Thread _progress;
        private readonly ConcurrentQueue<Action> _actions = new();
        private volatile bool _stop;

        public Agent()
        {
            _worker = _context.CreateWorker();
            Nic = new NicReceiver(_worker, rails: 1, raise: _ => { });
            Address = _worker.Address;
            _progress = new Thread(() =>
            {
                while (!_stop)
                {
                    while (_actions.TryDequeue(out var action))
                    {
                        action();
                    }

                    if (_worker.Progress() == 0)
                    {
                        Thread.Yield();
                    }

                    Nic.Collect();
                }
            }) { IsBackground = true };
            _progress.Start();
        }

        public NicReceiver Nic { get; }

        public byte[] Address { get; }

        /// <summary>Runs <paramref name="action"/> on the progress thread (where the NIC's tables live) and waits.</summary>
        public void Run(Action action) => Run(() =>
        {
            action();
            return 0;
        });

        public T Run<T>(Func<T> function)
        {
            var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            _actions.Enqueue(() => done.SetResult(function()));
            return done.Task.WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        }

        public void Dispose()
        {
            _stop = true;
            _progress.Join(TimeSpan.FromSeconds(10));
            Nic.Dispose();
            _worker.Dispose();
            _context.Dispose();
        }
    }
}
