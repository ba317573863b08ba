namespace Interconnect.Driver.Store.Layout;

/// <summary>
/// The words of one region's transmit windows, a file per region (<see cref="RegionWindowsFile"/>). Version 1:
/// <code>
///  offset                          size                       what
///  0                               64                         RegionWords (the region's write lock)
///  CountersOffset        (64)      4096 x 128                 WindowCounters[MaxAttachments] (by attachment index)
///  FileSize              (524352)
/// </code>
/// Sparse: only the lines of the region's own windows are ever touched.
/// </summary>
internal static class WindowsLayout
{
    public const int CountersOffset = RegionWords.Size;
    public const int FileSize = CountersOffset + (ControlLayout.MaxAttachments * WindowCounters.Size);
}
