using System.Runtime.InteropServices;
namespace Interconnect.Imc.Native;

/// <summary>Lock sets (<c>imc_lkalloc</c>, <c>imc_lkacquire</c>, <c>imc_lkrelease</c>, <c>imc_lkdealloc</c>).</summary>
internal static unsafe partial class Exports
{
    private const int CreatorFlag = 1;
    private const int LockWait = 0;
    private const int LockNoWait = 1;

    [UnmanagedCallersOnly(EntryPoint = "imc_lkalloc")]
    public static int LkAlloc(int key, int* count, int permissions, int flag, int* id)
    {
        try
        {
            if (NativeState.Context is not { } context)
            {
                return NotInitialized();
            }

            if (count == null || id == null)
            {
                return Status.Fail(ImcStatus.BadParameter, $"imc_lkalloc of key {key}: the lock count or id pointer is NULL");
            }

            if (flag is not (0 or CreatorFlag))
            {
                return Status.Fail(ImcStatus.BadParameter, $"imc_lkalloc of key {key}: flag {flag} (0 or IMC_CREATOR)");
            }

            if ((permissions & ~(int)(ImcLockPermissions.User | ImcLockPermissions.Group | ImcLockPermissions.Other)) != 0)
            {
                return Status.Fail(ImcStatus.BadParameter, $"imc_lkalloc of key {key}: permissions {permissions} (IMC_LKU, IMC_LKG, IMC_LKO)");
            }

            ImcLockSet lockSet;
            if (flag == CreatorFlag)
            {
                if (!context.TryCreateLockSet(key, *count, (ImcLockPermissions)permissions, out var created))
                {
                    return Status.Fail(ImcStatus.Exists, $"lock set key {key} exists: allocate it without IMC_CREATOR");
                }

                lockSet = created;
            }
            else
            {
                lockSet = context.AllocateLockSet(key, *count, (ImcLockPermissions)permissions);
            }

            *count = lockSet.Count;
            *id = NativeState.AddLockSet(lockSet);
            return Status.Success;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "imc_lkacquire")]
    public static int LkAcquire(int id, int index, int retry, int flag)
    {
        try
        {
            if (LockSet(id, "imc_lkacquire", out var lockSet) is var status && status != Status.Success)
            {
                return status;
            }

            if (retry < 0 || flag is not (LockWait or LockNoWait))
            {
                return Status.Fail(ImcStatus.BadParameter,
                    $"imc_lkacquire of lock set id {id}: retry {retry} (0 or more), flag {flag} (IMC_LOCKWAIT, IMC_LOCKNOWAIT)");
            }

            if (flag == LockWait)
            {
                lockSet!.Acquire(index);
                return Status.Success;
            }

            return lockSet!.TryAcquire(index) ? Status.Success : (int)ImcStatus.NoLockGot;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "imc_lkrelease")]
    public static int LkRelease(int id, int index)
    {
        try
        {
            if (LockSet(id, "imc_lkrelease", out var lockSet) is var status && status != Status.Success)
            {
                return status;
            }

            lockSet!.Release(index);
            return Status.Success;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "imc_lkdealloc")]
    public static int LkDealloc(int id)
    {
        try
        {
            if (LockSet(id, "imc_lkdealloc", out var lockSet) is var status && status != Status.Success)
            {
                return status;
            }

            lockSet!.Deallocate();
            NativeState.RemoveLockSet(id);
            return Status.Success;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    private static int LockSet(int id, string function, out ImcLockSet? lockSet)
    {
        lockSet = null;
        if (NativeState.Context is null)
        {
            return NotInitialized();
        }

        lockSet = NativeState.LockSet(id);
        return lockSet is null
            ? Status.Fail(ImcStatus.BadLock, $"{function}: lock set id {id} was not allocated by this process (or was deallocated)")
            : Status.Success;
    }
}
