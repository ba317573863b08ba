/*
 * Test helper: Example 10-2's count, held open. Allocates region KEY (8192 bytes, IMC_URW | IMC_GRW, direct),
 * attaches it for transmit with loopback and for receive, adds 1 to the count at offset 0, prints "count N" and
 * "holding"; at each line on standard input prints "count N" again; at end of input takes 1 off, waits until the
 * write came back and prints "count N" (and "The last process is exiting" at 0), as Example 10-2 ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/imc.h>

int main(int argc, char *argv[])
{
    imc_asid_t id;
    volatile int *rx, *tx;
    char line[64];
    int status, temp;

    if (argc != 2) {
        fprintf(stderr, "usage: %s KEY\n", argv[0]);
        return 1;
    }

    if ((status = imc_api_init(NULL)) != IMC_SUCCESS ||
        (status = imc_asalloc(atoi(argv[1]), 8192, IMC_URW | IMC_GRW, 0, &id, 0)) != IMC_SUCCESS ||
        (status = imc_asattach(id, IMC_TRANSMIT, IMC_SHARED, IMC_LOOPBACK, (caddr_t *)&tx)) != IMC_SUCCESS ||
        (status = imc_asattach(id, IMC_RECEIVE, IMC_SHARED, 0, (caddr_t *)&rx)) != IMC_SUCCESS) {
        imc_perror("imc_hold:", status);
        return 2;
    }

    temp = rx[0] + 1;
    tx[0] = temp;
    while (rx[0] != temp)
        ;
    printf("count %d\nholding\n", rx[0]);
    fflush(stdout);

    while (fgets(line, sizeof line, stdin) != NULL) {
        printf("count %d\n", rx[0]);
        fflush(stdout);
    }

    temp = rx[0] - 1;
    tx[0] = temp;
    while (rx[0] != temp)
        ;
    printf("count %d\n", rx[0]);
    if (rx[0] == 0)
        printf("The last process is exiting\n");
    imc_asdetach(id);
    imc_asdealloc(id);
    return 0;
}
