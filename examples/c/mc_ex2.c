/*
 * To compile : cc -o mc_ex2 -g mc_ex2.c -limc
 *
 * Example 10-2 of the manual (System V IPC and Memory Channel Code Comparison), as printed, with only the changes
 * ../shared/API.md ("From C") allows: the cast-as-lvalue &(caddr_t)p written (caddr_t *)&p, and the standard
 * headers the original leaves implicit. The System V program stays out of the build (#if 0), as in the original;
 * the manual's ". ." elisions stand for "body of program goes here" and are left out, and the page breaks' stray
 * closing braces with them. Here: cc -I native/include -o mc_ex2 examples/c/mc_ex2.c -L native/lib -limc.
 */

#if 0

/***** System V IPC example *****/

#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/shm.h>
main()
{
    typedef struct {
        int proc_count;
        int remainder[2047];
    } global_page;
    global_page *mypage;
    int shmid;

    shmid = shmget(123, 8192, IPC_CREAT | SHM_R | SHM_W);

    (caddr_t)mypage = shmat(shmid, 0, 0); /* attach the
        global region */

    mypage->proc_count ++; /* increment process
        count */

    /* body of program goes here */

    /* clean up */

    mypage->proc_count --;          /* decrement process
                                    count                */

    if (mypage->proc_count == 0 )
        printf("The last process is exiting\n");
}

#endif

/***** Memory Channel example *****/

#include <stdio.h>
#include <sys/types.h>
#include <sys/imc.h>
main()
{
    typedef struct {
        int proc_count;
        int remainder[2047];
        } global_page;
    global_page *mypage_rx, *mypage_tx;
    imc_asid_t glob_id;
    int logical_rail=0;
    int temp;

    imc_api_init(NULL);

    imc_asalloc(123, 8192, IMC_URW | IMC_GRW, 0, &glob_id,
        logical_rail);

    imc_asattach(glob_id, IMC_TRANSMIT, IMC_SHARED,
        IMC_LOOPBACK, (caddr_t *)&mypage_tx);

    imc_asattach(glob_id, IMC_RECEIVE, IMC_SHARED,
        0, (caddr_t *)&mypage_rx);

    /* increment process count */

    mypage_tx->proc_count = mypage_rx->proc_count + 1;

    /* body of program goes here */

    /* clean up */

    /* decrement process count */

    temp = mypage_rx->proc_count - 1;

    mypage_tx->proc_count = temp;

    /* wait for MEMORY CHANNEL update to occur */

    while (mypage_rx->proc_count != temp)
        ;

    if (mypage_rx->proc_count == 0 )
        printf("The last process is exiting\n");
}
