using System.Runtime.InteropServices;

namespace Interconnect.Driver.Interop;

/// <summary>
/// A <c>ucp_worker_h</c>, with the lock that serialises every call on it (the worker is created
/// UCS_THREAD_MODE_SERIALIZED). Lifetime: it holds a reference on its context from its creation until its release;
/// disposing it refuses new calls at once, and <c>ucp_worker_destroy</c> runs when the last reference goes: that of a
/// call still running with it (a <c>ucp_worker_signal</c> from another thread, which takes no lock), or that of an
/// endpoint made on it (<see cref="SafeUcxEndpointHandle"/>), which holds one until its own close. The destroy takes
/// the lock, so it never overlaps a call made under it either (requests are plain pointers that nothing counts).
/// </summary>
internal sealed unsafe class SafeUcxWorkerHandle : SafeHandle
{
    private readonly SafeUcxContextHandle _context;
    private readonly List<int[]> _kept = [];

    private SafeUcxWorkerHandle(nint worker, SafeUcxContextHandle context)
        : base(0, ownsHandle: true)
    {
        SetHandle(worker);
        _context = context;
    }

    /// <summary>The lock every call on this worker, its endpoints and their keys is made under.</summary>
    public Lock Lock { get; } = new();

    public override bool IsInvalid => handle == 0;

    /// <summary>
    /// Creates a worker on <paramref name="context"/> (<c>ucp_worker_create</c>); null, with UCX's
    /// <paramref name="status"/>, when it fails. Throws <see cref="ObjectDisposedException"/> once the context is disposed.
    /// </summary>
    public static SafeUcxWorkerHandle? Create(SafeUcxContextHandle context, Ucx.WorkerParams* parameters, out sbyte status)
    {
        var added = false;
        context.DangerousAddRef(ref added); // the new worker's reference, taken before the worker exists
        try
        {
            nint worker;
            status = Ucx.WorkerCreate(context, parameters, &worker);
            if (status != Ucx.Ok)
            {
                return null;
            }

            var created = new SafeUcxWorkerHandle(worker, context);
            added = false; // the worker owns the reference now, and gives it back in ReleaseHandle
            return created;
        }
        finally
        {
            if (added)
            {
                context.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Keeps <paramref name="pinned"/> (an endpoint's error slot, which UCX's error handler writes from inside
    /// progress) alive as long as the native worker: past the managed endpoint, until the destroy.
    /// </summary>
    public void Keep(int[] pinned)
    {
        lock (Lock)
        {
            _kept.Add(pinned);
        }
    }

    protected override bool ReleaseHandle()
    {
        lock (Lock)
        {
            Ucx.WorkerDestroy(handle);
            _kept.Clear(); // no handler runs any more
        }

        _context.DangerousRelease();
        return true;
    }
}
