using Interconnect.Driver;

namespace Interconnect.Imc.Internal;

/// <summary>
/// The one place where the driver's failures become <see cref="ImcException"/>s: every control-path call of the API
/// into the driver goes through <see cref="Run{T}(Func{T})"/> or <see cref="Run(Action)"/>. The data path never
/// throws a driver failure, so it does not come through here; nor do lock calls, which throw one only for a set
/// across machines (its home or the directory out of reach, or a fence): <see cref="ImcLockSet"/> converts those in
/// place, in a try region that costs the local path nothing, where a delegate here would cost every call.
/// </summary>
internal static class Boundary
{
    public static T Run<T>(Func<T> call)
    {
        try
        {
            return call();
        }
        catch (DriverException e)
        {
            throw ImcException.From(e);
        }
    }

    public static async Task<T> RunAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (DriverException e)
        {
            throw ImcException.From(e);
        }
    }

    public static void Run(Action call)
    {
        try
        {
            call();
        }
        catch (DriverException e)
        {
            throw ImcException.From(e);
        }
    }
}
