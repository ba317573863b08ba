using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Interconnect.Driver.Interop;
using Native = Interconnect.Driver.Interop.Ucx;

namespace Interconnect.Driver.Fabric.Ucx;

/// <summary>
/// A connection from this process's worker to a peer's worker, with puts, gets and atomics into the peer's registered
/// memory. Created in UCP_ERR_HANDLING_MODE_PEER, so a peer that dies breaks the endpoint (<see cref="IsBroken"/>)
/// instead of hanging it, and every later call fails at once with <see cref="DriverStatus.McError"/>.
/// </summary>
/// <remarks>
/// Operations complete by polling (<c>ucp_request_check_status</c> between progress calls), with no callback: the
/// data path allocates nothing. A call that runs past its deadline cannot just return, because UCX would still own
/// the caller's buffer (the source of a put, the destination of a get, an atomic's reply on the stack); so it closes
/// the endpoint forcibly, which completes the operation as cancelled and releases the buffer, and then throws
/// <see cref="DriverStatus.Timeout"/>. The endpoint is broken after that: the owner reconnects.
/// <para>Every call takes the worker's lock, and so does the close: a dispose (or a forced close on a deadline) never
/// closes the endpoint under another thread's call. The handle (<see cref="SafeUcxEndpointHandle"/>) holds the
/// worker's, and each unpacked key's handle holds the endpoint's, so keys are destroyed before the endpoint is let go and
/// the endpoint is closed before the worker is destroyed, in whatever order the owners dispose them; an endpoint nobody
/// disposed is closed forcibly when the finalizer releases its handle.</para>
/// </remarks>
internal sealed unsafe class UcxEndpoint : IDisposable
{
    private static readonly long s_pauseTicks = Stopwatch.Frequency / 1000; // 1 ms without an operation: Drain
    private readonly int[] _errorSlot;
    private long _lastOperation; // when the last atomic or get started (Stopwatch ticks): Drain, under the lock
    private readonly List<UcxRemoteKey> _keys = [];
    private readonly SafeUcxEndpointHandle _handle;
    private string? _closedBecause;

    internal UcxEndpoint(UcxWorker worker, SafeUcxEndpointHandle handle, int[] errorSlot, string peer)
    {
        Worker = worker;
        _handle = handle;
        _errorSlot = errorSlot;
        Peer = peer;
    }

    /// <summary>The peer's name in error messages.</summary>
    public string Peer { get; }

    /// <summary>True once the peer failed (UCX's error handler ran) or an operation timed out and closed the endpoint.</summary>
    public bool IsBroken => Volatile.Read(ref _errorSlot[0]) != 0 || Volatile.Read(ref _closedBecause) is not null;

    internal UcxWorker Worker { get; }

    /// <summary>Unpacks a key that the peer packed with <see cref="UcxMemory.PackKey"/>.</summary>
    public UcxRemoteKey UnpackKey(ReadOnlySpan<byte> packedKey)
    {
        if (!UcxWireFormat.TryOpen(UcxWireFormat.KeyMagic, packedKey, out var packed) ||
            !UcxWireFormat.IsPlausibleRemoteKey(packed))
        {
            throw new UcxException(DriverStatus.BadParameter, 0,
                $"unpacking a remote key of {Peer} failed: the {packedKey.Length} bytes given are not an intact packed " +
                "key (pass the target's UcxMemory.PackKey() exactly as it published it)");
        }

        lock (Worker.Lock)
        {
            var endpoint = LiveHandle("unpacking a remote key");
            SafeUcxRemoteKeyHandle? key;
            sbyte status;
            fixed (byte* raw = packed)
            {
                key = SafeUcxRemoteKeyHandle.Unpack(endpoint, raw, out status);
            }

            if (key is null)
            {
                UcxException.Throw(status, DriverStatus.BadParameter,
                    $"unpacking a remote key of {Peer} failed (is it the key the peer published for this memory?)");
            }

            var unpacked = new UcxRemoteKey(this, key);
            _keys.Add(unpacked);
            return unpacked;
        }
    }

    /// <summary>
    /// Writes <paramref name="source"/> to the peer at <paramref name="remoteAddress"/>; returns once the source may be
    /// reused (local completion, not delivery: <see cref="Flush(TimeSpan)"/> waits for that).
    /// </summary>
    public void Put(ReadOnlySpan<byte> source, ulong remoteAddress, UcxRemoteKey key)
    {
        lock (Worker.Lock)
        {
            var endpoint = LiveHandle("put");
            var rkey = KeyHandle(key);
            var param = default(Native.RequestParam);
            fixed (byte* buffer = source)
            {
                var request = Native.PutNbx(endpoint, buffer, (nuint)source.Length, remoteAddress, rkey, &param);
                if (request == 0)
                {
                    Worker.CountPut(0);
                    return;
                }

                var start = Stopwatch.GetTimestamp();
                Complete(request, Worker.TimeoutTicks, "put", remoteAddress);
                Worker.CountPut(Math.Max(1, Stopwatch.GetTimestamp() - start));
            }
        }
    }

    /// <summary>
    /// Sends active message <paramref name="id"/> with <paramref name="header"/> and <paramref name="data"/>, eagerly
    /// (the peer's handler gets it whole) and with a reply endpoint; returns once both may be reused (local
    /// completion). Messages on one endpoint reach the peer's handler in the order sent.
    /// </summary>
    public void Send(uint id, ReadOnlySpan<byte> header, ReadOnlySpan<byte> data)
    {
        lock (Worker.Lock)
        {
            var endpoint = LiveHandle("message");
            var param = MessageParam();
            fixed (byte* head = header)
            fixed (byte* body = data)
            {
                var request = Native.AmSendNbx(endpoint, id, head, (nuint)header.Length, body, (nuint)data.Length, &param);
                if (request == 0)
                {
                    Worker.CountPut(0);
                    return;
                }

                var start = Stopwatch.GetTimestamp();
                Complete(request, Worker.TimeoutTicks, "message", 0);
                Worker.CountPut(Math.Max(1, Stopwatch.GetTimestamp() - start));
            }
        }
    }

    /// <summary>
    /// Starts sending active message <paramref name="id"/> as <see cref="Send"/> does, without waiting: the buffers
    /// must stay where they are until <see cref="Poll"/> says the returned request is done (0: done at once).
    /// </summary>
    public nint StartSend(uint id, byte* header, int headerLength, byte* data, int length)
    {
        lock (Worker.Lock)
        {
            var endpoint = LiveHandle("message");
            var param = MessageParam();
            var request = Native.AmSendNbx(endpoint, id, header, (nuint)headerLength, data, (nuint)length, &param);
            if (Native.IsError(request))
            {
                ThrowFailed(Native.StatusOf(request), "message", 0);
            }

            return request;
        }
    }

    /// <summary>
    /// Progresses the worker once and reads <paramref name="request"/>'s state: <see cref="Native.InProgress"/>, or its
    /// final status, after which the request is freed and must not be polled again.
    /// </summary>
    public sbyte Poll(nint request)
    {
        lock (Worker.Lock)
        {
            _ = Native.WorkerProgress(Worker.Handle);
            var status = Native.RequestCheckStatus(request);
            if (status != Native.InProgress)
            {
                Native.RequestFree(request);
            }

            return status;
        }
    }

    /// <summary>
    /// Reads <paramref name="request"/>'s state without progressing the worker: <see cref="Native.InProgress"/>, or its
    /// final status, after which the request is freed and must not be checked again.
    /// </summary>
    public sbyte Check(nint request)
    {
        lock (Worker.Lock)
        {
            var status = Native.RequestCheckStatus(request);
            if (status != Native.InProgress)
            {
                Native.RequestFree(request);
            }

            return status;
        }
    }

    /// <summary>Gives up on a request <see cref="StartSend"/> returned: the endpoint is closed and the request freed.</summary>
    public void Abandon(nint request, string why)
    {
        lock (Worker.Lock)
        {
            Volatile.Write(ref _closedBecause, why);
            if (!_handle.IsClosed)
            {
                Close(force: true);
            }

            Native.RequestFree(request);
        }
    }

    private static Native.RequestParam MessageParam() => new()
    {
        OpAttrMask = Native.OpAttrFieldFlags,
        Flags = Native.AmSendFlagReply | Native.AmSendFlagEager,
    };

    /// <summary>Reads from the peer at <paramref name="remoteAddress"/> into <paramref name="destination"/>; returns when it is there.</summary>
    public void Get(Span<byte> destination, ulong remoteAddress, UcxRemoteKey key)
    {
        lock (Worker.Lock)
        {
            Drain();
            var endpoint = LiveHandle("get");
            var rkey = KeyHandle(key);
            var param = default(Native.RequestParam);
            fixed (byte* buffer = destination)
            {
                var request = Native.GetNbx(endpoint, buffer, (nuint)destination.Length, remoteAddress, rkey, &param);
                Complete(request, Worker.TimeoutTicks, "get", remoteAddress);
            }
        }
    }

    /// <summary>Waits until everything issued on this endpoint has completed at the peer (<c>ucp_ep_flush_nbx</c>).</summary>
    public void Flush(TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        lock (Worker.Lock)
        {
            var endpoint = LiveHandle("flush");
            var param = default(Native.RequestParam);
            var request = Native.EpFlushNbx(endpoint, &param);
            Complete(request, UcxWorker.ToStopwatchTicks(timeout), "flush", 0);
        }
    }

    /// <summary>Flush with the worker's <see cref="UcxWorker.Timeout"/>.</summary>
    public void Flush() => Flush(Worker.Timeout);

    /// <summary>Atomically replaces the word at <paramref name="remoteAddress"/> by <paramref name="desired"/> if it equals <paramref name="expected"/>; returns the old value.</summary>
    public ulong CompareAndSwap64(ulong remoteAddress, UcxRemoteKey key, ulong expected, ulong desired)
    {
        // ucp_atomic_op_nbx CSWAP: buffer holds the compare value; reply_buffer holds the new value in, the old value
        // out (ucp/rma/amo_sw.c: ucs_atomic_cswap64(ptr, *buffer, *reply_buffer); checked by a test).
        var reply = desired;
        Atomic(Native.AtomicOpCswap, &expected, &reply, sizeof(ulong), remoteAddress, key, "compare-and-swap");
        return reply;
    }

    /// <summary>Atomically adds <paramref name="value"/> to the 64-bit word at <paramref name="remoteAddress"/>; returns the old value.</summary>
    public ulong FetchAdd64(ulong remoteAddress, UcxRemoteKey key, ulong value)
    {
        ulong reply = 0;
        Atomic(Native.AtomicOpAdd, &value, &reply, sizeof(ulong), remoteAddress, key, "fetch-and-add");
        return reply;
    }

    /// <summary>Atomically adds <paramref name="value"/> to the 32-bit word at <paramref name="remoteAddress"/>; returns the old value.</summary>
    public uint FetchAdd32(ulong remoteAddress, UcxRemoteKey key, uint value)
    {
        uint reply = 0;
        Atomic(Native.AtomicOpAdd, &value, &reply, sizeof(uint), remoteAddress, key, "fetch-and-add");
        return reply;
    }

    /// <summary>
    /// Closes the endpoint (flushing it first unless it is broken) and destroys its keys. Waits at most the worker's
    /// timeout for the flush; past it the close is left to UCX, which ends it when the worker is destroyed.
    /// </summary>
    public void Dispose()
    {
        lock (Worker.Lock)
        {
            if (_handle.IsClosed)
            {
                Worker.Forget(this); // closed already (given up on); nothing else to do, also a second time
                return;
            }

            foreach (var key in _keys.ToArray())
            {
                key.Dispose();
            }

            Close(force: IsBroken);
            Worker.Forget(this);
        }
    }

    /// <summary>UCX's error handler (<c>ucp_err_handler_cb_t</c>): runs inside progress, records the status for every thread.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    internal static void OnError(nint slot, nint endpoint, sbyte status) =>
        Volatile.Write(ref *(int*)slot, status == 0 ? Native.ErrCanceled : status); // IsBroken reads it on any thread

    internal void Forget(UcxRemoteKey key) => _keys.Remove(key);

    private void Atomic(int opcode, void* operand, void* reply, int size, ulong remoteAddress, UcxRemoteKey key,
        string what)
    {
        lock (Worker.Lock)
        {
            Drain();
            var endpoint = LiveHandle(what);
            var rkey = KeyHandle(key);
            var param = new Native.RequestParam
            {
                OpAttrMask = Native.OpAttrFieldDatatype | Native.OpAttrFieldReplyBuffer,
                Datatype = Native.DatatypeContig(size),
                ReplyBuffer = reply,
            };
            var request = Native.AtomicOpNbx(endpoint, opcode, operand, 1, remoteAddress, rkey, &param);
            Complete(request, Worker.TimeoutTicks, what, remoteAddress);
        }
    }

    /// <summary>
    /// Before an atomic or a get (the lock words' calls, on a worker nothing else progresses) that follows a pause of
    /// this endpoint's operations: progresses the worker until it has nothing left to do, so a peer that failed while
    /// nothing was outstanding (its connection reset while this process was idle) breaks the endpoint here, with no
    /// request of ours for UCX to purge. UCX 1.13 can crash purging an outstanding request of a failed tcp endpoint
    /// (SIGSEGV in <c>ucp_ep_reqs_purge</c>, <c>uct_md_mem_dereg</c>: seen on a lock compare-and-swap toward a machine
    /// whose imcd had been killed while the process was idle). Operations back to back (a waiter's retries, an acquire
    /// and its release) skip it: each progressed the worker until its answer came, and a drain before every one cost
    /// about a fifth of an acquire and release across machines. Under the lock.
    /// </summary>
    private void Drain()
    {
        var now = Stopwatch.GetTimestamp();
        var paused = now - _lastOperation > s_pauseTicks;
        _lastOperation = now;
        if (!paused)
        {
            return;
        }

        var worker = Worker.Handle;
        for (var round = 0; round < 16 && Native.WorkerProgress(worker) != 0; round++)
        {
        }
    }

    /// <summary>
    /// Waits for <paramref name="request"/> (a <c>ucs_status_ptr_t</c>) while progressing the worker, frees it, and
    /// throws if it failed or outlived the deadline. Called under the worker's lock.
    /// </summary>
    private void Complete(nint request, long timeoutTicks, string what, ulong remoteAddress)
    {
        if (request == 0)
        {
            return; // completed at once
        }

        if (Native.IsError(request))
        {
            ThrowFailed(Native.StatusOf(request), what, remoteAddress);
        }

        var worker = Worker.Handle;
        var deadline = Stopwatch.GetTimestamp() + timeoutTicks;
        sbyte status;
        while ((status = Native.RequestCheckStatus(request)) == Native.InProgress)
        {
            _ = Native.WorkerProgress(worker);
            if (Stopwatch.GetTimestamp() > deadline && Native.RequestCheckStatus(request) == Native.InProgress)
            {
                Abandon(request, what, timeoutTicks);
                ThrowTimedOut(what, remoteAddress, timeoutTicks);
            }
        }

        Native.RequestFree(request);
        if (status != Native.Ok)
        {
            ThrowFailed(status, what, remoteAddress);
        }
    }

    /// <summary>
    /// Gives up on an operation past its deadline: a forced close completes it (as cancelled) and releases the
    /// caller's buffer before the caller gets control back.
    /// </summary>
    private void Abandon(nint request, string what, long timeoutTicks)
    {
        Volatile.Write(ref _closedBecause,
            $"a {what} got no answer within {TimeSpan.FromSeconds((double)timeoutTicks / Stopwatch.Frequency).TotalSeconds} s");
        Close(force: true);
        Native.RequestFree(request); // complete by now; were it not, UCX releases it when it completes
    }

    /// <summary>
    /// Closes the UCP endpoint (<c>ucp_ep_close_nbx</c>) and disposes its handle, waiting at most the worker's timeout
    /// for the close. Under the lock, with the handle open.
    /// </summary>
    private void Close(bool force)
    {
        var request = _handle.Close(force ? Native.EpCloseFlagForce : 0);
        if (request == 0 || Native.IsError(request))
        {
            return;
        }

        var worker = Worker.Handle;
        var deadline = Stopwatch.GetTimestamp() + Worker.TimeoutTicks;
        while (Native.RequestCheckStatus(request) == Native.InProgress && Stopwatch.GetTimestamp() <= deadline)
        {
            _ = Native.WorkerProgress(worker);
        }

        Native.RequestFree(request);
    }

    /// <summary>The handle, unless the endpoint is closed or broken (then it throws why). Under the lock.</summary>
    private SafeUcxEndpointHandle LiveHandle(string what)
    {
        if (_handle.IsClosed || Volatile.Read(ref _errorSlot[0]) != 0)
        {
            ThrowUnusable(what);
        }

        return _handle;
    }

    private SafeUcxRemoteKeyHandle KeyHandle(UcxRemoteKey key)
    {
        if (key.Endpoint != this)
        {
            ThrowForeignKey();
        }

        var handle = key.Handle;
        ObjectDisposedException.ThrowIf(handle.IsClosed, key); // the marshaller would throw too, naming no class
        return handle;
    }

    [DoesNotReturn]
    private void ThrowUnusable(string what)
    {
        var error = Volatile.Read(ref _errorSlot[0]);
        if (error != 0)
        {
            throw UcxException.From((sbyte)error, DriverStatus.McError,
                $"{what} to {Peer} failed: the endpoint is broken, the peer failed or the connection to it broke; connect again once it is back");
        }

        if (_closedBecause is { } reason)
        {
            throw new UcxException(DriverStatus.McError, 0,
                $"{what} to {Peer} failed: the endpoint was closed because {reason}; connect again");
        }

        throw new ObjectDisposedException(nameof(UcxEndpoint), $"the endpoint to {Peer} is disposed");
    }

    [DoesNotReturn]
    private void ThrowFailed(sbyte status, string what, ulong remoteAddress) =>
        throw UcxException.From(status, IsBroken ? DriverStatus.McError : StatusFor(status),
            $"{what} to {Peer}{At(remoteAddress)} failed");

    [DoesNotReturn]
    private void ThrowTimedOut(string what, ulong remoteAddress, long timeoutTicks) =>
        throw new UcxException(DriverStatus.Timeout, Native.ErrTimedOut,
            $"{what} to {Peer}{At(remoteAddress)} did not complete within " +
            $"{TimeSpan.FromSeconds((double)timeoutTicks / Stopwatch.Frequency).TotalSeconds} s: the peer is gone or " +
            "does not progress its worker; the endpoint is closed, connect again");

    [DoesNotReturn]
    private static void ThrowForeignKey() =>
        throw new ArgumentException("the remote key was unpacked on another endpoint: a key works only on the endpoint that unpacked it");

    /// <summary>Where an operation was aimed, for messages; a flush (address 0) is aimed at the whole endpoint.</summary>
    private static string At(ulong remoteAddress) => remoteAddress == 0 ? "" : $" at 0x{remoteAddress:x}";

    private static DriverStatus StatusFor(sbyte status) => status switch
    {
        -5 or -7 or -12 or -19 => DriverStatus.BadParameter, // invalid param, invalid address, no element, out of range
        _ => DriverStatus.McError,
    };
}
