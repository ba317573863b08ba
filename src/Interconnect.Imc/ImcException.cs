using Interconnect.Driver;

namespace Interconnect.Imc;

/// <summary>
/// A Memory Channel API call failed. <see cref="Status"/> is the code a C program would have received; the message
/// starts with the text <c>imc_perror</c> prints for it, then says what failed and what to do.
/// </summary>
public class ImcException : Exception
{
    /// <summary>Creates an exception for <paramref name="status"/> with the perror text and a detail.</summary>
    public ImcException(ImcStatus status, string? detail = null, Exception? innerException = null)
        : base(Compose(status, detail), innerException) => Status = status;

    /// <summary>Creates an exception with <see cref="ImcStatus.Undefined"/>.</summary>
    public ImcException()
        : this(ImcStatus.Undefined)
    {
    }

    /// <summary>Creates an exception with <see cref="ImcStatus.Undefined"/> and a detail.</summary>
    public ImcException(string message)
        : this(ImcStatus.Undefined, message)
    {
    }

    /// <summary>Creates an exception with <see cref="ImcStatus.Undefined"/>, a detail and its cause.</summary>
    public ImcException(string message, Exception innerException)
        : this(ImcStatus.Undefined, message, innerException)
    {
    }

    /// <summary>The status code.</summary>
    public ImcStatus Status { get; }

    /// <summary>The text <c>imc_perror</c> prints for <paramref name="status"/>.</summary>
    public static string PerrorText(ImcStatus status) => Internal.PerrorTexts.For(status);

    internal static ImcException From(DriverException e) => new((ImcStatus)(int)e.Status, e.Message, e);

    private static string Compose(ImcStatus status, string? detail) =>
        string.IsNullOrEmpty(detail) ? PerrorText(status) : $"{PerrorText(status)}: {detail}";
}
