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
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct logger {
    void (*vmessage)(struct logger *, int, int, const char *, const char *, va_list);
    void (*progress)(struct logger *, const char *, const char *, int, unsigned long,
                     unsigned long);
    void (*destroy)(struct logger *);
} logger;

typedef struct { uint32_t leaf, subleaf, a, b, c, d; } leaf_t;
typedef struct { uint32_t idx, flags; uint64_t val; } msr_t;
typedef struct { int idx; } policy_t;

#define NS 0xffffffffu

static int handle;

static void say(logger *l, int level, int errnoval, const char *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    l->vmessage(l, level, errnoval, ctx, fmt, ap);
    va_end(ap);
}

void *xc_interface_open(logger *l, logger *d, unsigned flags)
{
    (void)d; (void)flags;
    if ( getenv("STUB_XEN_NO_XEN") )
    {
        /* libxencall's words and level (XTL_ERROR = 8) on a machine without Xen. */
        say(l, 8, ENOENT, "xencall", "Could not obtain handle on privileged command %s",
            "interface");
        errno = ENOENT;
        return NULL;
    }
    return &handle;
}

int xc_interface_close(void *xch) { return xch == &handle ? 0 : -1; }

int xc_get_cpu_featureset(void *xch, uint32_t idx, uint32_t *nr, uint32_t *fs)
{
    uint32_t w[19] = {0}, i;
    (void)xch;
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
    *caps = 0x1f;
    return 0;
}

policy_t *xc_cpu_policy_init(void) { return calloc(1, sizeof(policy_t)); }
void xc_cpu_policy_destroy(policy_t *p) { free(p); }

int xc_cpu_policy_get_size(void *xch, uint32_t *nr_leaves, uint32_t *nr_msrs)
{
    (void)xch;
    *nr_leaves = 16;
    *nr_msrs = 4;
    return 0;
}

int xc_cpu_policy_get_system(void *xch, unsigned idx, policy_t *p)
{
    (void)xch;
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
    (void)xch; (void)msrs; (void)nr_msrs;
    *err_leaf = *err_subleaf = *err_msr = ~0u;
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
