using System.Runtime.InteropServices;

namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// The words of one region that its writers change, alone on the first line of its windows file (<see cref="WindowsLayout"/>).
/// <code>
///  0            8
///  | WriteOwner | - |
/// </code>
/// <see cref="WriteOwner"/> is a coherent region's write lock on one machine: 0 when free, else its holder's
/// <see cref="ProcessIdentity.LockValue"/>.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct RegionWords
{
    public const int Size = 64;

    [FieldOffset(0)] public long WriteOwner;
}
