using System.Diagnostics.CodeAnalysis;
using Interconnect.Driver;

namespace Interconnect.Imc.Internal;

/// <summary>Throws for the data path, out of line, so the hot methods stay small.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void BadRail(int logicalRail, int rails) => throw new ImcException(ImcStatus.BadRail,
        $"logical rail {logicalRail}: the cluster has logical rails 0 to {rails - 1}");

    /// <summary>A lock call's status other than success, with what it means for lock <paramref name="index"/>.</summary>
    [DoesNotReturn]
    public static void Lock(DriverStatus status, int key, int index, int count) => throw new ImcException((ImcStatus)(int)status,
        status switch
        {
            DriverStatus.BadLock => $"lock {index} of lock set key {key}: the set has locks 0 to {count - 1}",
            DriverStatus.LockPrior => $"lock {index} of lock set key {key} is already held by this process",
            DriverStatus.LockNotHeld => $"lock {index} of lock set key {key} is not held by this process",
            _ => $"lock {index} of lock set key {key}",
        });

    /// <summary>A driver failure met in a data-path slow path.</summary>
    [DoesNotReturn]
    public static void From(DriverException e) => throw ImcException.From(e);
}
