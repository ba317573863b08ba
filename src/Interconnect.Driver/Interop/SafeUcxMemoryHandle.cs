using System.Runtime.InteropServices;

namespace Interconnect.Driver.Interop;

/// <summary>
/// A <c>ucp_mem_h</c>: memory registered with a context. Lifetime: it holds a reference on the context from its
/// registration until its release; disposing it refuses new calls at once, and <c>ucp_mem_unmap</c> runs when the last
/// call that holds it returns (no lock: the context is made with <c>mt_workers_shared</c>, so UCX guards it). The
/// context is let go only after the unmap.
/// </summary>
internal sealed unsafe class SafeUcxMemoryHandle : SafeHandle
{
    private SafeUcxMemoryHandle(nint memory, SafeUcxContextHandle context)
        : base(0, ownsHandle: true)
    {
        SetHandle(memory);
        Context = context;
    }

    /// <summary>The context the memory is registered with.</summary>
    public SafeUcxContextHandle Context { get; }

    public override bool IsInvalid => handle == 0;

    /// <summary>Registers memory (<c>ucp_mem_map</c>); null, with UCX's <paramref name="status"/>, when it fails.</summary>
    public static SafeUcxMemoryHandle? Map(SafeUcxContextHandle context, Ucx.MemMapParams* parameters, out sbyte status)
    {
        var added = false;
        context.DangerousAddRef(ref added); // the registration's reference (see SafeUcxWorkerHandle.Create)
        try
        {
            nint memory;
            status = Ucx.MemMap(context, parameters, &memory);
            if (status != Ucx.Ok)
            {
                return null;
            }

            var mapped = new SafeUcxMemoryHandle(memory, context);
            added = false;
            return mapped;
        }
        finally
        {
            if (added)
            {
                context.DangerousRelease();
            }
        }
    }

    protected override bool ReleaseHandle()
    {
        // The raw context: it may be disposed already (a disposed SafeHandle refuses to be marshalled), but it is not
        // released, since this registration still holds it.
        _ = Ucx.MemUnmap(Context.DangerousGetHandle(), handle);
        Context.DangerousRelease();
        return true;
    }
}
