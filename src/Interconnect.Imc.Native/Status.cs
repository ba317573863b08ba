namespace Interconnect.Imc.Native;

/// <summary>
/// How a C call ends: an <see cref="ImcStatus"/> as an int, with the message of the last failure kept per thread so
/// that <c>imc_perror</c> can say what failed, not only its code. No exception ever crosses into C.
/// </summary>
internal static class Status
{
    public const int Success = (int)ImcStatus.Success;

    [ThreadStatic]
    private static string? t_lastMessage;

    [ThreadStatic]
    private static int t_lastStatus;

    /// <summary>The message of this thread's last failure with <paramref name="status"/>, or null.</summary>
    public static string? LastMessage(int status) => t_lastStatus == status ? t_lastMessage : null;

    public static int Fail(ImcStatus status, string detail) => Record((int)status, new ImcException(status, detail).Message);

    /// <summary>The status a C caller gets for an exception of the API.</summary>
    public static int From(Exception e) => e switch
    {
        ImcException imc => Record((int)imc.Status, imc.Message),
        ArgumentOutOfRangeException => Fail(ImcStatus.BadSize, e.Message),
        ArgumentException => Fail(ImcStatus.BadParameter, e.Message),
        ObjectDisposedException => Fail(ImcStatus.NotAllocated, e.Message),
        OutOfMemoryException => Fail(ImcStatus.NoMemory, e.Message),
        _ => Fail(ImcStatus.Undefined, $"{e.GetType().Name}: {e.Message}"),
    };

    private static int Record(int status, string message)
    {
        t_lastStatus = status;
        t_lastMessage = message;
        return status;
    }
}
