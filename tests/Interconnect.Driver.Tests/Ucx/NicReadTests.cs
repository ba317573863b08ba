using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Interconnect.Driver.Directory;
using Interconnect.Driver.Fabric;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Driver.Store;
using Interconnect.Testing;

namespace Interconnect.Driver.Tests.Ucx;

/// <summary>
/// The emulated NIC's reads (the first copy of a coherent region on a machine): the agent's side
/// (<see cref="UcxMachineNic"/>, as imcd runs it) answers a process's side
/// (<see cref="UcxFabric"/>) with the bytes of memory it published now, and refuses memory it withdrew or a range
/// outside it, without harm; withdrawn memory can be freed at once.
/// </summary>
[NonParallelizable]
[CancelAfter(120_000)]
public sealed unsafe class NicReadTests
{
    private const int Size = 600_001; // three messages, the last a short one not ending on a word
    private static readonly byte[] s_key = RandomNumberGenerator.GetBytes(NicMessages.KeyLength);

    [Test]
    public void ShouldReadPublishedMemoryWholeAndRefuseWithdrawnMemoryAndRangesOutsideIt()
    {
        UcxLibraries.Require();
        using var nic = UcxMachineNic.Start(rails: 1, raise: _ => { }, ProgressMode.Wait, s_key);
        var memory = (byte*)NativeMemory.Alloc(Size);
        var other = (byte*)NativeMemory.Alloc(4096);
        var scratch = (byte*)NativeMemory.Alloc(Size + 8); // where the refused reads would have gone
        try
        {
            Random.Shared.NextBytes(new Span<byte>(memory, Size));
            new Span<byte>(other, 4096).Fill(7);
            var id = nic.Publish((nint)memory, Size, 0);
            var otherId = nic.Publish((nint)other, 4096, 0);
            using var cluster = TemporaryCluster.Create("h");
            using var directory = ControlFileDirectory.OpenOrCreate(ClusterPaths.Resolve(cluster.Root, TemporaryCluster.ClusterName));
            var standing = directory.Standing("m", () => s_key); // epoch 0, not fenced: a process of a machine with no imcd yet
            var peers = new UcxFabric();

            var copy = new byte[Size];
            fixed (byte* destination = copy)
            {
                peers.Read(Remote(nic, id, Size), destination, Size, standing);
            }

            Assert.That(copy, Is.EqualTo(new Span<byte>(memory, Size).ToArray()), "the bytes read are the memory's");
            Assert.That(nic.Counts.Reads, Is.EqualTo(3));

            // A range outside the memory (the reader believes it longer): refused by the agent, nothing read.
            var outside = Assert.Throws<DriverException>(() => peers.Read(Remote(nic, id, Size + 8), scratch, Size + 8, standing));
            Assert.That(outside!.Status, Is.EqualTo(DriverStatus.McError));
            Assert.That(outside.Message, Does.Contain("OutOfBounds"));

            // Withdrawn, then freed at once (as imcd unmaps it): a read that names it is refused, and the agent runs on.
            nic.Withdraw(id);
            NativeMemory.Free(memory);
            memory = null;
            var withdrawn = Assert.Throws<DriverException>(() => peers.Read(Remote(nic, id, Size), scratch, Size, standing));
            Assert.That(withdrawn!.Status, Is.EqualTo(DriverStatus.McError));
            Assert.That(withdrawn.Message, Does.Contain("UnknownMemory").And.Contain("withdrawn"));

            var still = new byte[4096];
            fixed (byte* destination = still)
            {
                peers.Read(Remote(nic, otherId, 4096), destination, 4096, standing);
            }

            Assert.That(still, Is.All.EqualTo(7), "the agent still answers reads of memory it publishes");
            Assert.That(nic.Counts.Refused, Is.EqualTo(2));
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
        using var nic = UcxMachineNic.Start(rails: 1, raise: _ => { }, ProgressMode.Wait, s_key);
        var memory = (byte*)NativeMemory.Alloc(4096);
        try
        {
            new Span<byte>(memory, 4096).Fill(9);
            var id = nic.Publish((nint)memory, 4096, 0);
            using var cluster = TemporaryCluster.Create("h");
            using var directory = ControlFileDirectory.OpenOrCreate(ClusterPaths.Resolve(cluster.Root, TemporaryCluster.ClusterName));
            directory.JoinEpoch(41);
            var ended = directory.Standing("m", () => s_key);
            nic.SetEndedEpochs(new HashSet<long> { 41 });
            var peers = new UcxFabric();

            var copy = (byte*)NativeMemory.AllocZeroed(4096);
            try
            {
                var refused = Assert.Throws<DriverException>(() => peers.Read(Remote(nic, id, 4096), copy, 4096, ended));
                Assert.That(refused!.Status, Is.EqualTo(DriverStatus.McError));
                Assert.That(refused.Message, Does.Contain("StaleEpoch").And.Contain("epoch has ended"));
                Assert.That(new Span<byte>(copy, 4096).ToArray(), Is.All.Zero, "nothing of the memory came with the refusal");

                directory.JoinEpoch(42);
                peers.Read(Remote(nic, id, 4096), copy, 4096, directory.Standing("m", () => s_key));
                Assert.That(new Span<byte>(copy, 4096).ToArray(), Is.All.EqualTo(9), "a reader of a live epoch reads the memory");
            }
            finally
            {
                NativeMemory.Free(copy);
            }

            Assert.That(nic.Counts.Refused, Is.EqualTo(1));
        }
        finally
        {
            NativeMemory.Free(memory);
        }
    }

    private static RemoteMemory Remote(UcxMachineNic nic, ulong id, long length) =>
        new("m", "test", nic.Address, id, Rail: 0, length);
}
