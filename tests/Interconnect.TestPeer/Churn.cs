using System.Globalization;
using Interconnect.Imc;

namespace Interconnect.TestPeer;

/// <summary>
/// Random directory, data and lock operations on a few shared keys, for the crash and storm tests. Outcomes a
/// correct library may give (a region already attached, a lock already held...) are expected; anything else is
/// counted as unexpected and the first one is kept for the report. Every word written is self-checking (a random
/// number in the low half, a check of it with the word's key and offset in the high half), so every word read, written
/// by whichever churner, must be zero or check against the place it was read from: a read that does not is a data
/// failure. With <paramref name="report"/>, the counts are reported as they go (every 256 checked reads, and at once
/// on a data failure), so a churner that is killed has already told what it checked.
/// </summary>
internal sealed class Churn(ImcContext context, int seed, string[] hosts, Action<string>? report = null)
{
    private const int Keys = 6;
    private const int LockKey = 100;
    private const int Locks = 4;
    private const int Words = 64;

    private static readonly HashSet<ImcStatus> s_expected =
    [
        ImcStatus.Prior, ImcStatus.NotAllocated, ImcStatus.Attached, ImcStatus.ReceiveMapped, ImcStatus.TransmitMapped,
        ImcStatus.ShareError, ImcStatus.NonShareError, ImcStatus.LoopbackError, ImcStatus.LockPrior,
        ImcStatus.LockNotHeld, ImcStatus.LockActive, ImcStatus.BadHost, ImcStatus.PointToPointError, ImcStatus.RxFull,
        ImcStatus.McFull,
    ];

    private readonly Random _random = new(seed);
    private readonly ImcRegion?[] _regions = new ImcRegion?[Keys + 1];
    private readonly ImcTransmitWindow?[] _transmit = new ImcTransmitWindow?[Keys + 1];
    private readonly ImcReceiveWindow?[] _receive = new ImcReceiveWindow?[Keys + 1];
    private readonly HashSet<int> _held = [];
    private ImcLockSet? _locks;

    public long Operations { get; private set; }

    public long Unexpected { get; private set; }

    public string? FirstUnexpected { get; private set; }

    public long CheckedReads { get; private set; }

    public long NonZeroReads { get; private set; }

    public long DataFailures { get; private set; }

    public string? FirstDataFailure { get; private set; }

    /// <summary>The word written at <paramref name="offset"/> of region <paramref name="key"/>, from a random number.</summary>
    public static ulong Pattern(int key, long offset, uint random) => ((ulong)Check(key, offset, random) << 32) | random;

    private static uint Check(int key, long offset, uint random) =>
        ((random * 0x9E37_79B1u) ^ (uint)(offset * 0x85EB_CA6B) ^ ((uint)key * 0xC2B2_AE35u)) + 0x27D4_EB2Fu;

    /// <summary>
    /// Runs <paramref name="count"/> operations (or until <paramref name="stop"/> is set), resting a millisecond
    /// every <paramref name="pauseEvery"/> operations when asked, so a test on two cores can still start processes.
    /// </summary>
    public void Run(long count, Func<bool> stop, int pauseEvery = 0)
    {
        for (long i = 0; i < count && !stop(); i++)
        {
            if (pauseEvery > 0 && i % pauseEvery == 0)
            {
                Thread.Sleep(1);
            }

            try
            {
                Step();
            }
            catch (ImcException e) when (s_expected.Contains(e.Status))
            {
            }
            catch (Exception e) when (e is ImcException or ObjectDisposedException or ArgumentException or InvalidOperationException)
            {
                Unexpected++;
                FirstUnexpected ??= $"{e.GetType().Name}: {e.Message}";
            }

            Operations++;
        }
    }

    /// <summary>Lets go of everything: windows, regions, the lock set.</summary>
    public void Release()
    {
        for (var k = 1; k <= Keys; k++)
        {
            _regions[k]?.Dispose();
            _regions[k] = null;
            _transmit[k] = null;
            _receive[k] = null;
        }

        _locks?.Dispose();
        _locks = null;
        _held.Clear();
    }

    public string Report() => string.Create(CultureInfo.InvariantCulture,
        $"ops={Operations} unexpected={Unexpected} first={FirstUnexpected?.Replace(' ', '_') ?? "none"} " +
        $"reads={CheckedReads} written={NonZeroReads} failures={DataFailures} first_failure={FirstDataFailure?.Replace(' ', '_') ?? "none"}");

    private void CheckRead(int key, long offset, ulong word)
    {
        CheckedReads++;
        NonZeroReads += word == 0 ? 0 : 1;
        var good = word == 0 || (uint)(word >> 32) == Check(key, offset, (uint)word);
        if (!good)
        {
            DataFailures++;
            FirstDataFailure ??= $"key {key} offset {offset}: {word:x16} is no word written there";
        }

        if (report is not null && (!good || CheckedReads % 256 == 0))
        {
            report("report " + Report());
        }
    }

    private void Step()
    {
        var key = _random.Next(1, Keys + 1);
        var region = _regions[key];
        switch (_random.Next(12))
        {
            case 0 or 1:
                _regions[key] ??= context.AllocateRegion(key, 4096L * key,
                    ImcPermissions.UserReadWrite, key == Keys ? ImcRegionFlags.Coherent : ImcRegionFlags.None);
                break;
            case 2:
                if (region is not null && _receive[key] is null)
                {
                    _receive[key] = region.AttachReceive(_random.Next(8) == 0 ? ImcShareMode.NonShared : ImcShareMode.Shared);
                }

                break;
            case 3:
                if (region is not null && _transmit[key] is null)
                {
                    _transmit[key] = _random.Next(4) == 0 && !region.IsCoherent
                        ? region.AttachTransmitTo(hosts[_random.Next(hosts.Length)])
                        : region.AttachTransmit(flags: key % 2 == 0 ? ImcAttachFlags.Loopback : ImcAttachFlags.None);
                }

                break;
            case 4 or 5:
                var at = 8L * _random.Next(0, Words); // a few words, so reads mostly find written ones
                _transmit[key]?.Write(at, Pattern(key, at, (uint)_random.Next()));
                break;
            case 6:
                var from = 8L * _random.Next(0, Words - 8);
                if (_receive[key] is { } window)
                {
                    for (var k = 0L; k < 64; k += 8)
                    {
                        CheckRead(key, from + k, window.Read<ulong>(from + k));
                    }
                }

                break;
            case 7:
                if (region is not null)
                {
                    region.Detach();
                    _transmit[key] = null;
                    _receive[key] = null;
                }

                break;
            case 8:
                if (region is not null && _transmit[key] is null && _receive[key] is null)
                {
                    region.Deallocate();
                    _regions[key] = null;
                }

                break;
            case 9:
                _locks ??= context.AllocateLockSet(LockKey, Locks);
                var index = _random.Next(Locks);
                if (_held.Count == 0 && _random.Next(2) == 0)
                {
                    // Waits only while holding nothing, so waiters never form a cycle.
                    _locks.Acquire(index);
                    _held.Add(index);
                }
                else if (_locks.TryAcquire(index))
                {
                    _held.Add(index);
                }

                break;
            case 10:
                var release = _random.Next(Locks);
                _locks?.Release(release);
                _held.Remove(release);
                break;
            default:
                if (_locks is not null && _random.Next(4) == 0)
                {
                    _locks.Deallocate();
                    _locks = null;
                    _held.Clear();
                }

                break;
        }
    }
}
