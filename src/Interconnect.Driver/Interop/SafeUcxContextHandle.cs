using System.Runtime.InteropServices;

namespace Interconnect.Driver.Interop;

/// <summary>
/// A <c>ucp_context_h</c>, from <see cref="Ucx.InitVersion"/>. Lifetime: disposing it refuses new calls at once, and
/// <c>ucp_cleanup</c> runs when the last reference goes: that of a call still running with it (the marshaller holds
/// one for the call), or that of a worker or memory registration made from it (<see cref="SafeUcxWorkerHandle"/>,
/// <see cref="SafeUcxMemoryHandle"/>), which each hold one until their own destroy. So the context is always cleaned up
/// after everything made from it, on whichever thread lets it go last, the finalizer's too.
/// </summary>
internal sealed class SafeUcxContextHandle : SafeHandle
{
    /// <summary>For the marshaller, which fills in the handle that <c>ucp_init_version</c> returned.</summary>
    public SafeUcxContextHandle()
        : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        Ucx.Cleanup(handle);
        return true;
    }
}
