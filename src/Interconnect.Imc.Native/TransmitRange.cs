namespace Interconnect.Imc.Native;

/// <summary>
/// A transmit pointer handed to C: the address range [<see cref="Base"/>, <see cref="Base"/> + <see cref="Length"/>)
/// and the window that writes through it with full semantics (<c>imc_bcopy</c>, <c>imc_write32</c>, ...).
/// <see cref="Reserved"/> is the length of an inaccessible range this library reserved (an emulated region's
/// pointer), 0 for a direct region's memory, which the window owns.
/// </summary>
internal sealed record TransmitRange(nint Base, long Length, nuint Reserved, ImcTransmitWindow Window)
{
    public bool Contains(nint address, long length) =>
        address >= Base && length >= 0 && (long)(address - Base) <= Length - length;
}
