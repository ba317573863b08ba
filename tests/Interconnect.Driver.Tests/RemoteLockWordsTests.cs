using Interconnect.Driver.Fabric;
using Interconnect.Driver.Fabric.Ucx;
using Interconnect.Driver.Store;
using Interconnect.Testing;

namespace Interconnect.Driver.Tests;

/// <summary>
/// A lock word's compare-and-swap whose answer was lost (API.md, "Faults across machines": "a timed-out atomic is
/// resolved by reading the word back"). The home machine may have applied the swap before the connection broke, so
/// <see cref="RemoteLockWords"/> reads the word back on words opened anew: an applied acquire is the caller's lock, an
/// applied release is done, and a swap that was not applied fails as it did. The words here are an array behind
/// <see cref="ILockWords"/> that loses the answer of the next swap, as a cut connection would, after or before applying it.
/// </summary>
public sealed class RemoteLockWordsTests
{
    private const long Me = 0x1_0001_0001;
    private const long Other = 0x2_0002_0002;

    [Test]
    public void ShouldHoldTheLockWhenTheAcquireWasAppliedButItsAnswerLost()
    {
        using var fixture = new Fixture();
        fixture.Arena.LoseNextAnswer(afterApplying: true);

        Assert.That(fixture.Locks.Acquire(2), Is.EqualTo(DriverStatus.Success));

        Assert.That(fixture.Arena.Words[2], Is.EqualTo(Me));
        Assert.That(fixture.Locks.Holds(2), Is.True);
        Assert.That(fixture.Arena.Opened, Is.EqualTo(2), "the word was read back on words opened anew");
    }

    [Test]
    public void ShouldReleaseTheLockWhenTheReleaseWasAppliedButItsAnswerLost()
    {
        using var fixture = new Fixture();
        Assert.That(fixture.Locks.Acquire(0), Is.EqualTo(DriverStatus.Success));
        fixture.Arena.LoseNextAnswer(afterApplying: true);

        Assert.That(fixture.Locks.Release(0), Is.EqualTo(DriverStatus.Success));

        Assert.That(fixture.Arena.Words[0], Is.Zero);
    }

    [Test]
    public void ShouldFailTheAcquireWhenTheSwapWasNotApplied()
    {
        using var fixture = new Fixture();
        fixture.Arena.LoseNextAnswer(afterApplying: false);

        var failure = Assert.Throws<DriverException>(() => fixture.Locks.Acquire(1));

        Assert.That(failure!.Status, Is.EqualTo(DriverStatus.Timeout));
        Assert.That(fixture.Arena.Words[1], Is.Zero);
        Assert.That(fixture.Locks.Holds(1), Is.False);
    }

    [Test]
    public void ShouldNotTakeALockHeldByAnotherWhenTheSwapsAnswerWasLost()
    {
        using var fixture = new Fixture();
        fixture.Arena.Words[3] = Other;
        fixture.Arena.LoseNextAnswer(afterApplying: true); // applied: the word held Other, so nothing changed

        Assert.Throws<DriverException>(() => fixture.Locks.TryAcquire(3));

        Assert.That(fixture.Arena.Words[3], Is.EqualTo(Other));
    }

    /// <summary>A lock set of four words over <see cref="Arena"/>, for a process of a machine that stands.</summary>
    private sealed class Fixture : IDisposable
    {
        private readonly TemporaryCluster _cluster = TemporaryCluster.Create("h");
        private readonly ControlFileDirectory _directory;

        public Fixture()
        {
            _directory = ControlFileDirectory.OpenOrCreate(ClusterPaths.Resolve(_cluster.Root, TemporaryCluster.ClusterName));
            Locks = new RemoteLockWords(Arena.Open, isOwnerAlive: _ => true, first: 0, Me, _directory.Standing("m"),
                new Lazy<UcxFabric>(() => throw new InvalidOperationException("nothing was written: no flush")));
        }

        public Arena Arena { get; } = new(4);

        public RemoteLockWords Locks { get; }

        public void Dispose()
        {
            Locks.Dispose();
            _directory.Dispose();
            _cluster.Dispose();
        }
    }

    /// <summary>The home machine's words; every <see cref="Open"/> is a new connection to them.</summary>
    private sealed class Arena(int count)
    {
        private bool? _loseAfterApplying;

        public long[] Words { get; } = new long[count];

        public int Opened { get; private set; }

        /// <summary>The next swap's answer is lost, the connection broken, the swap applied first or not.</summary>
        public void LoseNextAnswer(bool afterApplying) => _loseAfterApplying = afterApplying;

        public ILockWords Open()
        {
            Opened++;
            return new Connection(this);
        }

        private sealed class Connection(Arena arena) : ILockWords
        {
            public bool IsBroken { get; private set; }

            public long CompareAndSwap(int index, long expected, long desired)
            {
                ObjectDisposedException.ThrowIf(IsBroken, this);
                var held = arena.Words[index];
                if (arena._loseAfterApplying is { } applied)
                {
                    arena._loseAfterApplying = null;
                    if (applied && held == expected)
                    {
                        arena.Words[index] = desired;
                    }

                    IsBroken = true;
                    throw new DriverException(DriverStatus.Timeout, "the compare-and-swap's answer did not come");
                }

                if (held == expected)
                {
                    arena.Words[index] = desired;
                }

                return held;
            }

            public void Read(int index, Span<long> destination)
            {
                ObjectDisposedException.ThrowIf(IsBroken, this);
                arena.Words.AsSpan(index, destination.Length).CopyTo(destination);
            }

            public void Write(int index, ReadOnlySpan<long> source) => source.CopyTo(arena.Words.AsSpan(index));

            public void Dispose() => IsBroken = true;
        }
    }
}
