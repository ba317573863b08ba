using Interconnect.Driver.Store;

namespace Interconnect.Driver.Directory;

/// <summary>
/// One process registered on one host of a cluster, as the directory knows it: every directory operation is made in
/// a registration's name. <see cref="Slot"/> and <see cref="Incarnation"/> name the registration in the directory;
/// <see cref="LockOwner"/> is its value in a lock word.
/// </summary>
internal sealed record ProcessRegistration(
    string HostName, int Host, int Slot, int Incarnation, int ProcessId, Credentials Credentials, long LockOwner);
