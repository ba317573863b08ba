using System.Runtime.InteropServices;

namespace Interconnect.Driver.Interop;

/// <summary>
/// A <c>ucp_rkey_h</c> unpacked on one endpoint. Lifetime: it holds a reference on that endpoint from its unpacking
/// until its release; disposing it refuses new calls at once, and <c>ucp_rkey_destroy</c> runs, under the worker's lock,
/// when the last call that holds it returns. The endpoint is let go only after the destroy.
/// </summary>
internal sealed unsafe class SafeUcxRemoteKeyHandle : SafeHandle
{
    private readonly SafeUcxEndpointHandle _endpoint;

    private SafeUcxRemoteKeyHandle(nint key, SafeUcxEndpointHandle endpoint)
        : base(0, ownsHandle: true)
    {
        SetHandle(key);
        _endpoint = endpoint;
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>
    /// Unpacks a key the peer packed (<c>ucp_ep_rkey_unpack</c>); null, with UCX's <paramref name="status"/>, when it
    /// fails. Under the worker's lock.
    /// </summary>
    public static SafeUcxRemoteKeyHandle? Unpack(SafeUcxEndpointHandle endpoint, byte* packed, out sbyte status)
    {
        var added = false;
        endpoint.DangerousAddRef(ref added); // the key's reference (see SafeUcxWorkerHandle.Create)
        try
        {
            nint key;
            status = Ucx.EpRkeyUnpack(endpoint, packed, &key);
            if (status != Ucx.Ok)
            {
                return null;
            }

            var unpacked = new SafeUcxRemoteKeyHandle(key, endpoint);
            added = false;
            return unpacked;
        }
        finally
        {
            if (added)
            {
                endpoint.DangerousRelease();
            }
        }
    }

    protected override bool ReleaseHandle()
    {
        lock (_endpoint.Worker.Lock)
        {
            Ucx.RkeyDestroy(handle);
        }

        _endpoint.DangerousRelease();
        return true;
    }
}
