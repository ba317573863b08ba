namespace Interconnect.Imc;

/// <summary>Who may use a lock set (<c>IMC_LKU</c>, <c>IMC_LKG</c>, <c>IMC_LKO</c>), against the caller's real uid and groups.</summary>
[Flags]
public enum ImcLockPermissions
{
    /// <summary>IMC_LKU: the owner.</summary>
    User = 0b100,
    /// <summary>IMC_LKG: the owner's group.</summary>
    Group = 0b010,
    /// <summary>IMC_LKO: everyone.</summary>
    Other = 0b001,
}
