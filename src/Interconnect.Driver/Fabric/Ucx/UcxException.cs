using System.Diagnostics.CodeAnalysis;
using Native = Interconnect.Driver.Interop.Ucx;

namespace Interconnect.Driver.Fabric.Ucx;

/// <summary>
/// A UCX call failed. Carries UCX's own status and text (<c>ucs_status_string</c>) beside the driver status it maps to:
/// <list type="bullet">
/// <item><see cref="DriverStatus.Timeout"/>: a blocking call ran past its deadline (the target is gone, or stopped
/// progressing its worker, which the tcp transport needs). The endpoint is closed by then (see
/// <see cref="UcxEndpoint"/>).</item>
/// <item><see cref="DriverStatus.McError"/>: the peer failed or the connection broke (UCX's error handler fired, or an
/// operation completed with a transport error). McError is the status the error counts report for transmissions that
/// may be lost, which is exactly what a broken endpoint means; WriteError would name only the put, while gets and
/// atomics fail the same way.</item>
/// <item><see cref="DriverStatus.BadParameter"/>: UCX refused what it was given (a malformed worker address or remote
/// key).</item>
/// <item><see cref="DriverStatus.InitError"/> or <see cref="DriverStatus.NoResources"/>: creating a context, worker or
/// registration failed.</item>
/// </list>
/// </summary>
internal sealed class UcxException : DriverException
{
    public UcxException(DriverStatus status, int ucsStatus, string message)
        : base(status, message) => UcsStatus = ucsStatus;

    public UcxException()
        : this(DriverStatus.McError, 0, "UCX error")
    {
    }

    public UcxException(string message)
        : this(DriverStatus.McError, 0, message)
    {
    }

    public UcxException(string message, Exception innerException)
        : base(DriverStatus.McError, message, innerException)
    {
    }

    /// <summary>UCX's <c>ucs_status_t</c> (0 when the failure was detected by the binding, such as a deadline).</summary>
    public int UcsStatus { get; }

    /// <summary>UCX's text for <see cref="UcsStatus"/>.</summary>
    public string UcsStatusText => UcsStatus == 0 ? "" : Native.StatusString((sbyte)UcsStatus);

    /// <summary>
    /// The exception for a failed call: <paramref name="what"/> names the call and its target, UCX's text follows.
    /// </summary>
    public static UcxException From(sbyte status, DriverStatus driverStatus, string what) =>
        new(driverStatus, status, $"{what}: {Native.StatusString(status)} (UCX status {status})");

    /// <summary>Throws unless <paramref name="status"/> is UCS_OK.</summary>
    public static void Check(sbyte status, DriverStatus driverStatus, string what)
    {
        if (status != Native.Ok)
        {
            Throw(status, driverStatus, what);
        }
    }

    [DoesNotReturn]
    public static void Throw(sbyte status, DriverStatus driverStatus, string what) =>
        throw From(status, driverStatus, what);
}
