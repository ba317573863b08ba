namespace Interconnect.Driver.Directory.Etcd;

/// <summary>
/// A change a watch reported: the key as it became (its value and lease), or as it was deleted (no value; the
/// revision is the deletion's).
/// </summary>
internal readonly record struct EtcdChange(EtcdEntry Entry, bool Deleted);
