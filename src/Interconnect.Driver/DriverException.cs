namespace Interconnect.Driver;

/// <summary>
/// A driver operation failed; <see cref="Status"/> says how, the message says what and what to do. Not sealed: a
/// fabric adds what its library reported (<c>UcxException</c>).
/// </summary>
internal class DriverException : Exception
{
    public DriverException(DriverStatus status, string message)
        : base(message) => Status = status;

    public DriverException(DriverStatus status, string message, Exception innerException)
        : base(message, innerException) => Status = status;

    public DriverException()
        : this(DriverStatus.BadParameter, "driver error")
    {
    }

    public DriverException(string message)
        : this(DriverStatus.BadParameter, message)
    {
    }

    public DriverException(string message, Exception innerException)
        : this(DriverStatus.BadParameter, message, innerException)
    {
    }

    public DriverStatus Status { get; }
}
