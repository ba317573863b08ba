namespace Interconnect.Driver;

/// <summary>
/// The outcomes the driver reports. Each value equals the <c>ImcStatus</c> of the same name, so the API converts
/// by number in one place (checked by a test).
/// </summary>
internal enum DriverStatus
{
    Success = 0,
    McFull = -1,
    BadParameter = -2,
    Exists = -3,
    Attached = -4,
    NoLockGot = -5,
    RxFull = -6,
    BadLock = -7,
    ShareError = -8,
    NonShareError = -9,
    Permit = -10,
    NotAllocated = -11,
    Prior = -12,
    LockActive = -13,
    NotInitialized = -14,
    BadSize = -16,
    OpenError = -17,
    WriteError = -18,
    ReceiveMapped = -21,
    TransmitMapped = -22,
    LockNotHeld = -23,
    McError = -24,
    Timeout = -25,
    InvalidSignal = -27,
    NoSuchProcess = -28,
    CoherencyError = -33,
    NoResources = -36,
    LoopbackError = -38,
    BadHost = -39,
    InitError = -40,
    LockPrior = -41,
    BadMap = -44,
    Interrupted = -45,
    CorruptLock = -47,
    PointToPointError = -49,
    NotSupported = -50,
    BadRail = -57,
    WrongRail = -58,
}
