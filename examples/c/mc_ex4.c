/*
 *
 * To compile: cc -o mc_ex4 -g mc_ex4.c -limc
 *
 * Example 10-4 of the manual (Error Detection Using the imc_ckerrcnt_mr Function), as printed, with only the changes
 * ../shared/API.md ("From C") allows: <c_asm.h> and asm("mb") written __sync_synchronize(), and the cast-as-lvalue
 * &(caddr_t)p written (caddr_t *)&p. The manual gives no receiver of its own ("an amended version of the send
 * sequence" of Example 10-3): run mc_ex3_rx on another host first.
 *
 */

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
int              i, status;
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

do {
    mypage_tx->send_count = err_count;

    /* store message data */
    for (i = 0; i < 2046; i++)
        mypage_tx->remainder[i] = i;

    /* now mark as valid */
    mb();

    mypage_tx->msg_arrived = 1;

    /* if error occurs, retransmit */

} while ( (status = imc_ckerrcnt_mr(&err_count,0)) != IMC_SUCCESS);
}
