using System.Runtime.InteropServices;

namespace Interconnect.Driver.Interop;

/// <summary>
/// A <c>ucp_ep_h</c>. Lifetime: it holds a reference on its worker from its creation until its release. Its owner
/// closes it gracefully (flushing) with <see cref="Close"/>, under the worker's lock, where every call on an endpoint is
/// made, so no call on it runs meanwhile. A handle let go without that (its owner never disposed, and the finalizer
/// took it) is closed forcibly on release: <c>ucp_ep_close_nbx</c> with <c>UCP_EP_CLOSE_FLAG_FORCE</c>, which needs
/// no answer from the peer and no progress (outstanding operations complete as cancelled), its request freed at once
/// (UCX releases it when it completes, or with the worker). Either way the worker is let go only after the close.
/// A remote key unpacked on the endpoint holds a reference on it (<see cref="SafeUcxRemoteKeyHandle"/>).
/// </summary>
internal sealed unsafe class SafeUcxEndpointHandle : SafeHandle
{
    private int _closed; // 1 once Close ran: the release then only lets the worker go

    private SafeUcxEndpointHandle(nint endpoint, SafeUcxWorkerHandle worker)
        : base(0, ownsHandle: true)
    {
        SetHandle(endpoint);
        Worker = worker;
    }

    /// <summary>The worker the endpoint was created on.</summary>
    public SafeUcxWorkerHandle Worker { get; }

    public override bool IsInvalid => handle == 0;

    /// <summary>
    /// Creates an endpoint on <paramref name="worker"/> (<c>ucp_ep_create</c>); null, with UCX's
    /// <paramref name="status"/>, when it fails. Under the worker's lock.
    /// </summary>
    public static SafeUcxEndpointHandle? Create(SafeUcxWorkerHandle worker, Ucx.EpParams* parameters, out sbyte status)
    {
        var added = false;
        worker.DangerousAddRef(ref added); // the endpoint's reference (see SafeUcxWorkerHandle.Create)
        try
        {
            nint endpoint;
            status = Ucx.EpCreate(worker, parameters, &endpoint);
            if (status != Ucx.Ok)
            {
                return null;
            }

            var created = new SafeUcxEndpointHandle(endpoint, worker);
            added = false;
            return created;
        }
        finally
        {
            if (added)
            {
                worker.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Closes the UCP endpoint now (<c>ucp_ep_close_nbx</c> with <paramref name="flags"/>) and disposes this handle;
    /// returns UCX's request for the caller to progress and free (0 or an error pointer when there is none). Under the
    /// worker's lock. Throws <see cref="ObjectDisposedException"/> when the handle is disposed already.
    /// </summary>
    public nint Close(uint flags)
    {
        var added = false;
        DangerousAddRef(ref added);
        try
        {
            Volatile.Write(ref _closed, 1); // read by ReleaseHandle, on whichever thread lets the handle go last
            var parameters = new Ucx.RequestParam { OpAttrMask = Ucx.OpAttrFieldFlags, Flags = flags };
            return Ucx.EpCloseNbx(handle, &parameters);
        }
        finally
        {
            DangerousRelease();
            Dispose();
        }
    }

    protected override bool ReleaseHandle()
    {
        if (Volatile.Read(ref _closed) == 0)
        {
            lock (Worker.Lock)
            {
                var parameters = new Ucx.RequestParam { OpAttrMask = Ucx.OpAttrFieldFlags, Flags = Ucx.EpCloseFlagForce };
                var request = Ucx.EpCloseNbx(handle, &parameters);
                if (request != 0 && !Ucx.IsError(request))
                {
                    Ucx.RequestFree(request);
                }
            }
        }

        Worker.DangerousRelease();
        return true;
    }
}
