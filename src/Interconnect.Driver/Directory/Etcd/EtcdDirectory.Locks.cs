using Interconnect.Driver.Store;

namespace Interconnect.Driver.Directory.Etcd;

/// <summary>Clusterwide lock sets across machines.</summary>
internal sealed partial class EtcdDirectory
{
    // Lock sets: their words must live in one atomicity domain across machines (UCX atomics), not built yet.

    public LockSetHandle? AllocateLockSet(ProcessRegistration process, int key, int count, int permissions, bool create) =>
        throw new DriverException(DriverStatus.NotSupported,
            $"lock set key {key}: clusterwide locks across machines are not available yet (IMC_DIRECTORY is set); use a " +
            "cluster on one machine for programs that take locks");

    public void DeallocateLockSet(ProcessRegistration process, LockSetHandle lockSet) => _local.DeallocateLockSet(process, lockSet);

    public unsafe Store.Layout.LockWord* LockWords(LockSetHandle lockSet) => _local.LockWords(lockSet);

    public bool IsLockOwnerAlive(long owner) => _local.IsLockOwnerAlive(owner);
}
