using System.Runtime.InteropServices;

namespace Interconnect.Driver.Interop;

/// <summary>
/// Every call into UCX 1.13 that the driver makes, on <c>libucp.so.0</c> and <c>libucs.so.0</c> (Debian ships no
/// unversioned names without the -dev package). The structs reproduce the 1.13 headers' layouts
/// (<c>ucp/api/ucp.h</c>, <c>ucp_def.h</c>, <c>ucs/type/status.h</c>); each is given a size at least the 1.13 one
/// (reference/ucx-facts.md), zeroed, with its <c>field_mask</c> naming every field set, so UCX reads nothing we did
/// not write. Only <c>Fabric/Ucx</c> and the handle types beside this class use it.
/// </summary>
/// <remarks>
/// <para>Every handle that UCX creates and the driver destroys is a <see cref="SafeHandle"/>
/// (<see cref="SafeUcxContextHandle"/> and its kin, whose summaries give the lifetime rules), and the calls take it as
/// such: the marshaller holds a reference for the length of the call, so a dispose on another thread never destroys a
/// handle under a call still using it. The destroys take the raw handle: they run from
/// <see cref="SafeHandle.ReleaseHandle"/>, when no reference is left. Requests (<c>ucs_status_ptr_t</c>) stay plain
/// pointers: short-lived, each freed by its one owner.</para>
/// <para><c>ucs_status_t</c> is declared <c>UCS_S_PACKED</c> (<c>__attribute__((packed))</c>): a one-byte enum. Functions
/// returning it return it in the low byte of the register only, so every such return is <see cref="sbyte"/> here;
/// reading a whole int would take garbage from the upper bytes.</para>
/// </remarks>
internal static unsafe partial class Ucx
{
    private const string Ucp = "libucp.so.0";
    private const string Ucs = "libucs.so.0";

    /// <summary>The API version this binding is written against, passed to <c>ucp_init_version</c>.</summary>
    public const uint ApiMajor = 1;
    public const uint ApiMinor = 13;

    // ucs_status_t (ucs/type/status.h).
    public const sbyte Ok = 0;
    public const sbyte InProgress = 1;
    public const sbyte ErrBusy = -15;
    public const sbyte ErrCanceled = -16;
    public const sbyte ErrTimedOut = -20;

    /// <summary><c>UCS_ERR_LAST</c>: a status pointer at or above <c>(uintptr_t)-100</c> is an error code.</summary>
    private const nint ErrLast = -100;

    // enum ucp_feature.
    public const ulong FeatureRma = 1 << 1;
    public const ulong FeatureAmo32 = 1 << 2;
    public const ulong FeatureAmo64 = 1 << 3;
    public const ulong FeatureWakeup = 1 << 4;
    public const ulong FeatureAm = 1 << 6;

    // enum ucp_params_field.
    public const ulong ParamFieldFeatures = 1 << 0;
    public const ulong ParamFieldMtWorkersShared = 1 << 5;

    // enum ucp_worker_params_field; ucs_thread_mode_t.
    public const ulong WorkerParamFieldThreadMode = 1 << 0;
    public const int ThreadModeSerialized = 1;

    // enum ucp_ep_params_field; ucp_err_handling_mode_t.
    public const ulong EpParamFieldRemoteAddress = 1 << 0;
    public const ulong EpParamFieldErrHandlingMode = 1 << 1;
    public const ulong EpParamFieldErrHandler = 1 << 2;
    public const int ErrHandlingModePeer = 1;

    // enum ucp_mem_map_params_field.
    public const ulong MemMapParamFieldAddress = 1 << 0;
    public const ulong MemMapParamFieldLength = 1 << 1;

    // ucp_op_attr_t; ucp_ep_close_flags_t.
    public const uint OpAttrFieldDatatype = 1 << 3;
    public const uint OpAttrFieldFlags = 1 << 4;
    public const uint OpAttrFieldReplyBuffer = 1 << 5;
    public const uint EpCloseFlagForce = 1 << 0;

    // enum ucp_am_handler_param_field; enum ucp_send_am_flags; ucp_am_recv_attr_t.
    public const ulong AmHandlerFieldId = 1 << 0;
    public const ulong AmHandlerFieldCallback = 1 << 2;
    public const ulong AmHandlerFieldArg = 1 << 3;
    public const uint AmSendFlagReply = 1 << 0;
    public const uint AmSendFlagEager = 1 << 1;
    public const ulong AmRecvAttrReplyEp = 1 << 0;
    public const ulong AmRecvAttrFlagRndv = 1 << 17;

    // ucp_atomic_op_t: ADD, SWAP, CSWAP, AND, OR, XOR in that order.
    public const int AtomicOpAdd = 0;
    public const int AtomicOpCswap = 2;

    /// <summary><c>ucp_dt_make_contig(n)</c>: element size shifted past the 3-bit class (<c>UCP_DATATYPE_CONTIG</c> = 0).</summary>
    public static ulong DatatypeContig(int elementSize) => (ulong)elementSize << 3;

    /// <summary><c>UCS_PTR_IS_ERR</c>.</summary>
    public static bool IsError(nint statusPointer) => (nuint)statusPointer >= unchecked((nuint)ErrLast);

    /// <summary><c>UCS_PTR_STATUS</c>, for a pointer that <see cref="IsError"/>.</summary>
    public static sbyte StatusOf(nint statusPointer) => (sbyte)statusPointer;

    /// <summary><c>ucp_params_t</c>: 80 bytes in 1.13, features at 8.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    public struct Params
    {
        [FieldOffset(0)] public ulong FieldMask;
        [FieldOffset(8)] public ulong Features;
        [FieldOffset(48)] public int MtWorkersShared;
    }

    /// <summary><c>ucp_worker_params_t</c>: 200 bytes in 1.13 (a 128-byte cpu set follows the thread mode).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct WorkerParams
    {
        [FieldOffset(0)] public ulong FieldMask;
        [FieldOffset(8)] public int ThreadMode;
    }

    /// <summary>
    /// <c>ucp_ep_params_t</c>: 104 bytes in 1.13; <c>err_handler</c> is <c>{ cb, arg }</c> at 24 and 32, after the
    /// 4-byte <c>err_mode</c> padded to 8.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    public struct EpParams
    {
        [FieldOffset(0)] public ulong FieldMask;
        [FieldOffset(8)] public nint Address;
        [FieldOffset(16)] public int ErrMode;
        [FieldOffset(24)] public delegate* unmanaged[Cdecl]<nint, nint, sbyte, void> ErrHandlerCallback;
        [FieldOffset(32)] public nint ErrHandlerArg;
    }

    /// <summary><c>ucp_mem_map_params_t</c>: 40 bytes in 1.13.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    public struct MemMapParams
    {
        [FieldOffset(0)] public ulong FieldMask;
        [FieldOffset(8)] public nint Address;
        [FieldOffset(16)] public nuint Length;
    }

    /// <summary>
    /// <c>ucp_request_param_t</c>: 72 bytes in 1.13 (op_attr_mask 0, flags 4, request 8, cb 16, datatype 24,
    /// user_data 32, reply_buffer 40, memory_type 48, recv_info 56, memh 64). No callback is ever set: completion is
    /// polled, so the data path allocates nothing.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 72)]
    public struct RequestParam
    {
        [FieldOffset(0)] public uint OpAttrMask;
        [FieldOffset(4)] public uint Flags;
        [FieldOffset(24)] public ulong Datatype;
        [FieldOffset(40)] public void* ReplyBuffer;
    }

    /// <summary><c>ucp_am_handler_param_t</c>: field_mask 0, id 8, flags 12, cb 16, arg 24 (32 bytes in 1.13).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    public struct AmHandlerParam
    {
        [FieldOffset(0)] public ulong FieldMask;
        [FieldOffset(8)] public uint Id;
        [FieldOffset(12)] public uint Flags;
        [FieldOffset(16)] public delegate* unmanaged[Cdecl]<nint, byte*, nuint, byte*, nuint, AmRecvParam*, sbyte> Callback;
        [FieldOffset(24)] public nint Arg;
    }

    /// <summary><c>ucp_am_recv_param_t</c>: recv_attr 0, reply_ep 8.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 16)]
    public struct AmRecvParam
    {
        [FieldOffset(0)] public ulong RecvAttr;
        [FieldOffset(8)] public nint ReplyEp;
    }

    [LibraryImport(Ucp, EntryPoint = "ucp_config_read")]
    public static partial sbyte ConfigRead(byte* envPrefix, byte* fileName, nint* config);

    /// <summary>
    /// <c>ucp_config_modify</c>: a name UCP's own table does not hold (such as the tcp transport's <c>TX_SEG_SIZE</c>)
    /// is kept and applied to the transports' configuration when the context opens them, over what the environment
    /// said; one that no transport takes makes UCX warn ("invalid configuration") when a worker is created.
    /// </summary>
    [LibraryImport(Ucp, EntryPoint = "ucp_config_modify", StringMarshalling = StringMarshalling.Utf8)]
    public static partial sbyte ConfigModify(nint config, string name, string value);

    [LibraryImport(Ucp, EntryPoint = "ucp_config_release")]
    public static partial void ConfigRelease(nint config);

    [LibraryImport(Ucp, EntryPoint = "ucp_init_version")]
    public static partial sbyte InitVersion(uint apiMajor, uint apiMinor, Params* parameters, nint config,
        out SafeUcxContextHandle context);

    // The destroys (cleanup, worker destroy, endpoint close, key destroy, unmap) take raw handles: their callers are the
    // handles' ReleaseHandle (and SafeUcxEndpointHandle.Close, which holds its own reference).
    [LibraryImport(Ucp, EntryPoint = "ucp_cleanup")]
    public static partial void Cleanup(nint context);

    [LibraryImport(Ucp, EntryPoint = "ucp_worker_create")]
    public static partial sbyte WorkerCreate(SafeUcxContextHandle context, WorkerParams* parameters, nint* worker);

    [LibraryImport(Ucp, EntryPoint = "ucp_worker_destroy")]
    public static partial void WorkerDestroy(nint worker);

    [LibraryImport(Ucp, EntryPoint = "ucp_worker_get_address")]
    public static partial sbyte WorkerGetAddress(SafeUcxWorkerHandle worker, nint* address, nuint* length);

    [LibraryImport(Ucp, EntryPoint = "ucp_worker_release_address")]
    public static partial void WorkerReleaseAddress(SafeUcxWorkerHandle worker, nint address);

    [LibraryImport(Ucp, EntryPoint = "ucp_worker_progress")]
    public static partial uint WorkerProgress(SafeUcxWorkerHandle worker);

    [LibraryImport(Ucp, EntryPoint = "ucp_worker_get_efd")]
    public static partial sbyte WorkerGetEfd(SafeUcxWorkerHandle worker, int* fd);

    [LibraryImport(Ucp, EntryPoint = "ucp_worker_arm")]
    public static partial sbyte WorkerArm(SafeUcxWorkerHandle worker);

    [LibraryImport(Ucp, EntryPoint = "ucp_worker_signal")]
    public static partial sbyte WorkerSignal(SafeUcxWorkerHandle worker);

    [LibraryImport(Ucp, EntryPoint = "ucp_worker_fence")]
    public static partial sbyte WorkerFence(SafeUcxWorkerHandle worker);

    [LibraryImport(Ucp, EntryPoint = "ucp_ep_create")]
    public static partial sbyte EpCreate(SafeUcxWorkerHandle worker, EpParams* parameters, nint* endpoint);

    [LibraryImport(Ucp, EntryPoint = "ucp_ep_close_nbx")]
    public static partial nint EpCloseNbx(nint endpoint, RequestParam* parameters);

    [LibraryImport(Ucp, EntryPoint = "ucp_ep_flush_nbx")]
    public static partial nint EpFlushNbx(SafeUcxEndpointHandle endpoint, RequestParam* parameters);

    [LibraryImport(Ucp, EntryPoint = "ucp_ep_rkey_unpack")]
    public static partial sbyte EpRkeyUnpack(SafeUcxEndpointHandle endpoint, byte* packedKey, nint* remoteKey);

    [LibraryImport(Ucp, EntryPoint = "ucp_rkey_destroy")]
    public static partial void RkeyDestroy(nint remoteKey);

    [LibraryImport(Ucp, EntryPoint = "ucp_mem_map")]
    public static partial sbyte MemMap(SafeUcxContextHandle context, MemMapParams* parameters, nint* memory);

    [LibraryImport(Ucp, EntryPoint = "ucp_mem_unmap")]
    public static partial sbyte MemUnmap(nint context, nint memory);

    [LibraryImport(Ucp, EntryPoint = "ucp_rkey_pack")]
    public static partial sbyte RkeyPack(SafeUcxContextHandle context, SafeUcxMemoryHandle memory, nint* buffer, nuint* length);

    [LibraryImport(Ucp, EntryPoint = "ucp_rkey_buffer_release")]
    public static partial void RkeyBufferRelease(nint buffer);

    [LibraryImport(Ucp, EntryPoint = "ucp_put_nbx")]
    public static partial nint PutNbx(SafeUcxEndpointHandle endpoint, void* buffer, nuint count, ulong remoteAddress,
        SafeUcxRemoteKeyHandle remoteKey,
        RequestParam* parameters);

    [LibraryImport(Ucp, EntryPoint = "ucp_get_nbx")]
    public static partial nint GetNbx(SafeUcxEndpointHandle endpoint, void* buffer, nuint count, ulong remoteAddress,
        SafeUcxRemoteKeyHandle remoteKey,
        RequestParam* parameters);

    [LibraryImport(Ucp, EntryPoint = "ucp_atomic_op_nbx")]
    public static partial nint AtomicOpNbx(SafeUcxEndpointHandle endpoint, int opcode, void* buffer, nuint count,
        ulong remoteAddress, SafeUcxRemoteKeyHandle remoteKey, RequestParam* parameters);

    [LibraryImport(Ucp, EntryPoint = "ucp_worker_set_am_recv_handler")]
    public static partial sbyte WorkerSetAmRecvHandler(SafeUcxWorkerHandle worker, AmHandlerParam* parameters);

    [LibraryImport(Ucp, EntryPoint = "ucp_am_send_nbx")]
    public static partial nint AmSendNbx(SafeUcxEndpointHandle endpoint, uint id, void* header, nuint headerLength,
        void* buffer, nuint count, RequestParam* parameters);

    /// <summary><c>ucp_am_send_nbx</c> on an endpoint UCX owns: the reply endpoint it hands a message handler.</summary>
    [LibraryImport(Ucp, EntryPoint = "ucp_am_send_nbx")]
    public static partial nint AmSendNbx(nint replyEndpoint, uint id, void* header, nuint headerLength, void* buffer,
        nuint count, RequestParam* parameters);

    /// <summary>Reads a request's state: no system call, no callback, so the GC transition is skipped.</summary>
    [LibraryImport(Ucp, EntryPoint = "ucp_request_check_status")]
    [SuppressGCTransition]
    public static partial sbyte RequestCheckStatus(nint request);

    [LibraryImport(Ucp, EntryPoint = "ucp_request_free")]
    public static partial void RequestFree(nint request);

    /// <summary>
    /// Gives the error signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE) back to the handlers UCX found when it loaded: UCX
    /// installs its own at load time, which print "Caught signal 11" and freeze or kill the process, and which took
    /// them from the .NET runtime (it handles SIGSEGV itself). UCX's Java binding does the same.
    /// </summary>
    [LibraryImport(Ucs, EntryPoint = "ucs_debug_disable_signals")]
    public static partial void DebugDisableSignals();

    [LibraryImport(Ucs, EntryPoint = "ucs_status_string")]
    private static partial byte* StatusStringNative(sbyte status);

    /// <summary><c>ucs_status_string</c>: UCX's own text for a status ("Input/output error", "Endpoint timeout").</summary>
    public static string StatusString(sbyte status) =>
        Marshal.PtrToStringUTF8((nint)StatusStringNative(status)) ?? $"status {status}";
}
