/*
 *
 * To compile : cc -DTRANSMIT -o mc_ex3_tx -g mc_ex3.c -limc
 *              cc -o mc_ex3_rx -g mc_ex3.c -limc
 *
 * Example 10-3 of the manual (Error Detection Using the imc_rderrcnt_mr Function), as printed, with only the changes
 * ../shared/API.md ("From C") allows: <c_asm.h> and asm("mb") written __sync_synchronize(), and the cast-as-lvalue
 * &(caddr_t)p written (caddr_t *)&p. Here: cc -I native/include [-DTRANSMIT] ... -L native/lib -limc; start the
 * receiver on one host, then the transmitter on another.
 *
 */

#ifdef TRANSMIT

/*****
***** Transmitting Process *****
*****/

#define mb() __sync_synchronize()

#include <sys/imc.h>

main()
{
    typedef struct {
        volatile      int      msg_arrived;
        int           send_count;
        int           remainder[2046];
    } global_page;
    global_page      *mypage_rx, *mypage_tx;
    imc_asid_t       glob_id;
    int              i;
    volatile         int      err_count;

    imc_api_init(NULL);

    imc_asalloc (1234, 8192, IMC_URW, 0, &glob_id,0);
    imc_asattach (glob_id, IMC_TRANSMIT, IMC_SHARED, IMC_LOOPBACK,
                 (caddr_t *)&mypage_tx);
    imc_asattach (glob_id, IMC_RECEIVE, IMC_SHARED, 0,
                 (caddr_t *)&mypage_rx);

    /* save the error count */
    while ( (err_count = imc_rderrcnt_mr(0) ) < 0 )
        ;

    mypage_tx->send_count = err_count;

    /* store message data */
    for (i = 0; i < 2046; i++)
        mypage_tx->remainder[i] = i;

    /* now mark as valid */
    mb();

    do {
        mypage_tx->msg_arrived = 1;
    } while (mypage_rx->msg_arrived != 1); /* ensure no error on
                                         valid flag */
}

#else

/*****
***** Receiving Process *****
*****/

#include <sys/imc.h>
main()
{
    typedef struct {
        volatile int msg_arrived;
        int send_count;
        int remainder[2046];
    } global_page;
    global_page *mypage_rx, *mypage_tx;
    imc_asid_t glob_id;
    int i;
    volatile int err_count;

    imc_api_init(NULL);

    imc_asalloc (1234, 8192, IMC_URW, 0, &glob_id, 0);
    imc_asattach (glob_id, IMC_RECEIVE, IMC_SHARED, 0,
                 (caddr_t *)&mypage_rx);

    /* wait for message arrival */
    while ( mypage_rx->msg_arrived == 0 )
        ;

    /* get this systems error count */
    while ( (err_count = imc_rderrcnt_mr(0)) < 0 )
        ;

    if (err_count == mypage_rx->send_count) {
        /* no error, process the body */
    }
    else {
        /* do error processing */
    }
}

#endif
