using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Interconnect.Imc.Native.Interop;

namespace Interconnect.Imc.Native;

/// <summary>
/// The C ABI of <c>sys/imc.h</c>: each export validates what C hands it (null pointers, ids, sizes, flags), calls the
/// public <c>Imc</c> API and returns a status code; no exception crosses into C. Region functions here.
/// </summary>
internal static unsafe partial class Exports
{
    private const int Transmit = 1;
    private const int Receive = 2;
    private const int Shared = 1;
    private const int NonShared = 2;
    private const int LoopbackFlag = 1;
    private const int CoherentFlag = 1;
    private const int EmulatedFlag = 0x100;

    [UnmanagedCallersOnly(EntryPoint = "imc_api_init")]
    public static int ApiInit(nuint* reserved)
    {
        _ = reserved; // the manual's callers pass NULL; anything else is ignored, as the real library did
        try
        {
            _ = NativeState.Open();
            return Status.Success;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "imc_asalloc")]
    public static int AsAlloc(int key, long size, int permissions, int flag, int* id, int rail)
    {
        try
        {
            if (NativeState.Context is not { } context)
            {
                return NotInitialized();
            }

            if (id == null)
            {
                return Status.Fail(ImcStatus.BadParameter, $"imc_asalloc of key {key}: the id pointer is NULL");
            }

            if ((flag & ~(CoherentFlag | EmulatedFlag)) != 0)
            {
                return Status.Fail(ImcStatus.BadParameter, $"imc_asalloc of key {key}: unknown flag 0x{flag:x} (IMC_COHERENT, IMC_EMULATED)");
            }

            var flags = (flag & CoherentFlag) != 0 ? ImcRegionFlags.Coherent : ImcRegionFlags.None;
            var region = context.AllocateRegionCore(key, size, (ImcPermissions)permissions, flags, rail,
                direct: (flag & EmulatedFlag) == 0);
            *id = NativeState.AddRegion(region);
            return Status.Success;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "imc_asattach")]
    public static int AsAttach(int id, int direction, int share, int flag, nint* address)
    {
        try
        {
            if (Region(id, "imc_asattach", out var slot) is var status && status != Status.Success)
            {
                return status;
            }

            if (address == null)
            {
                return Status.Fail(ImcStatus.BadParameter, $"imc_asattach of region id {id}: the address pointer is NULL");
            }

            if (Share(share) is not { } mode)
            {
                return Status.Fail(ImcStatus.BadParameter, $"imc_asattach of region id {id}: share mode {share} (IMC_SHARED, IMC_NONSHARED)");
            }

            if (direction == Receive)
            {
                if (flag != 0)
                {
                    return Status.Fail(ImcStatus.BadParameter, $"imc_asattach of region id {id} for receive: flag {flag} (give 0)");
                }

                var window = slot!.Region.AttachReceive(mode);
                slot.Receive = window;
                *address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(window.AsSpan(0, 1)));
                return Status.Success;
            }

            if (direction != Transmit)
            {
                return Status.Fail(ImcStatus.BadParameter, $"imc_asattach of region id {id}: direction {direction} (IMC_TRANSMIT, IMC_RECEIVE)");
            }

            if ((flag & ~LoopbackFlag) != 0)
            {
                return Status.Fail(ImcStatus.BadParameter, $"imc_asattach of region id {id} for transmit: flag 0x{flag:x} (0 or IMC_LOOPBACK)");
            }

            var flags = (flag & LoopbackFlag) != 0 ? ImcAttachFlags.Loopback : ImcAttachFlags.None;
            TransmitRange range;
            if (slot!.Region.IsDirect)
            {
                var window = slot.Region.AttachTransmitDirect(mode, flags, out var direct);
                range = new TransmitRange(direct, window.Length, 0, window);
            }
            else
            {
                range = Reserve(slot.Region.AttachTransmit(mode, flags));
            }

            NativeState.AddTransmit(slot, range);
            *address = range.Base;
            return Status.Success;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "imc_asattach_ptp")]
    public static int AsAttachPointToPoint(int id, byte* host, int share, int flag, nint* address)
    {
        try
        {
            if (Region(id, "imc_asattach_ptp", out var slot) is var status && status != Status.Success)
            {
                return status;
            }

            if (address == null || host == null)
            {
                return Status.Fail(ImcStatus.BadParameter, $"imc_asattach_ptp of region id {id}: the host or address pointer is NULL");
            }

            if (Share(share) is not { } mode || flag != 0)
            {
                return Status.Fail(ImcStatus.BadParameter,
                    $"imc_asattach_ptp of region id {id}: share mode {share} (IMC_SHARED, IMC_NONSHARED), flag {flag} (give 0)");
            }

            var range = Reserve(slot!.Region.AttachTransmitTo(HostName(host), mode));
            NativeState.AddTransmit(slot, range);
            *address = range.Base;
            return Status.Success;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "imc_asdetach")]
    public static int AsDetach(int id)
    {
        try
        {
            if (Region(id, "imc_asdetach", out var slot) is var status && status != Status.Success)
            {
                return status;
            }

            slot!.Region.Detach();
            NativeState.RemoveTransmit(slot);
            slot.Receive = null;
            return Status.Success;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "imc_asdealloc")]
    public static int AsDealloc(int id)
    {
        try
        {
            if (Region(id, "imc_asdealloc", out var slot) is var status && status != Status.Success)
            {
                return status;
            }

            slot!.Region.Deallocate();
            NativeState.RemoveRegion(id);
            return Status.Success;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    private static int NotInitialized() =>
        Status.Fail(ImcStatus.NotInitialized, "imc_api_init has not been called in this process");

    private static int Region(int id, string function, out RegionSlot? slot)
    {
        slot = null;
        if (NativeState.Context is null)
        {
            return NotInitialized();
        }

        slot = NativeState.Region(id);
        return slot is null
            ? Status.Fail(ImcStatus.BadRegion, $"{function}: region id {id} was not allocated by this process (or was deallocated)")
            : Status.Success;
    }

    private static ImcShareMode? Share(int share) => share switch
    {
        Shared => ImcShareMode.Shared,
        NonShared => ImcShareMode.NonShared,
        _ => null,
    };

    /// <summary>
    /// An emulated region's transmit pointer: an inaccessible range of the region's size, so that a plain store faults
    /// (as reading a transmit pointer did) and imc_bcopy/imc_write* find their window by address.
    /// </summary>
    private static TransmitRange Reserve(ImcTransmitWindow window)
    {
        var page = (long)Environment.SystemPageSize;
        var length = (nuint)((window.Length + page - 1) / page * page);
        var address = Libc.Mmap(0, length, Libc.ProtNone, Libc.MapPrivate | Libc.MapAnonymous | Libc.MapNoReserve, -1, 0);
        if (address == -1)
        {
            window.Dispose();
            throw new ImcException(ImcStatus.NoMemory,
                $"cannot reserve {length} bytes of address space for a transmit pointer (errno {Marshal.GetLastPInvokeError()})");
        }

        return new TransmitRange(address, window.Length, length, window);
    }

    private static string HostName(byte* name)
    {
        var length = 0;
        while (length < 256 && name[length] != 0)
        {
            length++;
        }

        return System.Text.Encoding.UTF8.GetString(name, length);
    }
}
