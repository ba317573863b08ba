using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Interconnect.Imc.Native;

/// <summary>
/// Explicit writes (<c>imc_bcopy</c>, <c>imc_write32</c>, <c>imc_write64</c>): into a transmit pointer they go through
/// the region's transmit window, with every semantic of the emulation (drops, loopback and point-to-point isolation,
/// counters); <c>imc_bcopy</c> between ordinary buffers is a plain copy, as the manual allows.
/// </summary>
internal static unsafe partial class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "imc_bcopy")]
    public static int BCopy(byte* source, byte* destination, long length)
    {
        try
        {
            if (length < 0 || length > int.MaxValue)
            {
                return Status.Fail(ImcStatus.BadSize, $"imc_bcopy of {length} bytes: give 0 to {int.MaxValue} bytes");
            }

            if (length == 0)
            {
                return Status.Success;
            }

            if (source == null || destination == null)
            {
                return Status.Fail(ImcStatus.BadParameter, "imc_bcopy: the source or destination is NULL");
            }

            var bytes = new ReadOnlySpan<byte>(source, (int)length);
            if (NativeState.FindTransmit((nint)destination, length) is { } range)
            {
                range.Window.Write((long)((nint)destination - range.Base), bytes);
                return Status.Success;
            }

            if (NativeState.TouchesTransmit((nint)destination) || NativeState.TouchesTransmit((nint)(destination + length - 1)))
            {
                return Status.Fail(ImcStatus.BadSize, $"imc_bcopy of {length} bytes runs past the end of a transmit region");
            }

            Buffer.MemoryCopy(source, destination, length, length);
            return Status.Success;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "imc_write32")]
    public static int Write32(byte* destination, uint value)
    {
        try
        {
            return Write(destination, value);
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "imc_write64")]
    public static int Write64(byte* destination, ulong value)
    {
        try
        {
            return Write(destination, value);
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    private static int Write<T>(byte* destination, T value)
        where T : unmanaged
    {
        if (NativeState.FindTransmit((nint)destination, Unsafe.SizeOf<T>()) is not { } range)
        {
            return Status.Fail(ImcStatus.BadAddress,
                $"imc_write{Unsafe.SizeOf<T>() * 8} at {(nint)destination:x}: not inside a transmit pointer of this process");
        }

        range.Window.Write((long)((nint)destination - range.Base), value);
        return Status.Success;
    }
}
