/*
 * To compile: cc -g -o mc_ex1 mc_ex1.c -limc
 *
 * Example 10-1 of the manual (Accessing Regions of Memory Channel Address Space), as printed, with only the changes
 * ../shared/API.md ("From C") allows for modern C: <c_asm.h> and asm("mb") written __sync_synchronize(), the
 * cast-as-lvalue written as an assignment through (void *), and the standard headers the original leaves implicit.
 * (The printed page closes the master's block before its continuation; the code runs on as the callouts describe.)
 * Here: cc -I native/include -o mc_ex1 examples/c/mc_ex1.c -L native/lib -limc; start the slave (mc_ex1 0) on one
 * host, then the master (mc_ex1 1) on another, with LD_LIBRARY_PATH=native/lib and IMC_HOST set.
 */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/imc.h>

#define mb() __sync_synchronize()
#define VALID 756

main (int argc, char *argv[])
{
    imc_asid_t  glob_id;
    typedef struct {
        pid_t    pid;
        volatile int valid;
    } clust_pid;

    clust_pid  *global_record;
    caddr_t    add_rx_ptr = 0, add_tx_ptr = 0;
    int        status;
    int        master;
    int        logical_rail=0;
    char       *prog;

    prog = argv[0];

    /* check for correct number of arguments */

    if (argc != 2) {
        printf("usage: %s 0|1\n", prog);
        exit(-1);
    }

    /* test if process is master or slave */

    master = atoi(argv[1]);

    /* initialize Memory Channel API library */

    status = imc_api_init(NULL);

    if (status < 0) {
        imc_perror("imc_api_init",status);
        exit(-2);
    }

    imc_asalloc(123, 8192, IMC_URW, 0, &glob_id,
               logical_rail);

    if (master) {
        imc_asattach(glob_id, IMC_TRANSMIT, IMC_SHARED,
                    0, &add_tx_ptr);

        global_record = (clust_pid*)add_tx_ptr;
        global_record->pid = getpid();
        mb();
        global_record->valid = VALID;
        mb();
    }

    else { /* secondary process */

        imc_asattach(glob_id, IMC_RECEIVE, IMC_SHARED,
                    0, &add_rx_ptr);

        global_record = (void *)add_rx_ptr;

        while ( global_record->valid != VALID)
            ; /* continue polling */

        printf("pid of master process is %d\n",
               global_record->pid);
    }

    imc_asdetach(glob_id);
    imc_asdealloc(glob_id);
}
