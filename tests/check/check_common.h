/* SPDX-License-Identifier: MIT */
/*
 * Helpers every Check suite shares (tests/check/check_*.c; a header, so the build's
 * check_*.c glob does not take it for a suite).  Public C ABI only.  Everything is
 * static inline so that a suite using part of it compiles warning-free.  The suites
 * over the handle API add tests/check/handle_common.h on top.
 *
 * Facts written out here rather than read from the library under test:
 *  - the size of a featureset in this build: 19 words;
 *  - the featureset layout (Xen's cpufeatureset.h, docs/features.md): which CPUID
 *    register or MSR each of the 19 words lives in.
 */
#ifndef CPUPOLICY_TESTS_CHECK_COMMON_H
#define CPUPOLICY_TESTS_CHECK_COMMON_H

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpupolicy.h"

#define NR_WORDS 19u
#define NR_BITS (NR_WORDS * 32u)
#define NONE 0xffffffffu
#define NS CPUPOLICY_NO_SUBLEAF
#define GUARD 0xdeadbeefu          /* "the library did not touch this" */
#define ERRNO_SENTINEL 12345       /* no errno value is this large */
#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* --- errno discipline: the library never reads or writes errno (cpupolicy.h) ------ */
static inline int errno_kept_i(int rc, const char *what, const char *file, int line)
{
    ck_assert_msg(errno == ERRNO_SENTINEL, "%s:%d: %s changed errno: expected %d, got %d",
                  file, line, what, ERRNO_SENTINEL, errno);
    return rc;
}
static inline void *errno_kept_p(void *p, const char *what, const char *file, int line)
{
    ck_assert_msg(errno == ERRNO_SENTINEL, "%s:%d: %s changed errno: expected %d, got %d",
                  file, line, what, ERRNO_SENTINEL, errno);
    return p;
}
/* E(call) for an int result, EP(call) for a pointer, EV(call) for a void call: errno is
 * set to ERRNO_SENTINEL first and must still hold it afterwards. */
#define E(call) (errno = ERRNO_SENTINEL, errno_kept_i((call), #call, __FILE__, __LINE__))
#define EP(call) (errno = ERRNO_SENTINEL, errno_kept_p((void *)(call), #call, __FILE__, __LINE__))
#define EV(call) \
    ((void)(errno = ERRNO_SENTINEL), (call), (void)errno_kept_i(0, #call, __FILE__, __LINE__))

/* Assert a return code, naming the call. */
#define RC(expected, call)                                                                \
    do {                                                                                  \
        int rc_ = E(call);                                                                \
        ck_assert_msg(rc_ == (expected), "%s: expected %d, got %d", #call, (int)(expected), \
                      rc_);                                                               \
    } while ( 0 )

/* Run one suite; the last line is the "N passed, M failed, N skipped" tests/run-tests.sh
 * adds up (Check has no skip of its own: suites that skip print their own line). */
static inline int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int run, failed;

    srunner_run_all(sr, CK_NORMAL);
    run = srunner_ntests_run(sr);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    printf("%d passed, %d failed, 0 skipped\n", run - failed, failed);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* --- dumps ------------------------------------------------------------------------ */
static inline const char *dumps_dir(void)
{
    const char *d = getenv("CPUPOLICY_DUMPS");
    return d && *d ? d : "tests/data/cpuid-dumps";
}

/* --- featuresets ------------------------------------------------------------------ */
static inline int test_bit(const uint32_t *fs, uint32_t f)
{
    return (fs[f / 32] >> (f % 32)) & 1;
}
static inline void set_bit(uint32_t *fs, uint32_t f)
{
    fs[f / 32] |= 1u << (f % 32);
}
static inline void clear_bit(uint32_t *fs, uint32_t f)
{
    fs[f / 32] &= ~(1u << (f % 32));
}
/* Features set in fs[0..nr). */
static inline unsigned count_bits(const uint32_t *fs, uint32_t nr)
{
    unsigned n = 0, i;
    for ( i = 0; i < nr; ++i )
        n += (unsigned)__builtin_popcount(fs[i]);
    return n;
}
static inline int fs_equal(const uint32_t *a, const uint32_t *b)
{
    return !memcmp(a, b, NR_WORDS * sizeof(uint32_t));
}
static inline int fs_empty(const uint32_t *a)
{
    return count_bits(a, NR_WORDS) == 0;
}
/* out = a & ~b */
static inline void fs_andnot(uint32_t *out, const uint32_t *a, const uint32_t *b)
{
    uint32_t i;
    for ( i = 0; i < NR_WORDS; ++i )
        out[i] = a[i] & ~b[i];
}
/* Names of the features set in fs ("avx2 fma #123"), into a static ring. */
static inline const char *fs_names(const uint32_t *fs)
{
    static char ring[4][4096];
    static unsigned next;
    char *buf = ring[next++ % 4];
    size_t len = 0;
    uint32_t f;
    buf[0] = '\0';
    for ( f = 0; f < NR_BITS && len + 40 < sizeof(ring[0]); ++f )
        if ( test_bit(fs, f) )
        {
            const char *n = cpupolicy_feature_name(f);
            len += (size_t)(n ? snprintf(buf + len, sizeof(ring[0]) - len, "%s%s", len ? " " : "", n)
                              : snprintf(buf + len, sizeof(ring[0]) - len, "%s#%u", len ? " " : "", f));
        }
    return len ? buf : "(none)";
}

/* A feature's number by name; the name must be known. */
static inline uint32_t feature(const char *name)
{
    uint32_t f = NONE;
    int rc = E(cpupolicy_feature_from_name(name, &f));
    ck_assert_msg(rc == 0, "feature_from_name(\"%s\"): expected 0, got %d", name, rc);
    return f;
}

/* Where featureset word w lives (Xen's layout): a CPUID leaf/subleaf and register, or
 * one half of an MSR. */
typedef struct {
    uint32_t leaf, subleaf, msr;
    int reg;  /* CPUID: 0 eax .. 3 edx; MSR: 0 bits 31:0, 1 bits 63:32 */
} word_loc_t;
static inline word_loc_t word_loc(uint32_t w)
{
    static const word_loc_t locs[NR_WORDS] = {
        { 0x00000001, NS, NONE, 3 }, /*  0 1.edx */
        { 0x00000001, NS, NONE, 2 }, /*  1 1.ecx */
        { 0x80000001, NS, NONE, 3 }, /*  2 e1.edx */
        { 0x80000001, NS, NONE, 2 }, /*  3 e1.ecx */
        { 0x0000000d, 1, NONE, 0 },  /*  4 0xd:1.eax */
        { 0x00000007, 0, NONE, 1 },  /*  5 7:0.ebx */
        { 0x00000007, 0, NONE, 2 },  /*  6 7:0.ecx */
        { 0x80000007, NS, NONE, 3 }, /*  7 e7.edx */
        { 0x80000008, NS, NONE, 1 }, /*  8 e8.ebx */
        { 0x00000007, 0, NONE, 3 },  /*  9 7:0.edx */
        { 0x00000007, 1, NONE, 0 },  /* 10 7:1.eax */
        { 0x80000021, NS, NONE, 0 }, /* 11 e21.eax */
        { 0x00000007, 1, NONE, 1 },  /* 12 7:1.ebx */
        { 0x00000007, 2, NONE, 3 },  /* 13 7:2.edx */
        { 0x00000007, 1, NONE, 2 },  /* 14 7:1.ecx */
        { 0x00000007, 1, NONE, 3 },  /* 15 7:1.edx */
        { NONE, NONE, 0x10a, 0 },    /* 16 ARCH_CAPS low */
        { NONE, NONE, 0x10a, 1 },    /* 17 ARCH_CAPS high */
        { 0x80000021, NS, NONE, 2 }, /* 18 e21.ecx */
    };
    ck_assert_msg(w < NR_WORDS, "word %u beyond the featureset", w);
    return locs[w];
}
/* Which register of its leaf word w is: 0 eax .. 3 edx (MSR words: -1). */
static inline int word_reg(uint32_t w)
{
    word_loc_t loc = word_loc(w);
    return loc.msr == NONE ? loc.reg : -1;
}
static inline uint32_t leaf_reg(const cpupolicy_leaf_t *l, int reg)
{
    return reg == 0 ? l->a : reg == 1 ? l->b : reg == 2 ? l->c : l->d;
}

/* --- policies --------------------------------------------------------------------- */
static inline cpupolicy_t *alloc_policy(void)
{
    cpupolicy_t *p = EP(cpupolicy_alloc());
    ck_assert_msg(p != NULL, "cpupolicy_alloc: expected a policy, got NULL");
    return p;
}
/* The raw policy of dumps_dir()/name, first CPU. */
static inline cpupolicy_t *import_dump(const char *name)
{
    char path[4400];
    cpupolicy_t *raw = alloc_policy();
    int rc;

    snprintf(path, sizeof(path), "%s/%s", dumps_dir(), name);
    rc = E(cpupolicy_import_dump(raw, path, 0));
    ck_assert_msg(rc == 0, "import %s: expected 0, got %d (%s)", path, rc,
                  cpupolicy_last_error());
    return raw;
}
static inline void pol_fs(const cpupolicy_t *p, uint32_t *fs)
{
    uint32_t nr = NR_WORDS;
    int rc = E(cpupolicy_policy_to_featureset(p, fs, &nr));
    ck_assert_msg(rc == 0 && nr == NR_WORDS, "policy_to_featureset: expected 0/%u words, got %d/%u",
                  NR_WORDS, rc, nr);
}
static inline cpupolicy_leaf_t cpuid_of(const cpupolicy_t *p, uint32_t leaf, uint32_t subleaf)
{
    cpupolicy_leaf_t l;
    int rc = E(cpupolicy_get_cpuid(p, leaf, subleaf, &l));
    ck_assert_msg(rc == 0, "get_cpuid(%#x:%#x): expected 0, got %d", leaf, subleaf, rc);
    return l;
}

/* A policy's complete serialised form, for byte-for-byte comparisons. */
typedef struct {
    uint32_t nr_leaves, nr_msrs;
    cpupolicy_leaf_t leaves[512];
    cpupolicy_msr_t msrs[8];
} image_t;

static inline void snap(const cpupolicy_t *p, image_t *img)
{
    int rc;
    memset(img, 0, sizeof(*img));
    img->nr_leaves = 512;
    img->nr_msrs = 8;
    rc = E(cpupolicy_serialise(p, img->leaves, &img->nr_leaves, img->msrs, &img->nr_msrs));
    ck_assert_msg(rc == 0, "serialise: expected 0, got %d", rc);
}

static inline void assert_same_image(const image_t *a, const image_t *b, const char *what)
{
    uint32_t i;
    ck_assert_msg(a->nr_leaves == b->nr_leaves, "%s: leaf count: expected %u, got %u", what,
                  a->nr_leaves, b->nr_leaves);
    ck_assert_msg(a->nr_msrs == b->nr_msrs, "%s: MSR count: expected %u, got %u", what,
                  a->nr_msrs, b->nr_msrs);
    for ( i = 0; i < a->nr_leaves; ++i )
        ck_assert_msg(!memcmp(&a->leaves[i], &b->leaves[i], sizeof(a->leaves[i])),
                      "%s: entry %u: expected %08x:%08x -> %08x:%08x:%08x:%08x, "
                      "got %08x:%08x -> %08x:%08x:%08x:%08x", what, i,
                      a->leaves[i].leaf, a->leaves[i].subleaf, a->leaves[i].a, a->leaves[i].b,
                      a->leaves[i].c, a->leaves[i].d, b->leaves[i].leaf, b->leaves[i].subleaf,
                      b->leaves[i].a, b->leaves[i].b, b->leaves[i].c, b->leaves[i].d);
    for ( i = 0; i < a->nr_msrs; ++i )
        ck_assert_msg(a->msrs[i].idx == b->msrs[i].idx && a->msrs[i].flags == b->msrs[i].flags &&
                      a->msrs[i].val == b->msrs[i].val,
                      "%s: MSR entry %u: expected %08x=%016llx, got %08x=%016llx", what, i,
                      a->msrs[i].idx, (unsigned long long)a->msrs[i].val, b->msrs[i].idx,
                      (unsigned long long)b->msrs[i].val);
}

static inline void assert_same_policy(const cpupolicy_t *expected, const cpupolicy_t *actual,
                                      const char *what)
{
    static image_t a, b;
    snap(expected, &a);
    snap(actual, &b);
    assert_same_image(&a, &b, what);
}

/* Value of MSR idx in a policy's serialised form; 0 when not listed. */
static inline uint64_t policy_msr(const cpupolicy_t *p, uint32_t idx)
{
    static image_t img;
    uint32_t i;
    snap(p, &img);
    for ( i = 0; i < img.nr_msrs; ++i )
        if ( img.msrs[i].idx == idx )
            return img.msrs[i].val;
    return 0;
}

static inline void assert_err(const cpupolicy_err_t *e, uint32_t leaf, uint32_t subleaf,
                              uint32_t msr, const char *what)
{
    ck_assert_msg(e->leaf == leaf && e->subleaf == subleaf && e->msr == msr,
                  "%s: err expected {leaf %#x, subleaf %#x, msr %#x}, got {%#x, %#x, %#x}",
                  what, leaf, subleaf, msr, e->leaf, e->subleaf, e->msr);
}

#endif /* CPUPOLICY_TESTS_CHECK_COMMON_H */
