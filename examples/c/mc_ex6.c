/*
 *
 * To compile: cc -o mc_ex6 -g mc_ex6.c -limc
 *
 * Example 10-6 of the manual (Requesting Memory Channel API Cluster Information; Waiting for Memory Channel API
 * Cluster Events), as printed; it needs none of the changes API.md allows (imc_railinfo is an array type, so mask
 * is passed without &). Here: cc -I native/include -o mc_ex6 examples/c/mc_ex6.c -L native/lib -limc; it returns
 * when a host joins or leaves (imc_init --host gamma) or a rail changes (imcctl fail-rail 0).
 *
 */

#include <sys/imc.h>

main ( )
{

    imc_railinfo    mask;
    imc_hostinfo    hostinfo;

    int             status;
    imc_infoType    items[3];
    imc_eventType   events[3];

    items[0] = IMC_GET_ACTIVERAILS;
    items[1] = IMC_GET_HOSTS;
    items[2] = 0;

    events[0] = IMC_CC_EVENT_RAIL;
    events[1] = IMC_CC_EVENT_HOST;
    events[2] = 0;

    imc_api_init(NULL);

    status = imc_getclusterinfo(items,2,mask,sizeof(imc_railinfo),
                                &hostinfo,sizeof(imc_hostinfo));

    if (status != IMC_SUCCESS)
        imc_perror("imc_getclusterinfo:",status);

    status = imc_wait_cluster_event(events, 2, 0,
                                    mask, sizeof(imc_railinfo),
                                    &hostinfo, sizeof(imc_hostinfo));

    if ((status != IMC_HOST_CHANGE) && (status != IMC_RAIL_CHANGE))
        imc_perror("imc_wait_cluster_event didn't complete:",status);

} /*main*/
