using System.Runtime.CompilerServices;
using Interconnect.Driver.Interop;
using Interconnect.Driver.Store.Layout;

namespace Interconnect.Driver.Store;

/// <summary>
/// Users' loss tallies (<see cref="TallyFile"/>): where, under imcd, processes count the deliveries they lost, since
/// the rails' words are imcd's. Every reader of an error count adds them up; imcd makes them and turns what they
/// count into physical-rail errors (a failover pair's eleventh error within a minute still fails the rail over).
/// </summary>
internal sealed unsafe partial class Cluster
{
    private readonly Lock _talliesLock = new();
    private readonly Dictionary<int, MappedFile> _tallyFiles = []; // by uid, under _talliesLock; unmapped at Dispose
    private Tallies _tallies = new(0, []);
    private readonly int* _tallyCount; // the words file's TallyCount, read on every error-count read

    /// <summary>The tallies mapped for <see cref="Count"/> listed ones (a tally that could not be mapped counts nothing).</summary>
    private sealed record Tallies(int Count, nint[] Files);

    /// <summary>
    /// What users' tallies count on <paramref name="rail"/>; <paramref name="processing"/> is set when one of them
    /// processes an error. A tally's error window reaching further than the cluster's is not believed (a user cannot
    /// hold a rail in processing). Two loads and a compare when there are no tallies (the embedded default).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int TalliedErrors(int rail, long now, ref bool processing)
    {
        var tallies = Volatile.Read(ref _tallies);
        if (tallies.Count != Volatile.Read(ref *_tallyCount))
        {
            tallies = MapTallies();
        }

        return tallies.Files.Length == 0 ? 0 : SumTallies(tallies.Files, rail, now, ref processing);
    }

    private int SumTallies(nint[] files, int rail, long now, ref bool processing)
    {
        var sum = 0;
        var window = Control.Header.ErrorWindowMs;
        foreach (var file in files)
        {
            ref var entry = ref TallyFile.Rail((byte*)file, rail);
            sum += Volatile.Read(ref entry.ErrorCount); // acquire, as the rail's own count
            var until = Volatile.Read(ref entry.ProcessingUntilMs);
            processing |= now < until && until - now <= window;
        }

        return sum;
    }

    /// <summary>Maps the tallies the words file lists now (a slow path: a user's first process was registered).</summary>
    private Tallies MapTallies()
    {
        lock (_talliesLock)
        {
            var count = Volatile.Read(ref *_tallyCount); // acquire: each listed tally's file is made
            var files = new List<nint>();
            foreach (var uid in TalliedUids())
            {
                if (!_tallyFiles.TryGetValue(uid, out var file))
                {
                    try
                    {
                        file = TallyFile.Open(Paths, uid, writable: false);
                    }
                    catch (DriverException)
                    {
                        continue; // not made by imcd (a words file written by hand): counts nothing, and is not tried again
                    }

                    _tallyFiles[uid] = file;
                }

                files.Add((nint)file.Pointer);
            }

            var tallies = new Tallies(count, [.. files]);
            Volatile.Write(ref _tallies, tallies);
            return tallies;
        }
    }

    /// <summary>
    /// imcd, under the directory lock: makes the tally of <paramref name="uid"/> when it has none, then lists it (the
    /// file first, so a reader that sees it listed finds it). NoResources when the cluster counts for as many users as
    /// it can.
    /// </summary>
    public void KeepTally(int uid)
    {
        var listed = TalliedUids().ToList();
        if (listed.Contains(uid))
        {
            return;
        }

        var count = listed.Count;
        if (count == WordsLayout.MaxTallies)
        {
            throw new DriverException(DriverStatus.NoResources,
                $"cluster '{Paths.Cluster}' counts the lost deliveries of {WordsLayout.MaxTallies} users already, and user " +
                $"{uid} is not one: run this program as one of the users who use the cluster, or make the cluster anew");
        }

        var path = TallyFile.PathOf(Paths, uid);
        if (NoFollow.LinkStatus(path) is not null)
        {
            RemoveEntryFile(path); // not listed: left by someone before imcd took the folder
        }

        TallyFile.Create(Paths, uid).Dispose();
        Control.TallyUid(count) = uid;
        Volatile.Write(ref *_tallyCount, count + 1);
    }

    /// <summary>
    /// imcd, when a process says it lost deliveries: each loss counted in a tally since imcd last looked (any of its
    /// connections, or an imcd before it: <see cref="LogicalRailEntry.TalliedErrors"/>) is an error of its rail's active
    /// physical rail (at most enough to fail it over at once).
    /// </summary>
    public void RecordTalliedLosses()
    {
        var processing = false;
        for (var rail = 0; rail < Control.Header.LogicalRails; rail++)
        {
            ref var entry = ref Control.Rail(rail);
            var tallied = TalliedErrors(rail, NowMs(), ref processing);
            var seen = Volatile.Read(ref entry.TalliedErrors);
            // Interlocked: two connections that look at once record each loss once.
            if (tallied == seen || Interlocked.CompareExchange(ref entry.TalliedErrors, tallied, seen) != seen)
            {
                continue;
            }

            for (var i = 0; i < Math.Clamp(tallied - seen, 0, PhysicalRailEntry.ErrorRing); i++)
            {
                RecordPhysicalError(Volatile.Read(ref entry.ActivePhysical));
            }
        }
    }

    /// <summary>
    /// Maps <paramref name="uid"/>'s tally for one of its processes to write; NotInitialized when imcd has not made it
    /// (the process registered through an imcd that does not tally).
    /// </summary>
    public MappedFile OpenOwnTally(int uid) =>
        TalliedUids().Contains(uid) ? TallyFile.Open(Paths, uid, writable: true) : throw new DriverException(DriverStatus.NotInitialized,
            $"cluster '{Paths.Cluster}' has no loss tally for user {uid}, whose process imcd registered: run the same " +
            "release of imcd and of this program");

    /// <summary>A lost delivery on <paramref name="rail"/>, counted in a process's own tally (as <see cref="RaiseError(int)"/> in the rail's).</summary>
    public void RaiseTalliedError(MappedFile tally, int rail)
    {
        ref var entry = ref TallyFile.Rail(tally.Pointer, rail);
        RaiseError(ref entry.ProcessingUntilMs, ref entry.ErrorCount);
    }

    /// <summary>The uids whose tallies the words file lists, in slot order (a count out of bounds is bounded).</summary>
    private IEnumerable<int> TalliedUids() => TalliedUids(Math.Clamp(Volatile.Read(ref *_tallyCount), 0, WordsLayout.MaxTallies));

    private IEnumerable<int> TalliedUids(int count)
    {
        for (var slot = 0; slot < count; slot++)
        {
            yield return Volatile.Read(ref Control.TallyUid(slot));
        }
    }

    /// <summary>The tally files the words file lists (the sweep of imcd's start keeps them).</summary>
    private IEnumerable<string> ListedTallies() => TalliedUids().Select(uid => TallyFile.PathOf(Paths, uid));

    private void DisposeTallies()
    {
        lock (_talliesLock)
        {
            foreach (var file in _tallyFiles.Values)
            {
                file.Dispose();
            }

            _tallyFiles.Clear();
            Volatile.Write(ref _tallies, new Tallies(0, []));
        }
    }
}
