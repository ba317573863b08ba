using System.Diagnostics;
using System.Runtime.CompilerServices;
using Interconnect.Driver.Interop;
using Native = Interconnect.Driver.Interop.Ucx;

namespace Interconnect.Driver.Fabric.Ucx;

/// <summary>
/// A UCP worker: the progress engine that endpoints, puts, gets and atomics run on. Over the tcp transport a worker
/// must be progressed on both sides: the caller's blocking operations progress it themselves, and a target process
/// progresses its own (<see cref="Progress"/>, or sleeping on <see cref="EventFd"/> after <see cref="Arm"/>).
/// </summary>
/// <remarks>
/// <para><b>Threads.</b> The worker is created in UCS_THREAD_MODE_SERIALIZED (any thread, one at a time) and every call
/// on it, its endpoints and its keys takes one lock (<see cref="Lock"/>): a blocking operation holds it while it
/// progresses, so a progress thread and several writers can share a worker. UCS_THREAD_MODE_MULTI was the
/// alternative; it takes UCX's own recursive spinlock on every call instead, gives nothing more to callers that
/// block anyway, and would leave the binding's own state (broken flags, disposal) to guard separately. Measured here
/// (<c>imc-test-peer --ucx-bench</c>): the uncontended lock costs about 0.05 µs, against about 2 µs for a put's local
/// completion and 16 µs for a get or compare-and-swap round trip over tcp loopback.</para>
/// <para><b>Deadlines.</b> Every blocking call gives up after <see cref="Timeout"/> (or the timeout it is passed) with
/// <see cref="UcxException"/> (<see cref="DriverStatus.Timeout"/>), and never waits for a target that is gone.</para>
/// <para><b>Disposal.</b> Disposing closes the endpoints still open (flushing them, or forcibly when broken), destroys
/// their keys, then disposes the worker's handle. Endpoints disposed first are simply skipped; a second dispose does
/// nothing; a call after it throws <see cref="ObjectDisposedException"/>. The lock orders a dispose against every call
/// that takes it; <see cref="Signal"/> takes none, and the handle (<see cref="SafeUcxWorkerHandle"/>) covers it: a
/// signal still running when the worker is disposed delays <c>ucp_worker_destroy</c> until it returns. The handle also
/// holds the context's, so the context is cleaned up after the worker whatever order the owners dispose them in.</para>
/// </remarks>
internal sealed unsafe class UcxWorker : IDisposable
{
    /// <summary>The deadline of blocking calls unless set otherwise.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    private readonly UcxContext _context;
    private readonly List<UcxEndpoint> _endpoints = [];
    private readonly SafeUcxWorkerHandle _handle;
    private int _eventFd = -1;
    private long _timeoutTicks;
    private long _puts;
    private long _putsWaited;
    private long _putWaitTicks;

    private UcxWorker(UcxContext context, SafeUcxWorkerHandle handle, byte[] address)
    {
        _context = context;
        _handle = handle;
        Address = address;
        Timeout = DefaultTimeout;
    }

    /// <summary>
    /// This worker's address for a peer's <see cref="Connect"/>: UCX's address (<c>ucp_worker_get_address</c>) copied
    /// into a checksummed envelope (<see cref="UcxWireFormat"/>), so corrupted bytes fail cleanly where UCX would abort.
    /// </summary>
    public byte[] Address { get; }

    /// <summary>How long a blocking call (put's local completion, get, atomics, endpoint close) may wait.</summary>
    public TimeSpan Timeout
    {
        get => TimeSpan.FromSeconds((double)Volatile.Read(ref _timeoutTicks) / Stopwatch.Frequency);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            Volatile.Write(ref _timeoutTicks, ToStopwatchTicks(value)); // read without the lock by every operation
        }
    }

    /// <summary>Puts issued on this worker's endpoints (counted under <see cref="Lock"/>).</summary>
    public long Puts => Volatile.Read(ref _puts);

    /// <summary>Puts that did not complete locally at once: the caller progressed the worker until they did.</summary>
    public long PutsWaited => Volatile.Read(ref _putsWaited);

    /// <summary>Stopwatch ticks spent waiting for the local completion of <see cref="PutsWaited"/>.</summary>
    public long PutWaitTicks => Volatile.Read(ref _putWaitTicks);

    /// <summary>The lock every use of the worker, its endpoints and its keys takes (its handle's, which destroys take too).</summary>
    internal Lock Lock => _handle.Lock;

    internal long TimeoutTicks => Volatile.Read(ref _timeoutTicks);

    /// <summary>
    /// The worker's event descriptor (<c>ucp_worker_get_efd</c>): readable when there is something to progress, once
    /// <see cref="Arm"/> returned true.
    /// </summary>
    public int EventFd
    {
        get
        {
            lock (Lock)
            {
                if (_eventFd < 0)
                {
                    int fd;
                    UcxException.Check(Native.WorkerGetEfd(Handle, &fd), DriverStatus.NoResources,
                        "getting the UCX worker's event descriptor failed");
                    _eventFd = fd;
                }

                return _eventFd;
            }
        }
    }

    internal static UcxWorker Create(UcxContext context, SafeUcxContextHandle contextHandle)
    {
        var parameters = new Native.WorkerParams
        {
            FieldMask = Native.WorkerParamFieldThreadMode,
            ThreadMode = Native.ThreadModeSerialized,
        };
        var handle = SafeUcxWorkerHandle.Create(contextHandle, &parameters, out var status);
        if (handle is null)
        {
            UcxException.Throw(status, DriverStatus.NoResources, "creating a UCX worker failed");
        }

        nint address;
        nuint length;
        status = Native.WorkerGetAddress(handle, &address, &length);
        if (status != Native.Ok)
        {
            handle.Dispose();
            UcxException.Throw(status, DriverStatus.NoResources, "getting the UCX worker's address failed");
        }

        var copy = UcxWireFormat.Wrap(UcxWireFormat.AddressMagic, new ReadOnlySpan<byte>((void*)address, checked((int)length)));
        Native.WorkerReleaseAddress(handle, address);
        return new UcxWorker(context, handle, copy);
    }

    /// <summary>Progresses outstanding communication once; returns how many events it handled (0: nothing to do).</summary>
    public int Progress()
    {
        lock (Lock)
        {
            return (int)Native.WorkerProgress(Handle);
        }
    }

    /// <summary>
    /// Arms the event descriptor: true when armed (the caller may sleep in poll() on <see cref="EventFd"/>), false
    /// when events are pending (progress again first).
    /// </summary>
    public bool Arm()
    {
        lock (Lock)
        {
            var status = Native.WorkerArm(Handle);
            if (status == Native.ErrBusy)
            {
                return false;
            }

            UcxException.Check(status, DriverStatus.McError, "arming the UCX worker's event descriptor failed");
            return true;
        }
    }

    /// <summary>Wakes a thread sleeping on <see cref="EventFd"/>; safe from any thread, also while one waits.</summary>
    public void Signal()
    {
        // ucp_worker_signal is documented thread-safe: taking the lock here could wait behind a blocking operation. The
        // handle keeps the worker alive until it returns, should a dispose on another thread come meanwhile.
        UcxException.Check(Native.WorkerSignal(Handle), DriverStatus.McError, "signalling the UCX worker failed");
    }

    /// <summary>
    /// Orders the operations issued on this worker before the fence ahead of those issued after it, at the target
    /// (<c>ucp_worker_fence</c>); it does not wait for anything.
    /// </summary>
    public void Fence()
    {
        lock (Lock)
        {
            UcxException.Check(Native.WorkerFence(Handle), DriverStatus.McError, "the UCX worker fence failed");
        }
    }

    /// <summary>
    /// Sets the handler of active message <paramref name="id"/> (<c>ucp_worker_set_am_recv_handler</c>): UCX calls it
    /// from inside <see cref="Progress"/> (or a blocking call's progress) with the message's header and whole data,
    /// valid for the call only. It must not throw, and must not block.
    /// </summary>
    public void SetMessageHandler(uint id, delegate* unmanaged[Cdecl]<nint, byte*, nuint, byte*, nuint, Native.AmRecvParam*, sbyte> handler,
        nint argument)
    {
        lock (Lock)
        {
            var parameters = new Native.AmHandlerParam
            {
                FieldMask = Native.AmHandlerFieldId | Native.AmHandlerFieldCallback | Native.AmHandlerFieldArg,
                Id = id,
                Callback = handler,
                Arg = argument,
            };
            UcxException.Check(Native.WorkerSetAmRecvHandler(Handle, &parameters), DriverStatus.NoResources,
                $"setting the handler of UCX active message {id} failed");
        }
    }

    /// <summary>
    /// Connects to the worker whose <see cref="Address"/> is given (error mode PEER: a peer that fails breaks the
    /// endpoint instead of hanging it); <paramref name="peer"/> names it in errors.
    /// </summary>
    public UcxEndpoint Connect(ReadOnlySpan<byte> remoteWorkerAddress, string? peer = null)
    {
        peer ??= "a remote worker";
        if (!UcxWireFormat.TryOpen(UcxWireFormat.AddressMagic, remoteWorkerAddress, out var address))
        {
            throw new UcxException(DriverStatus.BadParameter, 0,
                $"connecting to {peer} failed: the {remoteWorkerAddress.Length} bytes given are not an intact worker " +
                "address (pass the target's UcxWorker.Address exactly as it published it)");
        }

        lock (Lock)
        {
            var worker = Handle;
            // The error handler writes the slot from inside progress until the worker is destroyed, and IsBroken reads
            // it from any thread: a pinned array that the worker's handle and the endpoint both hold outlives both uses.
            var slot = GC.AllocateArray<int>(1, pinned: true);
            worker.Keep(slot);
            fixed (byte* raw = address)
            {
                var parameters = new Native.EpParams
                {
                    FieldMask = Native.EpParamFieldRemoteAddress | Native.EpParamFieldErrHandlingMode |
                        Native.EpParamFieldErrHandler,
                    Address = (nint)raw,
                    ErrMode = Native.ErrHandlingModePeer,
                    ErrHandlerCallback = &UcxEndpoint.OnError,
                    ErrHandlerArg = (nint)Unsafe.AsPointer(ref slot[0]),
                };
                var endpoint = SafeUcxEndpointHandle.Create(worker, &parameters, out var status);
                if (endpoint is null)
                {
                    UcxException.Throw(status, DriverStatus.BadParameter,
                        $"connecting to {peer} failed (is the address the target's current UcxWorker.Address?)");
                }

                var created = new UcxEndpoint(this, endpoint, slot, peer);
                _endpoints.Add(created);
                return created;
            }
        }
    }

    /// <summary>
    /// The worker's handle; throws <see cref="ObjectDisposedException"/> (naming this class) once disposed. The check
    /// is for the message: what keeps the native worker alive through a call is the marshaller's reference.
    /// </summary>
    internal SafeUcxWorkerHandle Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _handle;
        }
    }

    internal static long ToStopwatchTicks(TimeSpan timeout) =>
        (long)Math.Min(timeout.TotalSeconds * Stopwatch.Frequency, long.MaxValue / 2);

    /// <summary>Counts a put; <paramref name="waitedTicks"/> is 0 when it completed at once. Under <see cref="Lock"/>.</summary>
    internal void CountPut(long waitedTicks)
    {
        // Volatile: the counters are read without the lock by whoever reports them.
        Volatile.Write(ref _puts, _puts + 1);
        if (waitedTicks != 0)
        {
            Volatile.Write(ref _putsWaited, _putsWaited + 1);
            Volatile.Write(ref _putWaitTicks, _putWaitTicks + waitedTicks);
        }
    }

    /// <summary>Called by an endpoint's dispose, under <see cref="Lock"/>.</summary>
    internal void Forget(UcxEndpoint endpoint) => _endpoints.Remove(endpoint);

    public void Dispose()
    {
        lock (Lock)
        {
            if (_handle.IsClosed)
            {
                return;
            }

            foreach (var endpoint in _endpoints.ToArray())
            {
                endpoint.Dispose(); // re-enters the lock (it is reentrant) and forgets itself
            }

            // Destroyed now (the release re-enters the lock), or when a Signal still running on another thread returns.
            _handle.Dispose();
        }

        _context.Forget(this);
    }
}
