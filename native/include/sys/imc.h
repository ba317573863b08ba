/*
 * sys/imc.h: the Memory Channel API library for C, over libimc.so (the Interconnect Imc API compiled with
 * NativeAOT). Names, argument order and status values are the manual's (TruCluster Server, chapter 10) and
 * ../shared/API.md's; link with -L native/lib -limc and run with LD_LIBRARY_PATH=native/lib.
 *
 * Transmit pointers. A region created by imc_asalloc from C is *direct*: on this machine every host's receive
 * memory of it is one shared memory, and imc_asattach(IMC_TRANSMIT) returns a pointer into it, so plain stores
 * reach every receiver. What one memory cannot honour fails with IMC_NOTSUPPORTED (and imc_perror says why):
 * point-to-point attaches, a host that receives a region it transmits to without IMC_LOOPBACK, injected drops
 * on the region's rail. A region created with IMC_EMULATED (or by a .NET program) keeps every semantic of the
 * emulation (drops, loopback and point-to-point isolation); its transmit pointer is an address range with no
 * access, to be written only with imc_bcopy, imc_write32 and imc_write64 (a plain store through it faults,
 * as reading a transmit pointer does on the real hardware).
 */
#ifndef _SYS_IMC_H_
#define _SYS_IMC_H_

#include <stddef.h>      /* NULL: the manual's programs pass it to imc_api_init */
#include <sys/types.h>   /* caddr_t, pid_t: the manual's programs use them without including it */

#ifdef __cplusplus
extern "C" {
#endif

/* Types. */
typedef int imc_key_t;           /* clusterwide key of a region or lock set (0 and up) */
typedef long imc_size_t;         /* a region's size in bytes */
typedef int imc_perm_t;          /* IMC_UR ... IMC_ORW for regions, IMC_LKU ... IMC_LKO for lock sets */
typedef int imc_asid_t;          /* a region allocated by this process (imc_asalloc) */
typedef int imc_lkid_t;          /* a lock set allocated by this process (imc_lkalloc) */
typedef int imc_dir_t;           /* IMC_TRANSMIT or IMC_RECEIVE */
typedef int imc_infoType;        /* IMC_GET_ACTIVERAILS, IMC_GET_HOSTS; 0 ends a list */
typedef int imc_eventType;       /* IMC_CC_EVENT_RAIL, IMC_CC_EVENT_HOST; 0 ends a list */

/* Rail information: [0] the active logical rails (a bit per rail), [1] the number of logical rails. */
typedef unsigned int imc_railinfo[2];

#define IMC_MAX_HOSTS    32
#define IMC_HOSTNAME_MAX 64
/* The hosts that initialised the API: num_hosts names, each NUL-terminated. */
typedef struct {
    int  num_hosts;
    char hosts[IMC_MAX_HOSTS][IMC_HOSTNAME_MAX];
} imc_hostinfo;

/* imc_asattach: direction, share mode, flag. */
#define IMC_TRANSMIT   1
#define IMC_RECEIVE    2
#define IMC_SHARED     1
#define IMC_NONSHARED  2
#define IMC_LOOPBACK   1

/* imc_asalloc flags. */
#define IMC_COHERENT   1
#define IMC_EMULATED   0x100     /* this library's: not direct (full semantics; write with imc_bcopy/imc_write*) */

/* Region permissions: UNIX mode bits. */
#define IMC_UR   0400
#define IMC_UW   0200
#define IMC_URW  0600
#define IMC_GR   0040
#define IMC_GW   0020
#define IMC_GRW  0060
#define IMC_OR   0004
#define IMC_OW   0002
#define IMC_ORW  0006

/* Lock sets. */
#define IMC_LKU         4
#define IMC_LKG         2
#define IMC_LKO         1
#define IMC_CREATOR     1
#define IMC_LOCKWAIT    0
#define IMC_LOCKNOWAIT  1

/* Cluster information and events. */
#define IMC_GET_ACTIVERAILS  1
#define IMC_GET_HOSTS        2
#define IMC_CC_EVENT_RAIL    1
#define IMC_CC_EVENT_HOST    2

/* Status codes: 0 success, every error negative (API.md's values). */
#define IMC_SUCCESS          (0)
#define IMC_MCFULL           (-1)
#define IMC_BADPARM          (-2)
#define IMC_EXISTS           (-3)
#define IMC_ATTACHED         (-4)
#define IMC_NOLOCKGOT        (-5)
#define IMC_RXFULL           (-6)
#define IMC_BADLOCK          (-7)
#define IMC_SHAREERR         (-8)
#define IMC_NONSHAREERR      (-9)
#define IMC_PERMIT           (-10)
#define IMC_NOTALLOC         (-11)
#define IMC_PRIOR            (-12)
#define IMC_LOCKACTIVE       (-13)
#define IMC_NOTINIT          (-14)
#define IMC_NOTSUPER         (-15)
#define IMC_BADSIZE          (-16)
#define IMC_OPENERR          (-17)
#define IMC_WRITEERR         (-18)
#define IMC_CLOSEERR         (-19)
#define IMC_BADREGION        (-20)
#define IMC_RXMAPPED         (-21)
#define IMC_TXMAPPED         (-22)
#define IMC_LOCKNOTHELD      (-23)
#define IMC_MC_ERROR         (-24)
#define IMC_TIMEOUT          (-25)
#define IMC_NOMCSPACE        (-26)
#define IMC_INVSIG           (-27)
#define IMC_NOSUCHPROC       (-28)
#define IMC_BADSERVICE       (-29)
#define IMC_NOTREG           (-30)
#define IMC_NOPRIV           (-31)
#define IMC_NOROOT           (-32)
#define IMC_COHERR           (-33)
#define IMC_UNDEFINED        (-34)
#define IMC_KERNELFAULT      (-35)
#define IMC_NORESOURCES      (-36)
#define IMC_LATEJOIN         (-37)
#define IMC_LOOPBACKERR      (-38)
#define IMC_BADHOST          (-39)
#define IMC_INITERR          (-40)
#define IMC_LOCKPRIOR        (-41)
#define IMC_COMPLEMENTERR    (-42)
#define IMC_BADMAP           (-44)
#define IMC_INTERRUPTED      (-45)
#define IMC_NOMEM            (-46)
#define IMC_CORRUPTLOCK      (-47)
#define IMC_INSUFFMEM        (-48)
#define IMC_PTPERR           (-49)
#define IMC_NOTSUPPORTED     (-50)
#define IMC_WIRED_LIMIT      (-51)
#define IMC_MAPENTRIES       (-52)
#define IMC_BADADDR          (-53)
#define IMC_RAIL_CHANGE      (-54)
#define IMC_HOST_CHANGE      (-55)
#define IMC_MULTIPLE_CHANGE  (-56)
#define IMC_BADRAIL          (-57)
#define IMC_WRONGRAIL        (-58)
#define IMC_FAILEDOVER       (-59)
#define IMC_NOMAPPER         (-60)
#define IMC_INITPENDING      (-61)

/* Functions: each returns a status code above unless said otherwise. */
int  imc_api_init(unsigned long *reserved);                  /* call with NULL, before anything else */
int  imc_asalloc(imc_key_t key, imc_size_t size, imc_perm_t perm, int flag, imc_asid_t *id, int rail);
int  imc_asattach(imc_asid_t id, imc_dir_t dir, int share, int flag, caddr_t *addr);
int  imc_asattach_ptp(imc_asid_t id, const char *host, int share, int flag, caddr_t *addr);
int  imc_asdetach(imc_asid_t id);
int  imc_asdealloc(imc_asid_t id);
int  imc_lkalloc(imc_key_t key, int *nlocks, imc_perm_t perm, int flag, imc_lkid_t *id);
int  imc_lkacquire(imc_lkid_t id, int index, int retry, int flag);
int  imc_lkrelease(imc_lkid_t id, int index);
int  imc_lkdealloc(imc_lkid_t id);
int  imc_rderrcnt_mr(int rail);                              /* the count (>= 0), negative while processing an error */
int  imc_ckerrcnt_mr(int *count, int rail);
int  imc_kill(const char *host, pid_t pid, int sig);
int  imc_getclusterinfo(imc_infoType *items, int nitems, imc_railinfo mask, int masksize,
                        imc_hostinfo *hostinfo, int hostinfosize);
/* Waits until the cluster differs from mask/hostinfo in what events name; fills them with the new state and
   returns IMC_HOST_CHANGE, IMC_RAIL_CHANGE or IMC_MULTIPLE_CHANGE (IMC_TIMEOUT after timeout seconds; 0: no limit). */
int  imc_wait_cluster_event(imc_eventType *events, int nevents, int timeout, imc_railinfo mask, int masksize,
                            imc_hostinfo *hostinfo, int hostinfosize);
void imc_perror(const char *s, int status);                  /* prints s and the status's text to stderr */
/* Copies len bytes; into a transmit pointer (any region) through the library with full semantics, else memmove. */
int  imc_bcopy(const void *src, void *dst, long len);
int  imc_write32(void *dst, unsigned int value);              /* dst inside a transmit pointer: a whole 4-byte write */
int  imc_write64(void *dst, unsigned long value);             /* dst inside a transmit pointer: a whole 8-byte write */

#ifdef __cplusplus
}
#endif

#endif /* _SYS_IMC_H_ */
