/* SPDX-License-Identifier: MIT */
/*
 * The "xen:" backend's mapping, through the public C ABI, against the stand-in Xen
 * libraries of xen_stub.c (whose host is described there).  Run by
 * tests/scripts/test_backend_xen.sh with the stubs first on LD_LIBRARY_PATH.  Each
 * check prints expected against actual on failure; the last line is "N passed, M failed".
 * With the argument "no-xen" (run against the real libraries where no Xen runs): open
 * must fail with -ENODEV, a message, and errno untouched.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cpupolicy.h"

static int nr_pass, nr_fail;

static void expect_u(const char *what, unsigned long want, unsigned long got)
{
    if ( want == got )
        ++nr_pass;
    else
    {
        ++nr_fail;
        printf("FAIL %s: expected %#lx, got %#lx\n", what, want, got);
    }
}
static void expect_i(const char *what, int want, int got)
{
    if ( want == got )
        ++nr_pass;
    else
    {
        ++nr_fail;
        printf("FAIL %s: expected %d (%s), got %d (%s)\n", what, want, strerror(want < 0 ? -want : want),
               got, strerror(got < 0 ? -got : got));
    }
}

static int no_xen(void)
{
    cpupolicy_handle_t *h = (cpupolicy_handle_t *)&nr_pass;
    const char *msg;
    errno = 4321;
    expect_i("open xen: without a Xen", -ENODEV, cpupolicy_open(&h, "xen:"));
    expect_u("handle NULL", 0, (unsigned long)(h != NULL));
    expect_i("errno untouched", 4321, errno);
    msg = cpupolicy_last_error();
    expect_u("message starts with \"xen: \"", 0, (unsigned long)strncmp(msg, "xen: ", 5));
    printf("message: %s\n", msg);
    printf("%d passed, %d failed\n", nr_pass, nr_fail);
    return nr_fail != 0;
}

int main(int argc, char **argv)
{
    cpupolicy_handle_t *h = NULL;
    cpupolicy_t *p = cpupolicy_alloc();
    cpupolicy_leaf_t l;
    cpupolicy_err_t e;
    uint32_t fs[19], nr, caps, domid, bad;
    unsigned idx;

    if ( argc > 1 && !strcmp(argv[1], "no-xen") )
    {
        cpupolicy_free(p);
        return no_xen();
    }

    expect_i("open xen:", 0, cpupolicy_open(&h, "xen:"));
    if ( !h )
    {
        printf("cannot open: %s\n", cpupolicy_last_error());
        printf("%d passed, %d failed\n", nr_pass, nr_fail + 1);
        cpupolicy_free(p);
        return 1;
    }

    /* Featuresets: size query, each index's own words, the short-buffer rule. */
    nr = 0;
    expect_i("featureset size query", 0, cpupolicy_get_featureset(h, CPUPOLICY_FEATURESET_RAW, &nr, NULL));
    expect_u("featureset words", 19, nr);
    for ( idx = 0; idx < 6; ++idx )
    {
        nr = 19;
        memset(fs, 0, sizeof(fs));
        expect_i("get_featureset", 0, cpupolicy_get_featureset(h, idx, &nr, fs));
        expect_u("featureset word 0 names its index", 0x1000 | idx, fs[0]);
        expect_u("featureset word 5", 1u << idx, fs[5]);
    }
    nr = 3;
    expect_i("short featureset buffer", -ENOBUFS, cpupolicy_get_featureset(h, CPUPOLICY_FEATURESET_HOST, &nr, fs));
    expect_u("short buffer: what fits", 0x1001, fs[0]);
    nr = 19;
    expect_i("bad featureset index", -EINVAL, cpupolicy_get_featureset(h, 6, &nr, fs));

    expect_i("levelling caps", 0, cpupolicy_get_levelling_caps(h, &caps));
    expect_u("levelling caps value", 0x1f, caps);

    /* System policies: Xen's serialised form through our policy object. */
    for ( idx = 0; idx < 6; ++idx )
    {
        expect_i("get_system_policy", 0, cpupolicy_get_system_policy(h, idx, p));
        expect_i("get_cpuid 7:0", 0, cpupolicy_get_cpuid(p, 7, 0, &l));
        expect_u("leaf 7:0 ebx carries the policy index", 1u << idx, l.b);
        expect_i("get_cpuid 0", 0, cpupolicy_get_cpuid(p, 0, CPUPOLICY_NO_SUBLEAF, &l));
        expect_u("leaf 0 max leaf", 7, l.a);
        expect_u("leaf 0 vendor ebx", 0x756e6547, l.b);
    }
    expect_i("bad policy index", -EINVAL, cpupolicy_get_system_policy(h, 6, p));

    /* Domains: only 1 exists; creating one is a toolstack's job on Xen. */
    expect_i("get_domain_policy(1)", 0, cpupolicy_get_domain_policy(h, 1, p));
    expect_i("get_cpuid 7:0 of domain 1", 0, cpupolicy_get_cpuid(p, 7, 0, &l));
    expect_u("domain 1 leaf 7:0 ebx", 1u << 6, l.b);
    expect_i("get_domain_policy(2): libxc's ESRCH", -ESRCH, cpupolicy_get_domain_policy(h, 2, p));
    expect_i("domain_create", -EOPNOTSUPP, cpupolicy_domain_create(h, CPUPOLICY_DOMAIN_HVM, &domid));
    expect_i("domain_start", -EOPNOTSUPP, cpupolicy_domain_start(h, 1));
    expect_i("domain_destroy", -EOPNOTSUPP, cpupolicy_domain_destroy(h, 1));

    /* set: accepted as is; refused with Xen's error record when Xen refuses. */
    expect_i("set_domain_policy(1)", 0, cpupolicy_set_domain_policy(h, 1, p, &e));
    {
        cpupolicy_leaf_t l7 = {7, 0, 0, (1u << 16) | (1u << 6), 0, 0};
        expect_i("add avx512f", 0, cpupolicy_update_cpuid(p, &l7, 1, NULL));
    }
    expect_i("set_domain_policy with avx512f", -EINVAL, cpupolicy_set_domain_policy(h, 1, p, &e));
    expect_u("err leaf", 7, e.leaf);
    expect_u("err subleaf", 0, e.subleaf);
    expect_u("err msr", 0xffffffffu, e.msr);
    expect_i("set_domain_policy(3)", -ESRCH, cpupolicy_set_domain_policy(h, 3, p, &e));

    /* featureset_fits_max against Xen's featureset 0 (raw): word 5 bit 0 (fsgsbase) only. */
    memset(fs, 0, sizeof(fs));
    fs[5] = 1u << 0;
    expect_i("verify: subset", 0, cpupolicy_featureset_fits_max(h, CPUPOLICY_FEATURESET_RAW, fs, 19, &bad));
    expect_u("verify: bad_feature untouched (~0)", 0xffffffffu, bad);
    fs[5] |= 1u << 3;  /* feature 163 (bmi1), absent from the stub's raw featureset */
    expect_i("verify: not offered", -EINVAL, cpupolicy_featureset_fits_max(h, CPUPOLICY_FEATURESET_RAW, fs, 19, &bad));
    expect_u("verify: bad_feature", 5 * 32 + 3, bad);
    /* HVM max offers word 5 bit 5 (avx2) but not its prerequisite avx (1.ecx[28]). */
    memset(fs, 0, sizeof(fs));
    fs[5] = 1u << 5;
    expect_i("verify: missing prerequisite", -EINVAL, cpupolicy_featureset_fits_max(h, CPUPOLICY_FEATURESET_HVM_MAX, fs, 19, &bad));
    expect_u("verify: bad_feature avx2", 5 * 32 + 5, bad);

    cpupolicy_close(h);
    cpupolicy_free(p);
    printf("%d passed, %d failed\n", nr_pass, nr_fail);
    return nr_fail != 0;
}
