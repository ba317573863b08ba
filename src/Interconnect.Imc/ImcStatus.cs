namespace Interconnect.Imc;

/// <summary>
/// The status codes of the Memory Channel API library, with its numeric values, so that code ported from C can
/// compare them. <see cref="Success"/> is 0; every error is negative.
/// </summary>
public enum ImcStatus
{
    /// <summary>IMC_SUCCESS: the call succeeded.</summary>
    Success = 0,
    /// <summary>IMC_MCFULL: not enough Memory Channel address space (maxalloc).</summary>
    McFull = -1,
    /// <summary>IMC_BADPARM: an argument is invalid.</summary>
    BadParameter = -2,
    /// <summary>IMC_EXISTS: the lock set already exists.</summary>
    Exists = -3,
    /// <summary>IMC_ATTACHED: the region is still attached.</summary>
    Attached = -4,
    /// <summary>IMC_NOLOCKGOT: the lock was not acquired.</summary>
    NoLockGot = -5,
    /// <summary>IMC_RXFULL: the host's receive space (maxrecv) is exhausted.</summary>
    RxFull = -6,
    /// <summary>IMC_BADLOCK: no such lock in the set.</summary>
    BadLock = -7,
    /// <summary>IMC_SHAREERR: the region is attached shared on this host.</summary>
    ShareError = -8,
    /// <summary>IMC_NONSHAREERR: the region is attached non-shared on this host.</summary>
    NonShareError = -9,
    /// <summary>IMC_PERMIT: permission denied.</summary>
    Permit = -10,
    /// <summary>IMC_NOTALLOC: the region or lock set is not allocated by this process.</summary>
    NotAllocated = -11,
    /// <summary>IMC_PRIOR: already allocated by this process.</summary>
    Prior = -12,
    /// <summary>IMC_LOCKACTIVE: this process holds a lock of the set.</summary>
    LockActive = -13,
    /// <summary>IMC_NOTINIT: imc_init has not run for this host.</summary>
    NotInitialized = -14,
    /// <summary>IMC_NOTSUPER: the caller is not the superuser.</summary>
    NotSuperuser = -15,
    /// <summary>IMC_BADSIZE: the size is invalid or differs from the existing region's.</summary>
    BadSize = -16,
    /// <summary>IMC_OPENERR: a file or device could not be opened.</summary>
    OpenError = -17,
    /// <summary>IMC_WRITEERR: a write failed.</summary>
    WriteError = -18,
    /// <summary>IMC_CLOSEERR: a close failed.</summary>
    CloseError = -19,
    /// <summary>IMC_BADREGION: no such region.</summary>
    BadRegion = -20,
    /// <summary>IMC_RXMAPPED: already attached for receive by this process.</summary>
    ReceiveMapped = -21,
    /// <summary>IMC_TXMAPPED: already attached for transmit by this process.</summary>
    TransmitMapped = -22,
    /// <summary>IMC_LOCKNOTHELD: the lock is not held by this process.</summary>
    LockNotHeld = -23,
    /// <summary>IMC_MC_ERROR: a Memory Channel error occurred, or is being processed.</summary>
    McError = -24,
    /// <summary>IMC_TIMEOUT: the operation timed out.</summary>
    Timeout = -25,
    /// <summary>IMC_NOMCSPACE: no Memory Channel space.</summary>
    NoMcSpace = -26,
    /// <summary>IMC_INVSIG: invalid signal number.</summary>
    InvalidSignal = -27,
    /// <summary>IMC_NOSUCHPROC: no such process on that host.</summary>
    NoSuchProcess = -28,
    /// <summary>IMC_BADSERVICE: invalid service.</summary>
    BadService = -29,
    /// <summary>IMC_NOTREG: not registered.</summary>
    NotRegistered = -30,
    /// <summary>IMC_NOPRIV: insufficient privilege.</summary>
    NoPrivilege = -31,
    /// <summary>IMC_NOROOT: no root.</summary>
    NoRoot = -32,
    /// <summary>IMC_COHERR: the region exists with the other coherency.</summary>
    CoherencyError = -33,
    /// <summary>IMC_UNDEFINED: undefined error.</summary>
    Undefined = -34,
    /// <summary>IMC_KERNELFAULT: fault in the kernel.</summary>
    KernelFault = -35,
    /// <summary>IMC_NORESOURCES: not enough Memory Channel data structures.</summary>
    NoResources = -36,
    /// <summary>IMC_LATEJOIN: late join.</summary>
    LateJoin = -37,
    /// <summary>IMC_LOOPBACKERR: the host's loopback setting differs.</summary>
    LoopbackError = -38,
    /// <summary>IMC_BADHOST: no such host.</summary>
    BadHost = -39,
    /// <summary>IMC_INITERR: initialization error.</summary>
    InitError = -40,
    /// <summary>IMC_LOCKPRIOR: this process already holds the lock.</summary>
    LockPrior = -41,
    /// <summary>IMC_COMPLEMENTERR: complement error.</summary>
    ComplementError = -42,
    /// <summary>IMC_BADMAP: a mapping is invalid or damaged.</summary>
    BadMap = -44,
    /// <summary>IMC_INTERRUPTED: interrupted.</summary>
    Interrupted = -45,
    /// <summary>IMC_NOMEM: out of memory.</summary>
    NoMemory = -46,
    /// <summary>IMC_CORRUPTLOCK: a lock word is corrupt.</summary>
    CorruptLock = -47,
    /// <summary>IMC_INSUFFMEM: insufficient memory.</summary>
    InsufficientMemory = -48,
    /// <summary>IMC_PTPERR: point-to-point attach to the caller's own host.</summary>
    PointToPointError = -49,
    /// <summary>IMC_NOTSUPPORTED: not supported.</summary>
    NotSupported = -50,
    /// <summary>IMC_WIRED_LIMIT: the wired memory limit would be exceeded.</summary>
    WiredLimit = -51,
    /// <summary>IMC_MAPENTRIES: too many virtual memory map entries.</summary>
    MapEntries = -52,
    /// <summary>IMC_BADADDR: bad address.</summary>
    BadAddress = -53,
    /// <summary>IMC_RAIL_CHANGE: the logical rail configuration changed.</summary>
    RailChange = -54,
    /// <summary>IMC_HOST_CHANGE: a host joined or left.</summary>
    HostChange = -55,
    /// <summary>IMC_MULTIPLE_CHANGE: hosts and rails changed.</summary>
    MultipleChange = -56,
    /// <summary>IMC_BADRAIL: no such logical rail.</summary>
    BadRail = -57,
    /// <summary>IMC_WRONGRAIL: the region exists on another logical rail.</summary>
    WrongRail = -58,
    /// <summary>IMC_FAILEDOVER: the rail failed over.</summary>
    FailedOver = -59,
    /// <summary>IMC_NOMAPPER: the imc_mapper process is missing.</summary>
    NoMapper = -60,
    /// <summary>IMC_INITPENDING: initialization is pending.</summary>
    InitPending = -61,
}
