/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for the slice of Xen 4.17's libxenctrl / libxenguest that the "xen:"
 * backend dlopen()s, so that the backend's mapping can be tested on a machine without
 * Xen (tests/scripts/test_backend_xen.sh builds this twice, as libxenctrl.so.4.17 and
 * libxenguest.so.4.17, and puts them first on LD_LIBRARY_PATH).
 *
 * It follows libxc's conventions, which the backend must translate: failure is -1 with
 * errno set; xc_get_cpu_featureset gives -1/ENOBUFS with what fits for a short buffer;
 * xc_set_domain_cpu_policy names the offending leaf in its err_* out-parameters.
 *
 * The host it describes (all values invented for the test, not a real CPU):
 *   featureset idx: word 0 = 0x1000 | idx, word 5 = 1 << idx, 19 words;
 *   system policy idx / domain 1 (idx 6): leaf 0 {max 7, "GenuineIntel"}, leaf 1
 *   {eax 0x000206d5, ecx 0x00000001 (sse3), edx 0x00000001 (fpu)}, leaf 7:0
 *   {ebx 1 << idx}, 0x80000000 {eax 0x80000001}, an all-zero leaf 0x30 (beyond the
 *   policy object, must be dropped), MSR 0xce = (idx & 1) << 31 (CPUID faulting)
 *   and MSR 0x10a = 0.
 *   STUB_XEN_EXTRA=1 makes leaf 0x30 non-zero (must be refused, not dropped).
 *   STUB_XEN_NO_XEN=1 makes xc_interface_open fail the way it does without Xen.
 *   Levelling caps 0x1f.  Only domain 1 exists; setting a policy whose leaf 7:0 ebx
 *   has bit 16 (avx512f) fails -EINVAL naming leaf 7 subleaf 0, like Xen's max check.
 *
 * STUB_XEN_SIM=URI instead describes a coherent host, so that the shared conformance
 * suite can run against the "xen:" backend here: every call is answered by the embedded
 * simulated hypervisor URI names ("sim:dump=...", opened once per xc_interface_open),
 * through libcpupolicy's public C ABI in the calling process, translated to libxc's
 * conventions (-1 and errno; the err_* out-parameters of xc_set_domain_cpu_policy).
 * STUB_XEN_DOMAIN=pv|hvm (default hvm) is the domain an operator would have created
 * paused with libxl: it is created on the simulated host at open, and is domain 1 there
 * (the simulator numbers domains from 1); STUB_XEN_DOMAIN_STARTED=1 starts it, as if it
 * had run, so its policy is fixed (-EEXIST).  xc_set_domain_cpu_policy loads the entries
 * onto the domain's current policy and sets that, as XEN_DOMCTL_set_cpu_policy does.
 * The cpupolicy_* references are weak: this library loads into processes without
 * libcpupolicy.so (xen-cpuid links the static archive), where STUB_XEN_SIM then makes
 * xc_interface_open fail, saying so.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpupolicy.h"

#pragma weak cpupolicy_open
#pragma weak cpupolicy_close
#pragma weak cpupolicy_last_error
#pragma weak cpupolicy_alloc
#pragma weak cpupolicy_free
#pragma weak cpupolicy_get_featureset
#pragma weak cpupolicy_get_levelling_caps
#pragma weak cpupolicy_get_system_policy
#pragma weak cpupolicy_get_domain_policy
#pragma weak cpupolicy_set_domain_policy
#pragma weak cpupolicy_domain_create
#pragma weak cpupolicy_domain_start
#pragma weak cpupolicy_serialise
#pragma weak cpupolicy_update_cpuid
#pragma weak cpupolicy_update_msrs

typedef struct logger {
    void (*vmessage)(struct logger *, int, int, const char *, const char *, va_list);
    void (*progress)(struct logger *, const char *, const char *, int, unsigned long,
                     unsigned long);
    void (*destroy)(struct logger *);
} logger;

typedef cpupolicy_leaf_t leaf_t; /* Xen's xen_cpuid_leaf_t, the same layout */
typedef cpupolicy_msr_t msr_t;   /* Xen's xen_msr_entry_t */
typedef struct {
    int idx;
    cpupolicy_t *sim; /* STUB_XEN_SIM: the policy read */
} policy_t;

#define NS 0xffffffffu

/* The interface handle.  This file is loaded twice, as libxenctrl and as libxenguest,
 * each copy with its own statics, so state lives behind the xc_interface pointer that
 * libxenctrl's copy hands out: &handle for the invented host, or one allocated per
 * xc_interface_open for STUB_XEN_SIM (a process may hold several at once). */
typedef struct {
    unsigned magic;          /* XCH_MAGIC */
    cpupolicy_handle_t *sim; /* STUB_XEN_SIM: the simulated host, or NULL */
} xch_t;
#define XCH_MAGIC 0x78656e21u
static xch_t handle = { XCH_MAGIC, NULL };
#define SIM(xch) (((xch_t *)(xch))->sim)

/* libxc's convention from libcpupolicy's: -1 with errno, or 0. */
static int xc_rc(int rc)
{
    if ( rc == 0 )
        return 0;
    errno = -rc;
    return -1;
}

static void say(logger *l, int level, int errnoval, const char *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    l->vmessage(l, level, errnoval, ctx, fmt, ap);
    va_end(ap);
}

void *xc_interface_open(logger *l, logger *d, unsigned flags)
{
    const char *uri = getenv("STUB_XEN_SIM"), *dom = getenv("STUB_XEN_DOMAIN");
    uint32_t domid = NS;
    xch_t *x;
    int rc;
    (void)d; (void)flags;
    if ( getenv("STUB_XEN_NO_XEN") )
    {
        /* libxencall's words and level (XTL_ERROR = 8) on a machine without Xen. */
        say(l, 8, ENOENT, "xencall", "Could not obtain handle on privileged command %s",
            "interface");
        errno = ENOENT;
        return NULL;
    }
    if ( !uri )
        return &handle;
    if ( !cpupolicy_open )
    {
        say(l, 8, -1, "xen-stub", "STUB_XEN_SIM needs libcpupolicy.so in the process");
        errno = ENOSYS;
        return NULL;
    }
    if ( !(x = calloc(1, sizeof(*x))) )
        return NULL;
    x->magic = XCH_MAGIC;
    if ( (rc = cpupolicy_open(&x->sim, uri)) != 0 )
    {
        say(l, 8, -rc, "xen-stub", "STUB_XEN_SIM=%s: %s", uri, cpupolicy_last_error());
        free(x);
        errno = -rc;
        return NULL;
    }
    rc = cpupolicy_domain_create(x->sim, dom && !strcmp(dom, "pv") ? CPUPOLICY_DOMAIN_PV
                                                                   : CPUPOLICY_DOMAIN_HVM,
                                 &domid);
    if ( rc == 0 && getenv("STUB_XEN_DOMAIN_STARTED") )
        rc = cpupolicy_domain_start(x->sim, domid);
    if ( rc || domid != 1 )
    {
        say(l, 8, rc ? -rc : -1, "xen-stub", "creating the test domain: got d%u", domid);
        cpupolicy_close(x->sim);
        free(x);
        errno = rc ? -rc : EEXIST;
        return NULL;
    }
    return x;
}

int xc_interface_close(void *xch)
{
    xch_t *x = xch;
    if ( !x || x->magic != XCH_MAGIC )
        return -1;
    if ( x != &handle )
    {
        cpupolicy_close(x->sim);
        x->magic = 0;
        free(x);
    }
    return 0;
}

int xc_get_cpu_featureset(void *xch, uint32_t idx, uint32_t *nr, uint32_t *fs)
{
    uint32_t w[19] = {0}, i;
    (void)xch;
    if ( SIM(xch) )
        return xc_rc(cpupolicy_get_featureset(SIM(xch), idx, nr, fs));
    if ( idx > 5 )
    {
        errno = EINVAL;
        return -1;
    }
    w[0] = 0x1000 | idx;
    w[5] = 1u << idx;
    if ( !fs )
    {
        *nr = 19;
        return 0;
    }
    for ( i = 0; i < *nr && i < 19; ++i )
        fs[i] = w[i];
    if ( *nr < 19 )
    {
        errno = ENOBUFS;
        return -1;
    }
    *nr = 19;
    return 0;
}

int xc_get_cpu_levelling_caps(void *xch, uint32_t *caps)
{
    (void)xch;
    if ( SIM(xch) )
        return xc_rc(cpupolicy_get_levelling_caps(SIM(xch), caps));
    *caps = 0x1f;
    return 0;
}

policy_t *xc_cpu_policy_init(void) { return calloc(1, sizeof(policy_t)); }

/* STUB_XEN_SIM: the policy object behind p, allocated on first use (init has no
 * xc_interface to tell the modes apart). */
static cpupolicy_t *sim_policy(policy_t *p)
{
    if ( !p->sim )
        p->sim = cpupolicy_alloc();
    return p->sim;
}
void xc_cpu_policy_destroy(policy_t *p)
{
    if ( p && p->sim )
        cpupolicy_free(p->sim);
    free(p);
}

int xc_cpu_policy_get_size(void *xch, uint32_t *nr_leaves, uint32_t *nr_msrs)
{
    /* Xen answers with its policy object's capacity; the simulator's holds fewer than
     * 512 leaves and 8 MSRs (a short buffer would be ENOBUFS, and fail the tests). */
    *nr_leaves = SIM(xch) ? 512 : 16;
    *nr_msrs = SIM(xch) ? 8 : 4;
    return 0;
}

int xc_cpu_policy_get_system(void *xch, unsigned idx, policy_t *p)
{
    (void)xch;
    if ( SIM(xch) )
        return xc_rc(sim_policy(p) ? cpupolicy_get_system_policy(SIM(xch), idx, p->sim)
                                   : -ENOMEM);
    if ( idx > 5 )
    {
        errno = EINVAL;
        return -1;
    }
    p->idx = (int)idx;
    return 0;
}

int xc_cpu_policy_get_domain(void *xch, uint32_t domid, policy_t *p)
{
    (void)xch;
    if ( SIM(xch) )
        return xc_rc(sim_policy(p) ? cpupolicy_get_domain_policy(SIM(xch), domid, p->sim)
                                   : -ENOMEM);
    if ( domid != 1 )
    {
        errno = ESRCH;
        return -1;
    }
    p->idx = 6;
    return 0;
}

int xc_cpu_policy_serialise(void *xch, const policy_t *p, leaf_t *leaves, uint32_t *nr_leaves,
                            msr_t *msrs, uint32_t *nr_msrs)
{
    const uint32_t i = (uint32_t)p->idx;
    const leaf_t l[] = {
        {0, NS, 7, 0x756e6547, 0x6c65746e, 0x49656e69},
        {1, NS, 0x000206d5, 0, 1, 1},
        {7, 0, 0, 1u << i, 0, 0},
        {0x30, NS, getenv("STUB_XEN_EXTRA") ? 1u : 0u, 0, 0, 0},
        {0x80000000u, NS, 0x80000001u, 0, 0, 0},
    };
    const msr_t m[] = {{0xce, 0, (uint64_t)(i & 1) << 31}, {0x10a, 0, 0}};
    (void)xch;
    if ( SIM(xch) )
        return xc_rc(p->sim ? cpupolicy_serialise(p->sim, leaves, nr_leaves, msrs, nr_msrs)
                            : -EINVAL);
    if ( *nr_leaves < 5 || *nr_msrs < 2 )
    {
        errno = ENOBUFS;
        return -1;
    }
    memcpy(leaves, l, sizeof(l));
    memcpy(msrs, m, sizeof(m));
    *nr_leaves = 5;
    *nr_msrs = 2;
    return 0;
}

int xc_set_domain_cpu_policy(void *xch, uint32_t domid, uint32_t nr_leaves, leaf_t *leaves,
                             uint32_t nr_msrs, msr_t *msrs, uint32_t *err_leaf,
                             uint32_t *err_subleaf, uint32_t *err_msr)
{
    uint32_t k;
    *err_leaf = *err_subleaf = *err_msr = ~0u;
    if ( SIM(xch) )
    {
        cpupolicy_t *p = cpupolicy_alloc();
        cpupolicy_err_t e = { NS, NS, NS };
        int rc = p ? cpupolicy_get_domain_policy(SIM(xch), domid, p) : -ENOMEM;
        if ( rc == 0 )
            rc = cpupolicy_update_cpuid(p, leaves, nr_leaves, &e);
        if ( rc == 0 )
            rc = cpupolicy_update_msrs(p, msrs, nr_msrs, &e);
        if ( rc == 0 )
            rc = cpupolicy_set_domain_policy(SIM(xch), domid, p, &e);
        cpupolicy_free(p);
        *err_leaf = e.leaf;
        *err_subleaf = e.subleaf;
        *err_msr = e.msr;
        return xc_rc(rc);
    }
    if ( domid != 1 )
    {
        errno = ESRCH;
        return -1;
    }
    for ( k = 0; k < nr_leaves; ++k )
        if ( leaves[k].leaf == 7 && leaves[k].subleaf == 0 && (leaves[k].b & (1u << 16)) )
        {
            *err_leaf = 7;
            *err_subleaf = 0;
            errno = EINVAL;
            return -1;
        }
    return 0;
}
