using Interconnect.Imc.Native.Interop;

namespace Interconnect.Imc.Native;

/// <summary>
/// The process's state behind the C ABI: the context <c>imc_api_init</c> opened, the regions and lock sets named by
/// the ids handed to C, and the transmit pointers (looked up by address for <c>imc_bcopy</c>). Ids are small
/// positive numbers; an id this process was never given, or gave back, is refused with a status code.
/// </summary>
internal static class NativeState
{
    private static readonly Lock s_lock = new();
    private static readonly Dictionary<int, RegionSlot> s_regions = [];
    private static readonly Dictionary<int, ImcLockSet> s_lockSets = [];
    private static ImcContext? s_context;
    private static int s_nextRegion;
    private static int s_nextLockSet;

    // Copy-on-write, so that imc_bcopy finds its window without a lock.
    private static TransmitRange[] s_transmits = [];

    public static ImcContext Open()
    {
        lock (s_lock)
        {
            if (s_context is null)
            {
                var context = ImcContext.Open();
                RegisterExitFlush();
                s_context = context;
            }

            return s_context;
        }
    }

    /// <summary>
    /// Runs the exit flush when the program exits (<c>atexit</c>): .NET raises no ProcessExit in a host it does not
    /// own. The handlers run before the C library unloads any shared library (UCX's destructors come after them).
    /// </summary>
    private static unsafe void RegisterExitFlush()
    {
        try
        {
            _ = Interop.Libc.CxaAtExit(&OnExit, 0, 0); // no DSO handle: runs at exit, as atexit's do
        }
        catch (EntryPointNotFoundException)
        {
            // A C library without it: no exit flush (writes still land; a receiver counts what did not).
        }
    }

    [System.Runtime.InteropServices.UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static void OnExit(nint argument) => Internal.ExitFlush.Run();

    /// <summary>The context, or null before <c>imc_api_init</c> (the caller returns <c>IMC_NOTINIT</c>).</summary>
    public static ImcContext? Context => Volatile.Read(ref s_context);

    public static int AddRegion(ImcRegion region)
    {
        lock (s_lock)
        {
            var id = ++s_nextRegion;
            s_regions[id] = new RegionSlot(region);
            return id;
        }
    }

    public static RegionSlot? Region(int id)
    {
        lock (s_lock)
        {
            return s_regions.GetValueOrDefault(id);
        }
    }

    public static void RemoveRegion(int id)
    {
        lock (s_lock)
        {
            s_regions.Remove(id);
        }
    }

    public static int AddLockSet(ImcLockSet lockSet)
    {
        lock (s_lock)
        {
            var id = ++s_nextLockSet;
            s_lockSets[id] = lockSet;
            return id;
        }
    }

    public static ImcLockSet? LockSet(int id)
    {
        lock (s_lock)
        {
            return s_lockSets.GetValueOrDefault(id);
        }
    }

    public static void RemoveLockSet(int id)
    {
        lock (s_lock)
        {
            s_lockSets.Remove(id);
        }
    }

    public static void AddTransmit(RegionSlot slot, TransmitRange range)
    {
        lock (s_lock)
        {
            slot.Transmit = range;
            Volatile.Write(ref s_transmits, [.. s_transmits, range]); // release: the range is complete before it is found
        }
    }

    /// <summary>Forgets a slot's transmit pointer and gives back the range reserved for it, if any.</summary>
    public static void RemoveTransmit(RegionSlot slot)
    {
        lock (s_lock)
        {
            if (slot.Transmit is not { } range)
            {
                return;
            }

            slot.Transmit = null;
            Volatile.Write(ref s_transmits, [.. s_transmits.Where(r => !ReferenceEquals(r, range))]);
            if (range.Reserved != 0)
            {
                _ = Libc.Munmap(range.Base, range.Reserved);
            }
        }
    }

    /// <summary>The transmit pointer whose range holds [<paramref name="address"/>, + <paramref name="length"/>), or null.</summary>
    public static TransmitRange? FindTransmit(nint address, long length)
    {
        foreach (var range in Volatile.Read(ref s_transmits))
        {
            if (range.Contains(address, length))
            {
                return range;
            }
        }

        return null;
    }

    /// <summary>Whether any transmit pointer's range holds <paramref name="address"/> (a write that runs past its end).</summary>
    public static bool TouchesTransmit(nint address) => FindTransmit(address, 1) is not null;
}
