/*
 *
 * To compile: cc -o mc_ex5 -g mc_ex5.c -limc
 *
 * Example 10-5 of the manual (Locking Memory Channel Regions), as printed; it needs none of the changes API.md
 * allows (the page break's continuation is joined). Here: cc -I native/include -o mc_ex5 examples/c/mc_ex5.c
 * -L native/lib -limc; run it on several hosts: the first initialises the region under lock 0 of lock set 456,
 * the others count themselves in under the same lock.
 *
 */

#include <sys/types.h>
#include <sys/imc.h>

main ( )
{
    imc_asid_t   glob_id;
    imc_lkid_t   lock_id;
    int         locks = 4;
    int         status;

    typedef struct {
        int     proc_count;
        int     pattern[2047];
    } clust_rec;

    clust_rec *global_record_tx, *global_record_rx;
    caddr_t    add_rx_ptr = 0, add_tx_ptr = 0;
    int        j;

    status = imc_api_init(NULL);

    imc_asalloc(123, 8192, IMC_URW, 0, &glob_id, 0);

    imc_asattach(glob_id, IMC_TRANSMIT, IMC_SHARED,
                 IMC_LOOPBACK, &add_tx_ptr);

    imc_asattach(glob_id, IMC_RECEIVE, IMC_SHARED,
                 0, &add_rx_ptr);

global_record_tx = (clust_rec*) add_tx_ptr;
global_record_rx = (clust_rec*) add_rx_ptr;

status = imc_lkalloc(456, &locks, IMC_LKU, IMC_CREATOR,
                    &lock_id);
if (status == IMC_SUCCESS)
{
    /* This is the first process. Initialize the global region */

    global_record_tx->proc_count = 0;
    for (j = 0; j < 2047; j++)
        global_record_tx->pattern[j] = j;

    /* release the lock */
    imc_lkrelease(lock_id, 0);
}

/* This is a secondary process */
else if (status == IMC_EXISTS)
{
    imc_lkalloc(456, &locks, IMC_LKU, 0, &lock_id);

    imc_lkacquire(lock_id, 0, 0, IMC_LOCKWAIT);

    /* wait for access to region */

    global_record_tx->proc_count = global_record_rx->proc_count+1;

    /* release the lock */

    imc_lkrelease(lock_id, 0);
}

/* body of program goes here */

/* clean up */
imc_lkdealloc(lock_id);
imc_asdetach(glob_id);
imc_asdealloc(glob_id);
}
