namespace Interconnect.Imc;

/// <summary>
/// Region permissions, as <c>IMC_UR</c> … <c>IMC_ORW</c>. The values are UNIX mode bits (<see cref="UserReadWrite"/>
/// is 0600), checked against the caller's real user and groups and carried onto the receive files' modes.
/// </summary>
[Flags]
public enum ImcPermissions
{
    /// <summary>IMC_UR: the owner may attach for receive.</summary>
    UserRead = 0x100,
    /// <summary>IMC_UW: the owner may attach for transmit.</summary>
    UserWrite = 0x80,
    /// <summary>IMC_URW.</summary>
    UserReadWrite = UserRead | UserWrite,
    /// <summary>IMC_GR: the owner's group may attach for receive.</summary>
    GroupRead = 0x20,
    /// <summary>IMC_GW: the owner's group may attach for transmit.</summary>
    GroupWrite = 0x10,
    /// <summary>IMC_GRW.</summary>
    GroupReadWrite = GroupRead | GroupWrite,
    /// <summary>IMC_OR: everyone may attach for receive.</summary>
    OtherRead = 0x4,
    /// <summary>IMC_OW: everyone may attach for transmit.</summary>
    OtherWrite = 0x2,
    /// <summary>IMC_ORW.</summary>
    OtherReadWrite = OtherRead | OtherWrite,
}
