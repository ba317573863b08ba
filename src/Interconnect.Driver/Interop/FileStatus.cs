namespace Interconnect.Driver.Interop;

/// <summary>
/// What the kernel says of one file (statx(2)): its size, type and permission bits (<see cref="Mode"/>, as
/// <c>st_mode</c>), owner and link count.
/// </summary>
internal readonly record struct FileStatus(long Size, int Mode, int Uid, int Gid, int Links)
{
    private const int TypeMask = 0xf000;

    /// <summary>The permission bits with set-id and sticky (07777).</summary>
    public int Permissions => Mode & 0xfff;

    public bool IsRegularFile => (Mode & TypeMask) == 0x8000;

    public bool IsDirectory => (Mode & TypeMask) == 0x4000;

    public bool IsSymbolicLink => (Mode & TypeMask) == 0xa000;

    /// <summary>The sticky bit: in a folder, only an entry's owner (or the folder's) may rename or remove it.</summary>
    public bool IsSticky => (Mode & 0x200) != 0;

    /// <summary>Writable by its group or by everyone (not only its owner).</summary>
    public bool IsWritableByOthers => (Mode & 0b000_010_010) != 0;

    /// <summary>What the file is, in a word, for messages.</summary>
    public string Kind => (Mode & TypeMask) switch
    {
        0x8000 => "a regular file",
        0x4000 => "a folder",
        0xa000 => "a symbolic link",
        0x1000 => "a FIFO",
        0xc000 => "a socket",
        0x2000 => "a character device",
        0x6000 => "a block device",
        _ => "an unknown kind of file",
    };
}
