/* SPDX-License-Identifier: MIT */
/*
 * Check suite over the policy part of the public C ABI (cpupolicy.h, "Policies"),
 * linked against libcpupolicy.so as a toolstack is.  Every issue-3 function is covered:
 * its success path, each documented error with the exact negative errno and the exact
 * error record, atomicity (a failed call leaves its object byte-for-byte as it was,
 * judged through cpupolicy_serialise), and the ABI promise that errno is never touched:
 * every call below goes through E()/EP()/EV(), which set errno to 12345 first and fail
 * the test if the call changed it.
 *
 * Facts used here, written out rather than read from the library under test:
 *  - the object's ranges (issue 3 item 1, policy.hpp, docs/policy.md): basic leaves
 *    0x0..0x24, extended 0x80000000..0x80000028, the subleaf counts of the indexed
 *    leaves below, the two hypervisor-limit leaves, MSRs 0xce and 0x10a;
 *  - feature numbers (Xen's cpufeatureset.h: word * 32 + bit): avx2 = 7:0.ebx[5] = 165,
 *    avx512f = 7:0.ebx[16] = 176, fma = 1.ecx[12] = 44;
 *  - the dumps' own register values, quoted where used (CPUPOLICY_DUMPS).
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen, unlink under -std=c11 */
#include <unistd.h>

#include "check_common.h"

#define INTEL_SNB "GenuineIntel00206D5_SandyBridgeEP.txt"
#define INTEL_HSW "GenuineIntel00306F2_HaswellEP.txt"
#define INTEL_GNR "GenuineIntel00A06D1_GraniteRapids_03.txt"
#define AMD_GENOA "AuthenticAMD0A10F11_K19_Genoa_01.txt"

enum { F_FMA = 44, F_AVX2 = 165, F_AVX512F = 176 };

/* --- helpers ---------------------------------------------------------------------- */
/* Raw policy of a dump, then derived to idx (CPUPOLICY_RAW: as imported). */
static cpupolicy_t *load(const char *name, unsigned idx)
{
    cpupolicy_t *raw = import_dump(name), *out;
    int rc;

    if ( idx == CPUPOLICY_RAW )
        return raw;
    out = alloc_policy();
    rc = E(cpupolicy_derive(out, raw, idx, NULL));
    ck_assert_msg(rc == 0, "derive %s idx %u: expected 0, got %d", name, idx, rc);
    EV(cpupolicy_free(raw));
    return out;
}

static cpupolicy_leaf_t L(uint32_t leaf, uint32_t subleaf, uint32_t a)
{
    cpupolicy_leaf_t l;
    l.leaf = leaf;
    l.subleaf = subleaf;
    l.a = a;
    l.b = l.c = l.d = 0;
    return l;
}
static cpupolicy_msr_t M(uint32_t idx, uint32_t flags, uint64_t val)
{
    cpupolicy_msr_t m;
    m.idx = idx;
    m.flags = flags;
    m.val = val;
    return m;
}

/* The object's full shape (issue 3 item 1; policy.hpp): every (leaf, subleaf) a
 * policy holds, in wire addressing. */
static const struct { uint32_t leaf, nr; } indexed[] = {
    { 0x4, 8 },  { 0x7, 4 },  { 0xb, 4 },  { 0xd, 63 }, { 0xf, 2 },  { 0x10, 4 }, { 0x12, 4 },
    { 0x14, 2 }, { 0x17, 4 }, { 0x18, 8 }, { 0x1d, 2 }, { 0x1e, 2 }, { 0x1f, 6 }, { 0x20, 1 },
    { 0x23, 4 }, { 0x24, 2 }, { 0x8000001d, 8 }, { 0x80000020, 8 }, { 0x80000026, 4 },
};
static uint32_t subleaves_of(uint32_t leaf)
{
    unsigned i;
    for ( i = 0; i < sizeof(indexed) / sizeof(indexed[0]); ++i )
        if ( indexed[i].leaf == leaf )
            return indexed[i].nr;
    return 0;
}
/* Fills `out` (room for 256) with every entry the object holds; returns the count. */
static uint32_t every_entry(cpupolicy_leaf_t *out)
{
    uint32_t n = 0, leaf, s, nr;
    for ( leaf = 0; leaf <= 0x80000028u; leaf = leaf == 0x24 ? 0x80000000u : leaf + 1 )
    {
        nr = subleaves_of(leaf);
        if ( !nr )
            out[n++] = L(leaf, NS, 0);
        for ( s = 0; s < nr; ++s )
            out[n++] = L(leaf, s, 0);
    }
    out[n++] = L(0x40000000u, NS, 0x40000004u);
    out[n++] = L(0x40000100u, NS, 0x40000104u);
    return n;
}
/* 37 basic + 41 extended leaves; indexed ones hold 120 (basic) + 20 (extended) slots
 * instead of 16 + 3 single ones: 199 slots, plus the two hypervisor-limit leaves. */
#define MAX_LEAVES 201u

/* --- alloc / free ----------------------------------------------------------------- */
START_TEST(alloc_gives_a_zeroed_policy_and_free_accepts_null)
{
    cpupolicy_t *p = alloc_policy();
    image_t img;

    snap(p, &img);
    /* Zeroed: max basic leaf 0 -> leaf 0 only; 0x80000000 is always serialised; the two
     * MSRs always.  Everything zero. */
    ck_assert_msg(img.nr_leaves == 2 && img.nr_msrs == 2,
                  "fresh policy: expected 2 leaves, 2 MSRs, got %u, %u", img.nr_leaves, img.nr_msrs);
    ck_assert_msg(img.leaves[0].leaf == 0 && img.leaves[0].subleaf == NS && !img.leaves[0].a &&
                  !img.leaves[0].b && !img.leaves[0].c && !img.leaves[0].d,
                  "fresh policy: entry 0 should be leaf 0 all zero");
    ck_assert_msg(img.leaves[1].leaf == 0x80000000u && !img.leaves[1].a,
                  "fresh policy: entry 1 should be 0x80000000 all zero, got %#x", img.leaves[1].leaf);
    ck_assert_msg(img.msrs[0].idx == 0xce && img.msrs[1].idx == 0x10a && !img.msrs[0].val &&
                  !img.msrs[1].val && !img.msrs[0].flags && !img.msrs[1].flags,
                  "fresh policy: expected MSRs 0xce=0, 0x10a=0");
    EV(cpupolicy_free(p));
    EV(cpupolicy_free(NULL));
}
END_TEST

/* --- update_cpuid / update_msrs: errors ---------------------------------------------- */
struct leaf_vec {
    const char *what;
    cpupolicy_leaf_t l[3];
    uint32_t nr;
    int rc;
    uint32_t err_leaf, err_subleaf;
};
static const struct leaf_vec leaf_vecs[] = {
    { "basic leaf beyond 0x24", { { 0x25, NS, 1, 0, 0, 0 } }, 1, -ERANGE, 0x25, NS },
    { "extended leaf beyond 0x80000028", { { 0x80000029u, NS, 1, 0, 0, 0 } }, 1, -ERANGE,
      0x80000029u, NS },
    { "leaf in neither range", { { 0xc0000000u, NS, 1, 0, 0, 0 } }, 1, -ERANGE, 0xc0000000u, NS },
    { "hypervisor leaf 0x40000001 (only the limit leaves are held)",
      { { 0x40000001u, NS, 1, 0, 0, 0 } }, 1, -ERANGE, 0x40000001u, NS },
    { "subleaf of leaf 7 beyond the 4 held", { { 0x7, 4, 1, 0, 0, 0 } }, 1, -ERANGE, 0x7, 4 },
    { "subleaf 63 of leaf 0xd (0..62 held)", { { 0xd, 63, 1, 0, 0, 0 } }, 1, -ERANGE, 0xd, 63 },
    { "subleaf of leaf 4 beyond the 8 held", { { 0x4, 8, 1, 0, 0, 0 } }, 1, -ERANGE, 0x4, 8 },
    { "plain leaf 1 given subleaf 0", { { 0x1, 0, 1, 0, 0, 0 } }, 1, -ERANGE, 0x1, 0 },
    { "plain leaf 0x80000008 given subleaf 1", { { 0x80000008u, 1, 1, 0, 0, 0 } }, 1, -ERANGE,
      0x80000008u, 1 },
    { "hypervisor limit leaf given subleaf 0", { { 0x40000000u, 0, 1, 0, 0, 0 } }, 1, -ERANGE,
      0x40000000u, 0 },
    { "indexed leaf 7 given NO_SUBLEAF", { { 0x7, NS, 1, 0, 0, 0 } }, 1, -ERANGE, 0x7, NS },
    { "indexed leaf 0xd given NO_SUBLEAF", { { 0xd, NS, 1, 0, 0, 0 } }, 1, -ERANGE, 0xd, NS },
    { "the bad entry is named, not the good one before it",
      { { 0x1, NS, 1, 0, 0, 0 }, { 0x7, 0, 1, 0, 0, 0 }, { 0x7, 9, 1, 0, 0, 0 } }, 3, -ERANGE,
      0x7, 9 },
    { "duplicate plain leaf", { { 0x1, NS, 1, 0, 0, 0 }, { 0x1, NS, 2, 0, 0, 0 } }, 2, -EINVAL,
      0x1, NS },
    { "duplicate subleaf, not adjacent",
      { { 0xd, 1, 1, 0, 0, 0 }, { 0xd, 0, 1, 0, 0, 0 }, { 0xd, 1, 1, 0, 0, 0 } }, 3, -EINVAL,
      0xd, 1 },
    { "duplicate hypervisor limit leaf",
      { { 0x40000100u, NS, 0x40000104u, 0, 0, 0 }, { 0x40000100u, NS, 0x40000104u, 0, 0, 0 } },
      2, -EINVAL, 0x40000100u, NS },
};

START_TEST(update_cpuid_refuses_with_errno_and_names_the_entry)
{
    const struct leaf_vec *v = &leaf_vecs[_i];
    cpupolicy_t *p = load(INTEL_GNR, CPUPOLICY_RAW);
    cpupolicy_err_t e;
    image_t before, after;
    int rc;

    snap(p, &before);
    memset(&e, 0x55, sizeof(e));
    rc = E(cpupolicy_update_cpuid(p, v->l, v->nr, &e));
    ck_assert_msg(rc == v->rc, "%s: expected %d, got %d", v->what, v->rc, rc);
    assert_err(&e, v->err_leaf, v->err_subleaf, NONE, v->what);
    snap(p, &after);
    assert_same_image(&before, &after, v->what);
    /* err may be NULL. */
    rc = E(cpupolicy_update_cpuid(p, v->l, v->nr, NULL));
    ck_assert_msg(rc == v->rc, "%s (err NULL): expected %d, got %d", v->what, v->rc, rc);
    EV(cpupolicy_free(p));
}
END_TEST

START_TEST(update_cpuid_takes_the_whole_object_and_not_one_more)
{
    static cpupolicy_leaf_t all[256];
    cpupolicy_t *p = alloc_policy();
    cpupolicy_err_t e;
    uint32_t n = every_entry(all);
    image_t before, after;
    int rc;

    ck_assert_msg(n == MAX_LEAVES, "test's own layout: expected %u entries, got %u", MAX_LEAVES, n);
    rc = E(cpupolicy_update_cpuid(p, all, n, &e));
    ck_assert_msg(rc == 0, "every entry the object holds, once each: expected 0, got %d "
                  "(err %#x:%#x)", rc, e.leaf, e.subleaf);
    assert_err(&e, NONE, NONE, NONE, "success");

    all[n] = L(0x1, NS, 0);  /* one more (a duplicate, but -E2BIG is checked first) */
    snap(p, &before);
    memset(&e, 0, sizeof(e));
    rc = E(cpupolicy_update_cpuid(p, all, n + 1, &e));
    ck_assert_msg(rc == -E2BIG, "%u entries: expected -E2BIG (%d), got %d", n + 1, -E2BIG, rc);
    assert_err(&e, NONE, NONE, NONE, "-E2BIG names no entry");
    snap(p, &after);
    assert_same_image(&before, &after, "-E2BIG");
    EV(cpupolicy_free(p));
}
END_TEST

START_TEST(update_cpuid_null_arguments)
{
    cpupolicy_t *p = alloc_policy();
    cpupolicy_leaf_t l = L(0, NS, 0xd);
    cpupolicy_err_t e;
    int rc;

    rc = E(cpupolicy_update_cpuid(NULL, &l, 1, &e));
    ck_assert_msg(rc == -EINVAL, "NULL policy: expected -EINVAL, got %d", rc);
    assert_err(&e, NONE, NONE, NONE, "NULL policy");
    rc = E(cpupolicy_update_cpuid(p, NULL, 1, &e));
    ck_assert_msg(rc == -EINVAL, "NULL leaves with nr 1: expected -EINVAL, got %d", rc);
    rc = E(cpupolicy_update_cpuid(p, NULL, 0, &e));
    ck_assert_msg(rc == 0, "NULL leaves with nr 0: expected 0, got %d", rc);
    rc = E(cpupolicy_update_msrs(p, NULL, 1, &e));
    ck_assert_msg(rc == -EINVAL, "NULL msrs with nr 1: expected -EINVAL, got %d", rc);
    rc = E(cpupolicy_update_msrs(NULL, NULL, 0, &e));
    ck_assert_msg(rc == -EINVAL, "NULL policy (msrs): expected -EINVAL, got %d", rc);
    EV(cpupolicy_free(p));
}
END_TEST

struct msr_vec {
    const char *what;
    cpupolicy_msr_t m[3];
    uint32_t nr;
    int rc;
    uint32_t err_msr;
};
static const struct msr_vec msr_vecs[] = {
    { "PLATFORM_INFO with flags 1", { { 0xce, 1, 0 } }, 1, -EINVAL, 0xce },
    { "ARCH_CAPS with flags 0x80000000", { { 0x10a, 0x80000000u, 0 } }, 1, -EINVAL, 0x10a },
    { "PLATFORM_INFO bit 32 (held in 32 bits, as Xen)", { { 0xce, 0, 1ull << 32 } }, 1,
      -EOVERFLOW, 0xce },
    { "PLATFORM_INFO as the hardware reads it (GNR dump 0405082CF0801E00)",
      { { 0xce, 0, 0x0405082cf0801e00ull } }, 1, -EOVERFLOW, 0xce },
    { "unknown MSR 0x10b", { { 0x10b, 0, 0 } }, 1, -ERANGE, 0x10b },
    { "unknown MSR 0 after a good one", { { 0x10a, 0, 1 }, { 0, 0, 0 } }, 2, -ERANGE, 0 },
    { "duplicate ARCH_CAPS", { { 0x10a, 0, 1 }, { 0x10a, 0, 2 } }, 2, -EINVAL, 0x10a },
    { "three entries (two MSRs held)", { { 0xce, 0, 0 }, { 0x10a, 0, 0 }, { 0xce, 0, 0 } }, 3,
      -E2BIG, NONE },
};

START_TEST(update_msrs_refuses_with_errno_and_names_the_msr)
{
    const struct msr_vec *v = &msr_vecs[_i];
    cpupolicy_t *p = load(INTEL_GNR, CPUPOLICY_RAW);
    cpupolicy_err_t e;
    image_t before, after;
    int rc;

    snap(p, &before);
    memset(&e, 0x55, sizeof(e));
    rc = E(cpupolicy_update_msrs(p, v->m, v->nr, &e));
    ck_assert_msg(rc == v->rc, "%s: expected %d, got %d", v->what, v->rc, rc);
    assert_err(&e, NONE, NONE, v->err_msr, v->what);
    snap(p, &after);
    assert_same_image(&before, &after, v->what);
    EV(cpupolicy_free(p));
}
END_TEST

START_TEST(update_msrs_accepts_full_width_arch_caps_and_32bit_platform_info)
{
    cpupolicy_t *p = alloc_policy();
    cpupolicy_msr_t m[2];
    cpupolicy_err_t e;
    image_t img;
    int rc;

    m[0] = M(0x10a, 0, 0xfedcba9876543210ull);
    m[1] = M(0xce, 0, 0xffffffffull);
    rc = E(cpupolicy_update_msrs(p, m, 2, &e));
    ck_assert_msg(rc == 0, "expected 0, got %d", rc);
    assert_err(&e, NONE, NONE, NONE, "success");
    snap(p, &img);
    ck_assert_msg(img.msrs[0].idx == 0xce && img.msrs[0].val == 0xffffffffull,
                  "0xce: expected ffffffff, got %#llx", (unsigned long long)img.msrs[0].val);
    ck_assert_msg(img.msrs[1].idx == 0x10a && img.msrs[1].val == 0xfedcba9876543210ull,
                  "0x10a: expected fedcba9876543210, got %#llx",
                  (unsigned long long)img.msrs[1].val);
    EV(cpupolicy_free(p));
}
END_TEST

START_TEST(failed_update_leaves_policy_byte_for_byte_and_good_one_applies)
{
    cpupolicy_t *p = load(INTEL_SNB, CPUPOLICY_RAW);
    cpupolicy_leaf_t l[2];
    cpupolicy_msr_t m[2];
    cpupolicy_leaf_t got;
    image_t before, after;
    int rc;

    snap(p, &before);
    /* A good change first, a bad entry after it: nothing may stick. */
    l[0] = L(0x1, NS, 0x12345678);
    l[1] = L(0x1, 0, 0);
    rc = E(cpupolicy_update_cpuid(p, l, 2, NULL));
    ck_assert_msg(rc == -ERANGE, "good+bad leaves: expected -ERANGE, got %d", rc);
    snap(p, &after);
    assert_same_image(&before, &after, "after a failed update_cpuid");

    m[0] = M(0x10a, 0, 0xff);
    m[1] = M(0xce, 0, 1ull << 40);
    rc = E(cpupolicy_update_msrs(p, m, 2, NULL));
    ck_assert_msg(rc == -EOVERFLOW, "good+bad MSRs: expected -EOVERFLOW, got %d", rc);
    snap(p, &after);
    assert_same_image(&before, &after, "after a failed update_msrs");

    /* The same good change alone does apply (so the comparison above can fail). */
    rc = E(cpupolicy_update_cpuid(p, l, 1, NULL));
    ck_assert_msg(rc == 0, "good leaf alone: expected 0, got %d", rc);
    rc = E(cpupolicy_get_cpuid(p, 1, 0, &got));
    ck_assert_msg(rc == 0 && got.a == 0x12345678, "leaf 1 eax: expected 12345678, got %08x", got.a);
    /* ... and touches nothing else: leaf 1 ebx/ecx/edx from the dump (000206D5-00200800-
     * 1FBEE3FF-BFEBFBFF) are replaced too, as a whole entry is. */
    ck_assert_msg(got.b == 0 && got.c == 0 && got.d == 0, "leaf 1: a wire entry replaces all "
                  "four registers, got %08x:%08x:%08x", got.b, got.c, got.d);
    rc = E(cpupolicy_get_cpuid(p, 0, NS, &got));
    ck_assert_msg(got.a == 0xd && got.b == 0x756e6547, "leaf 0 untouched: got %08x:%08x", got.a,
                  got.b);
    EV(cpupolicy_free(p));
}
END_TEST

/* --- serialise ---------------------------------------------------------------------- */
START_TEST(serialise_null_buffer_gives_the_counts)
{
    cpupolicy_t *p = load(INTEL_GNR, CPUPOLICY_RAW);
    uint32_t nl = 7, nm = 7;
    image_t img;
    int rc;

    rc = E(cpupolicy_serialise(p, NULL, &nl, NULL, &nm));
    ck_assert_msg(rc == 0, "size query: expected 0, got %d", rc);
    snap(p, &img);
    ck_assert_msg(nl == img.nr_leaves && nm == 2 && img.nr_msrs == 2,
                  "size query: expected %u leaves, 2 MSRs, got %u, %u", img.nr_leaves, nl, nm);
    /* GNR: max leaf 0x24, max extended 0x80000008 (dump): at least 0x25 + 9 leaves. */
    ck_assert_msg(nl >= 0x25 + 9, "GNR: expected at least 46 leaves, got %u", nl);

    /* Either half may be skipped. */
    nl = 0;
    rc = E(cpupolicy_serialise(p, NULL, &nl, NULL, NULL));
    ck_assert_msg(rc == 0 && nl == img.nr_leaves, "leaves only: expected 0/%u, got %d/%u",
                  img.nr_leaves, rc, nl);
    nm = 0;
    rc = E(cpupolicy_serialise(p, NULL, NULL, NULL, &nm));
    ck_assert_msg(rc == 0 && nm == 2, "MSRs only: expected 0/2, got %d/%u", rc, nm);
    rc = E(cpupolicy_serialise(NULL, NULL, &nl, NULL, &nm));
    ck_assert_msg(rc == -EINVAL, "NULL policy: expected -EINVAL, got %d", rc);
    rc = E(cpupolicy_serialise(p, img.leaves, NULL, NULL, NULL));
    ck_assert_msg(rc == -EINVAL, "buffer without count: expected -EINVAL, got %d", rc);
    EV(cpupolicy_free(p));
}
END_TEST

START_TEST(serialise_short_buffer_is_enobufs_with_required_count)
{
    cpupolicy_t *p = load(INTEL_GNR, CPUPOLICY_RAW);
    image_t full;
    cpupolicy_leaf_t leaves[512];
    cpupolicy_msr_t msrs[2];
    uint32_t nl, nm, i;
    int rc;

    snap(p, &full);
    memset(leaves, 0xa5, sizeof(leaves));
    nl = full.nr_leaves - 1;
    nm = 2;
    rc = E(cpupolicy_serialise(p, leaves, &nl, msrs, &nm));
    ck_assert_msg(rc == -ENOBUFS, "one leaf short: expected -ENOBUFS, got %d", rc);
    ck_assert_msg(nl == full.nr_leaves, "one leaf short: required count expected %u, got %u",
                  full.nr_leaves, nl);
    for ( i = 0; i < 512; ++i )
        ck_assert_msg(leaves[i].leaf == 0xa5a5a5a5u, "-ENOBUFS wrote entry %u", i);

    nl = full.nr_leaves;
    nm = 1;
    rc = E(cpupolicy_serialise(p, leaves, &nl, msrs, &nm));
    ck_assert_msg(rc == -ENOBUFS && nm == 2, "one MSR short: expected -ENOBUFS/2, got %d/%u",
                  rc, nm);

    nl = full.nr_leaves;
    nm = 2;
    rc = E(cpupolicy_serialise(p, leaves, &nl, msrs, &nm));
    ck_assert_msg(rc == 0 && nl == full.nr_leaves && nm == 2, "exact fit: expected 0, got %d",
                  rc);
    EV(cpupolicy_free(p));
}
END_TEST

START_TEST(serialise_is_sorted_and_addresses_are_wire_form)
{
    cpupolicy_t *p = load(INTEL_GNR, CPUPOLICY_HVM_MAX);
    image_t img;
    uint32_t i;
    int saw_hv = 0;

    snap(p, &img);
    for ( i = 0; i < img.nr_leaves; ++i )
    {
        const cpupolicy_leaf_t *l = &img.leaves[i];
        uint32_t nr = subleaves_of(l->leaf);
        if ( i )
        {
            const cpupolicy_leaf_t *q = &img.leaves[i - 1];
            ck_assert_msg(q->leaf < l->leaf || (q->leaf == l->leaf && q->subleaf < l->subleaf),
                          "entry %u (%#x:%#x) not after entry %u (%#x:%#x)", i, l->leaf,
                          l->subleaf, i - 1, q->leaf, q->subleaf);
        }
        ck_assert_msg(nr ? l->subleaf < nr : l->subleaf == NS,
                      "entry %u: %#x:%#x is not a wire address the object holds", i, l->leaf,
                      l->subleaf);
        saw_hv += l->leaf == 0x40000000u;
    }
    /* An HVM max policy advertises Xen's leaves (issue 3 item 3). */
    ck_assert_msg(saw_hv == 1, "hvm-max: expected one 0x40000000 entry, got %d", saw_hv);
    EV(cpupolicy_free(p));
}
END_TEST

static const char *const some_dumps[] = { INTEL_SNB, INTEL_GNR, AMD_GENOA };

START_TEST(round_trip_through_a_fresh_policy_is_lossless)
{
    unsigned idx;
    for ( idx = 0; idx <= CPUPOLICY_HVM_DEFAULT; ++idx )
    {
        cpupolicy_t *p = load(some_dumps[_i], idx), *q = alloc_policy();
        cpupolicy_err_t e;
        image_t a, b;
        int rc;

        snap(p, &a);
        rc = E(cpupolicy_update_cpuid(q, a.leaves, a.nr_leaves, &e));
        ck_assert_msg(rc == 0, "%s idx %u: update_cpuid expected 0, got %d (%#x:%#x)",
                      some_dumps[_i], idx, rc, e.leaf, e.subleaf);
        rc = E(cpupolicy_update_msrs(q, a.msrs, a.nr_msrs, &e));
        ck_assert_msg(rc == 0, "%s idx %u: update_msrs expected 0, got %d (msr %#x)",
                      some_dumps[_i], idx, rc, e.msr);
        snap(q, &b);
        assert_same_image(&a, &b, some_dumps[_i]);
        EV(cpupolicy_free(p));
        EV(cpupolicy_free(q));
    }
}
END_TEST

/* --- featureset view ------------------------------------------------------------------- */
/* GNR raw words 0, 5, 9 and 16 straight from the dump text:
 *   CPUID 00000001: ...-7FFEFBFF-BFEBFBFF, CPUID 00000007 [SL 00]: ...-F3BFBFFB-BB417FEE-FFDD4430,
 *   MSR 0000010A: 0000-0000-2DA9-FDEB. */
START_TEST(to_featureset_reads_the_words_and_handles_short_and_long_buffers)
{
    cpupolicy_t *p = load(INTEL_GNR, CPUPOLICY_RAW);
    uint32_t fs[NR_WORDS + 4], nr, i;
    int rc;

    nr = 0;
    rc = E(cpupolicy_policy_to_featureset(p, NULL, &nr));
    ck_assert_msg(rc == 0 && nr == NR_WORDS, "size query: expected 0/19, got %d/%u", rc, nr);

    for ( i = 0; i < NR_WORDS + 4; ++i )
        fs[i] = GUARD;
    nr = NR_WORDS + 4;
    rc = E(cpupolicy_policy_to_featureset(p, fs, &nr));
    ck_assert_msg(rc == 0 && nr == NR_WORDS, "long buffer: expected 0/19, got %d/%u", rc, nr);
    ck_assert_msg(fs[0] == 0xbfebfbffu && fs[1] == 0x7ffefbffu && fs[5] == 0xf3bfbffbu &&
                  fs[9] == 0xffdd4430u && fs[16] == 0x2da9fdebu && fs[17] == 0,
                  "GNR words 0,1,5,9,16,17: got %08x %08x %08x %08x %08x %08x", fs[0], fs[1],
                  fs[5], fs[9], fs[16], fs[17]);
    for ( i = NR_WORDS; i < NR_WORDS + 4; ++i )
        ck_assert_msg(fs[i] == 0, "long buffer: word %u expected 0, got %08x", i, fs[i]);

    for ( i = 0; i < NR_WORDS; ++i )
        fs[i] = GUARD;
    nr = 6;
    rc = E(cpupolicy_policy_to_featureset(p, fs, &nr));
    ck_assert_msg(rc == -ENOBUFS, "6 words: expected -ENOBUFS, got %d", rc);
    ck_assert_msg(nr == NR_WORDS, "6 words: required count expected 19, got %u", nr);
    ck_assert_msg(fs[0] == 0xbfebfbffu && fs[5] == 0xf3bfbffbu,
                  "6 words: what fits is copied, got %08x .. %08x", fs[0], fs[5]);
    ck_assert_msg(fs[6] == GUARD, "6 words: word 6 written (%08x)", fs[6]);

    rc = E(cpupolicy_policy_to_featureset(p, fs, NULL));
    ck_assert_msg(rc == -EINVAL, "NULL nr: expected -EINVAL, got %d", rc);
    rc = E(cpupolicy_policy_to_featureset(NULL, fs, &nr));
    ck_assert_msg(rc == -EINVAL, "NULL policy: expected -EINVAL, got %d", rc);
    EV(cpupolicy_free(p));
}
END_TEST

START_TEST(from_featureset_writes_the_leaves_and_refuses_length_skew)
{
    cpupolicy_t *p = load(INTEL_SNB, CPUPOLICY_RAW);
    uint32_t fs[NR_WORDS + 1], back[NR_WORDS], nr;
    cpupolicy_leaf_t l;
    image_t before, after;
    int rc;

    memset(fs, 0, sizeof(fs));
    fs[0] = 0x00000001;      /* fpu */
    fs[5] = 1u << 5;         /* avx2: 7:0.ebx[5] */
    fs[16] = 0x00000002;     /* ARCH_CAPS bit 1 (rdcl-no) */
    fs[NR_WORDS] = 0;        /* a longer featureset is fine when the extra words are zero */
    rc = E(cpupolicy_policy_from_featureset(p, fs, NR_WORDS + 1));
    ck_assert_msg(rc == 0, "20 words, extra zero: expected 0, got %d", rc);
    rc = E(cpupolicy_get_cpuid(p, 7, 0, &l));
    ck_assert_msg(rc == 0, "get 7:0: expected 0, got %d", rc);
    /* SNB's max leaf is 0xd, so leaf 7 is in range and reads back. */
    ck_assert_msg(l.b == (1u << 5), "7:0.ebx: expected 00000020, got %08x", l.b);
    rc = E(cpupolicy_get_cpuid(p, 1, NS, &l));
    ck_assert_msg(l.d == 1 && l.a == 0x000206d5, "leaf 1: edx expected 1 (eax kept 000206d5), "
                  "got edx %08x eax %08x", l.d, l.a);
    nr = NR_WORDS;
    rc = E(cpupolicy_policy_to_featureset(p, back, &nr));
    ck_assert_msg(rc == 0 && !memcmp(back, fs, sizeof(back)), "featureset does not read back");

    /* A word this build does not know, set: nothing applied. */
    snap(p, &before);
    fs[0] = 0xffffffff;
    fs[NR_WORDS] = 1;
    rc = E(cpupolicy_policy_from_featureset(p, fs, NR_WORDS + 1));
    ck_assert_msg(rc == -EOPNOTSUPP, "nonzero word 19: expected -EOPNOTSUPP (%d), got %d",
                  -EOPNOTSUPP, rc);
    snap(p, &after);
    assert_same_image(&before, &after, "after -EOPNOTSUPP");

    /* A short featureset is zero-extended: words 2.. are cleared. */
    fs[0] = 0x1;
    fs[1] = 0x2;
    rc = E(cpupolicy_policy_from_featureset(p, fs, 2));
    ck_assert_msg(rc == 0, "2 words: expected 0, got %d", rc);
    rc = E(cpupolicy_get_cpuid(p, 7, 0, &l));
    ck_assert_msg(l.b == 0, "2 words: 7:0.ebx expected zero-extended, got %08x", l.b);

    rc = E(cpupolicy_policy_from_featureset(p, NULL, 1));
    ck_assert_msg(rc == -EINVAL, "NULL fs: expected -EINVAL, got %d", rc);
    rc = E(cpupolicy_policy_from_featureset(NULL, fs, 1));
    ck_assert_msg(rc == -EINVAL, "NULL policy: expected -EINVAL, got %d", rc);
    EV(cpupolicy_free(p));
}
END_TEST

/* --- get_cpuid ---------------------------------------------------------------------------- */
START_TEST(get_cpuid_answers_ranges_and_refuses_what_the_object_lacks)
{
    cpupolicy_t *p = load(INTEL_SNB, CPUPOLICY_RAW);
    cpupolicy_leaf_t l;
    static const uint32_t bad[][2] = {
        { 0x25, 0 }, { 0x80000029u, 0 }, { 0x40000001u, 0 }, { 0xc0000000u, 0 }, { 0x7, 4 },
        { 0xd, 63 }, { 0xd, NS },
    };
    unsigned i;
    int rc;

    for ( i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i )
    {
        memset(&l, 0x77, sizeof(l));
        rc = E(cpupolicy_get_cpuid(p, bad[i][0], bad[i][1], &l));
        ck_assert_msg(rc == -ERANGE, "%#x:%#x: expected -ERANGE, got %d", bad[i][0], bad[i][1], rc);
        ck_assert_msg(l.leaf == 0x77777777u, "%#x:%#x: out written on -ERANGE", bad[i][0],
                      bad[i][1]);
    }

    /* A plain leaf ignores ECX, as the instruction does; answered in wire form.
     * SNB: CPUID 00000001: 000206D5-00200800-1FBEE3FF-BFEBFBFF. */
    rc = E(cpupolicy_get_cpuid(p, 1, 5, &l));
    ck_assert_msg(rc == 0 && l.leaf == 1 && l.subleaf == NS && l.a == 0x000206d5 &&
                  l.b == 0x00200800 && l.c == 0x1fbee3ff && l.d == 0xbfebfbff,
                  "leaf 1 subleaf 5: got %d %#x:%#x %08x:%08x:%08x:%08x", rc, l.leaf, l.subleaf,
                  l.a, l.b, l.c, l.d);
    /* Indexed: CPUID 0000000B [1]: 00000005-00000010-00000201-00000000. */
    rc = E(cpupolicy_get_cpuid(p, 0xb, 1, &l));
    ck_assert_msg(rc == 0 && l.subleaf == 1 && l.a == 5 && l.b == 0x10 && l.c == 0x201,
                  "0xb:1: got %d %08x:%08x:%08x", rc, l.a, l.b, l.c);
    /* SNB's max basic leaf is 0xd: 0x14 is held by the object but out of range -> zeros. */
    rc = E(cpupolicy_get_cpuid(p, 0x14, 0, &l));
    ck_assert_msg(rc == 0 && !l.a && !l.b && !l.c && !l.d, "0x14:0 beyond max leaf: expected "
                  "zeros, got %d %08x:%08x:%08x:%08x", rc, l.a, l.b, l.c, l.d);
    /* Raw: no Xen leaves; the limit leaves read as serialise would write them. */
    rc = E(cpupolicy_get_cpuid(p, 0x40000000u, 0, &l));
    ck_assert_msg(rc == 0 && l.subleaf == NS && l.a == 0, "raw 0x40000000: expected limit 0, "
                  "got %d %08x", rc, l.a);
    rc = E(cpupolicy_get_cpuid(NULL, 1, 0, &l));
    ck_assert_msg(rc == -EINVAL, "NULL policy: expected -EINVAL, got %d", rc);
    rc = E(cpupolicy_get_cpuid(p, 1, 0, NULL));
    ck_assert_msg(rc == -EINVAL, "NULL out: expected -EINVAL, got %d", rc);
    EV(cpupolicy_free(p));

    p = load(INTEL_SNB, CPUPOLICY_HVM_MAX);
    rc = E(cpupolicy_get_cpuid(p, 0x40000000u, NS, &l));
    ck_assert_msg(rc == 0 && l.a == 0x40000004u, "hvm-max 0x40000000: expected limit 40000004 "
                  "(Xen's HVM leaves 0..4), got %d %08x", rc, l.a);
    EV(cpupolicy_free(p));
}
END_TEST

/* --- derive --------------------------------------------------------------------------------- */
struct derive_vec {
    const char *what;
    unsigned idx;
    const char *opts;
    int rc;
};
static const struct derive_vec derive_vecs[] = {
    { "index 6", 6, NULL, -EINVAL },
    { "index ~0", ~0u, NULL, -EINVAL },
    { "unknown feature in cpuid=", CPUPOLICY_HOST, "cpuid=no-frobnicate", -ENOENT },
    { "unknown feature in a bare list", CPUPOLICY_HVM_MAX, "no-avx2,no-frobnicate", -ENOENT },
    { "unknown option", CPUPOLICY_HOST, "frobnicate=1", -EINVAL },
    { "bad boolean", CPUPOLICY_PV_MAX, "tsx=maybe", -EINVAL },
    { "empty list item", CPUPOLICY_HOST, "cpuid=no-avx2,,rtm", -EINVAL },
    { "bad options are refused for raw too", CPUPOLICY_RAW, "cpuid=no-frobnicate", -ENOENT },
};

START_TEST(derive_errors_leave_out_untouched)
{
    const struct derive_vec *v = &derive_vecs[_i];
    cpupolicy_t *raw = load(INTEL_GNR, CPUPOLICY_RAW), *out = load(INTEL_SNB, CPUPOLICY_HOST);
    image_t before, after;
    int rc;

    snap(out, &before);
    rc = E(cpupolicy_derive(out, raw, v->idx, v->opts));
    ck_assert_msg(rc == v->rc, "%s: expected %d, got %d", v->what, v->rc, rc);
    snap(out, &after);
    assert_same_image(&before, &after, v->what);
    EV(cpupolicy_free(raw));
    EV(cpupolicy_free(out));
}
END_TEST

START_TEST(derive_boot_options_clear_the_feature_and_its_dependents)
{
    cpupolicy_t *raw = load(INTEL_GNR, CPUPOLICY_RAW), *a = alloc_policy(), *b = alloc_policy();
    uint32_t fa[NR_WORDS], fb[NR_WORDS], deps[NR_WORDS], nr, f;
    int rc;

    rc = E(cpupolicy_derive(a, raw, CPUPOLICY_HOST, NULL));
    ck_assert_msg(rc == 0, "host: expected 0, got %d", rc);
    nr = NR_WORDS;
    (void)E(cpupolicy_policy_to_featureset(a, fa, &nr));
    ck_assert_msg(test_bit(fa, F_AVX2), "GNR host: avx2 expected present");

    /* Both spellings the header documents. */
    rc = E(cpupolicy_derive(b, raw, CPUPOLICY_HOST, "no-avx2"));
    ck_assert_msg(rc == 0, "bare 'no-avx2': expected 0, got %d", rc);
    nr = NR_WORDS;
    (void)E(cpupolicy_policy_to_featureset(b, fb, &nr));
    rc = E(cpupolicy_derive(a, raw, CPUPOLICY_HOST, "cpuid=no-avx2"));
    ck_assert_msg(rc == 0, "'cpuid=no-avx2': expected 0, got %d", rc);
    nr = NR_WORDS;
    (void)E(cpupolicy_policy_to_featureset(a, fa, &nr));
    ck_assert_msg(!memcmp(fa, fb, sizeof(fa)), "'no-avx2' and 'cpuid=no-avx2' differ");

    ck_assert_msg(!test_bit(fb, F_AVX2), "no-avx2: avx2 still present");
    rc = E(cpupolicy_feature_deps(F_AVX2, deps, NR_WORDS));
    ck_assert_msg(rc == 0, "deps(avx2): expected 0, got %d", rc);
    ck_assert_msg(test_bit(deps, F_AVX512F), "avx512f should depend on avx2");
    for ( f = 0; f < NR_WORDS * 32; ++f )
        ck_assert_msg(!test_bit(deps, f) || !test_bit(fb, f),
                      "no-avx2: dependent %u (%s) still present", f, cpupolicy_feature_name(f));
    EV(cpupolicy_free(raw));
    EV(cpupolicy_free(a));
    EV(cpupolicy_free(b));
}
END_TEST

START_TEST(derive_null_arguments_and_aliasing)
{
    cpupolicy_t *raw = load(INTEL_HSW, CPUPOLICY_RAW), *ref = alloc_policy();
    image_t a, b;
    int rc;

    rc = E(cpupolicy_derive(NULL, raw, CPUPOLICY_HOST, NULL));
    ck_assert_msg(rc == -EINVAL, "NULL out: expected -EINVAL, got %d", rc);
    rc = E(cpupolicy_derive(ref, NULL, CPUPOLICY_HOST, NULL));
    ck_assert_msg(rc == -EINVAL, "NULL raw: expected -EINVAL, got %d", rc);
    /* "" is no options; out may be raw itself. */
    rc = E(cpupolicy_derive(ref, raw, CPUPOLICY_HVM_DEFAULT, ""));
    ck_assert_msg(rc == 0, "'' options: expected 0, got %d", rc);
    rc = E(cpupolicy_derive(raw, raw, CPUPOLICY_HVM_DEFAULT, NULL));
    ck_assert_msg(rc == 0, "out == raw: expected 0, got %d", rc);
    snap(ref, &a);
    snap(raw, &b);
    assert_same_image(&a, &b, "derive in place");
    EV(cpupolicy_free(raw));
    EV(cpupolicy_free(ref));
}
END_TEST

/* --- is_compatible / missing_features ----------------------------------------------------------- */
START_TEST(granite_rapids_guest_on_sandy_bridge_host_names_leaf_1_and_what_is_missing)
{
    cpupolicy_t *host = load(INTEL_SNB, CPUPOLICY_HVM_MAX);
    cpupolicy_t *guest = load(INTEL_GNR, CPUPOLICY_HVM_DEFAULT);
    uint32_t fs[NR_WORDS], small[2];
    cpupolicy_err_t e;
    int rc, n;

    rc = E(cpupolicy_is_compatible(host, guest, &e));
    ck_assert_msg(rc == -EINVAL, "GNR on SNB: expected -EINVAL, got %d", rc);
    /* Leaf 0 passes (same vendor, both max leaves are the object's 0x24 limit after
     * derivation); the first failing leaf is 1: GNR has fma (1.ecx[12]), SNB
     * (1.ecx = 1FBEE3FF) does not. */
    assert_err(&e, 0x1, NS, NONE, "GNR on SNB");
    rc = E(cpupolicy_is_compatible(host, guest, NULL));
    ck_assert_msg(rc == -EINVAL, "err NULL: expected -EINVAL, got %d", rc);

    memset(fs, 0, sizeof(fs));
    n = E(cpupolicy_missing_features(host, guest, fs, NR_WORDS));
    ck_assert_msg(n > 0 && (unsigned)n == count_bits(fs, NR_WORDS),
                  "missing: returned %d, featureset holds %u", n, count_bits(fs, NR_WORDS));
    ck_assert_msg(test_bit(fs, F_AVX512F) && test_bit(fs, F_AVX2) && test_bit(fs, F_FMA),
                  "missing should include avx512f, avx2, fma: %d %d %d", test_bit(fs, F_AVX512F),
                  test_bit(fs, F_AVX2), test_bit(fs, F_FMA));

    /* Short buffer: the count is still complete, only nr words are written. */
    small[0] = 0;
    small[1] = GUARD;
    rc = E(cpupolicy_missing_features(host, guest, small, 1));
    ck_assert_msg(rc == n, "nr 1: expected count %d, got %d", n, rc);
    ck_assert_msg(small[0] == fs[0] && small[1] == GUARD, "nr 1: word 0 %08x (expected %08x), "
                  "guard %08x", small[0], fs[0], small[1]);
    rc = E(cpupolicy_missing_features(host, guest, NULL, 0));
    ck_assert_msg(rc == n, "count only: expected %d, got %d", n, rc);
    rc = E(cpupolicy_missing_features(host, NULL, fs, NR_WORDS));
    ck_assert_msg(rc == -EINVAL, "NULL guest: expected -EINVAL, got %d", rc);
    EV(cpupolicy_free(host));
    EV(cpupolicy_free(guest));
}
END_TEST

START_TEST(compatible_pairs_report_success_with_an_all_none_err)
{
    cpupolicy_t *host = load(INTEL_GNR, CPUPOLICY_HVM_MAX), *guest = load(INTEL_GNR, CPUPOLICY_HVM_DEFAULT);
    uint32_t fs[NR_WORDS];
    cpupolicy_err_t e;
    int rc;

    memset(&e, 0, sizeof(e));
    rc = E(cpupolicy_is_compatible(host, guest, &e));
    ck_assert_msg(rc == 0, "GNR hvm-default on GNR hvm-max: expected 0, got %d (%#x:%#x msr %#x)",
                  rc, e.leaf, e.subleaf, e.msr);
    assert_err(&e, NONE, NONE, NONE, "compatible");
    rc = E(cpupolicy_missing_features(host, guest, fs, NR_WORDS));
    ck_assert_msg(rc == 0 && count_bits(fs, NR_WORDS) == 0, "missing: expected none, got %d", rc);
    rc = E(cpupolicy_is_compatible(NULL, guest, &e));
    ck_assert_msg(rc == -EINVAL, "NULL host: expected -EINVAL, got %d", rc);
    EV(cpupolicy_free(host));
    EV(cpupolicy_free(guest));
}
END_TEST

START_TEST(amd_guest_on_intel_host_fails_at_leaf_0)
{
    cpupolicy_t *host = load(INTEL_GNR, CPUPOLICY_HVM_MAX), *guest = load(AMD_GENOA, CPUPOLICY_HVM_DEFAULT);
    cpupolicy_err_t e;
    int rc = E(cpupolicy_is_compatible(host, guest, &e));
    ck_assert_msg(rc == -EINVAL, "Genoa on GNR: expected -EINVAL, got %d", rc);
    assert_err(&e, 0x0, NS, NONE, "vendor differs");
    EV(cpupolicy_free(host));
    EV(cpupolicy_free(guest));
}
END_TEST

/* --- calc_compatible --------------------------------------------------------------------------- */
START_TEST(calc_compatible_refuses_empty_and_mixed_vendor_input)
{
    cpupolicy_t *intel = load(INTEL_HSW, CPUPOLICY_HVM_MAX), *amd = load(AMD_GENOA, CPUPOLICY_HVM_MAX);
    cpupolicy_t *out = load(INTEL_SNB, CPUPOLICY_HOST);
    const cpupolicy_t *in[3];
    image_t before, after;
    uint32_t bad;
    int rc;

    snap(out, &before);
    in[0] = intel;
    in[1] = amd;
    in[2] = intel;
    bad = 77;
    rc = E(cpupolicy_calc_compatible(out, in, 0, &bad));
    ck_assert_msg(rc == -EINVAL, "n == 0: expected -EINVAL, got %d", rc);
    ck_assert_msg(bad == NONE, "n == 0: bad_index expected ~0, got %u", bad);

    rc = E(cpupolicy_calc_compatible(out, in, 3, &bad));
    ck_assert_msg(rc == -EINVAL, "Intel+AMD: expected -EINVAL, got %d", rc);
    ck_assert_msg(bad == 1, "Intel+AMD: bad_index expected 1, got %u", bad);
    rc = E(cpupolicy_calc_compatible(out, in, 3, NULL));
    ck_assert_msg(rc == -EINVAL, "bad_index NULL: expected -EINVAL, got %d", rc);

    in[1] = NULL;
    rc = E(cpupolicy_calc_compatible(out, in, 2, &bad));
    ck_assert_msg(rc == -EINVAL && bad == 1, "NULL input 1: expected -EINVAL/1, got %d/%u", rc, bad);
    rc = E(cpupolicy_calc_compatible(out, NULL, 2, &bad));
    ck_assert_msg(rc == -EINVAL, "NULL array: expected -EINVAL, got %d", rc);
    snap(out, &after);
    assert_same_image(&before, &after, "out after failed levelling");
    EV(cpupolicy_free(intel));
    EV(cpupolicy_free(amd));
    EV(cpupolicy_free(out));
}
END_TEST

START_TEST(calc_compatible_result_is_compatible_with_each_input)
{
    cpupolicy_t *a = load(INTEL_HSW, CPUPOLICY_HVM_MAX), *b = load(INTEL_GNR, CPUPOLICY_HVM_MAX);
    cpupolicy_t *c = load(INTEL_SNB, CPUPOLICY_HVM_MAX), *out = alloc_policy();
    const cpupolicy_t *in[3];
    uint32_t bad = 77, fs[NR_WORDS], nr = NR_WORDS;
    cpupolicy_err_t e;
    unsigned i;
    int rc;

    in[0] = a;
    in[1] = b;
    in[2] = c;
    rc = E(cpupolicy_calc_compatible(out, in, 3, &bad));
    ck_assert_msg(rc == 0 && bad == NONE, "HSW+GNR+SNB: expected 0/~0, got %d/%u", rc, bad);
    for ( i = 0; i < 3; ++i )
    {
        rc = E(cpupolicy_is_compatible(in[i], out, &e));
        ck_assert_msg(rc == 0, "level on input %u: expected 0, got %d (%#x:%#x msr %#x)", i, rc,
                      e.leaf, e.subleaf, e.msr);
    }
    /* Neither SNB (1.ecx 1FBEE3FF) nor HSW has avx512f; SNB lacks avx2 and fma. */
    (void)E(cpupolicy_policy_to_featureset(out, fs, &nr));
    ck_assert_msg(!test_bit(fs, F_AVX512F) && !test_bit(fs, F_AVX2) && !test_bit(fs, F_FMA),
                  "level: avx512f/avx2/fma expected absent");
    EV(cpupolicy_free(a));
    EV(cpupolicy_free(b));
    EV(cpupolicy_free(c));
    EV(cpupolicy_free(out));
}
END_TEST

START_TEST(calc_compatible_takes_a_large_pool)
{
    /* 100 inputs (beyond any small fixed bound); levelling a policy with itself is
     * that policy's features. */
    enum { NR = 100 };
    cpupolicy_t *a = load(INTEL_GNR, CPUPOLICY_HVM_MAX), *out = alloc_policy();
    const cpupolicy_t *in[NR];
    uint32_t bad = 77, fa[NR_WORDS], fo[NR_WORDS], nr;
    unsigned i;
    int rc;

    for ( i = 0; i < NR; ++i )
        in[i] = a;
    rc = E(cpupolicy_calc_compatible(out, in, NR, &bad));
    ck_assert_msg(rc == 0 && bad == NONE, "100 x GNR: expected 0/~0, got %d/%u", rc, bad);
    nr = NR_WORDS;
    (void)E(cpupolicy_policy_to_featureset(a, fa, &nr));
    nr = NR_WORDS;
    (void)E(cpupolicy_policy_to_featureset(out, fo, &nr));
    ck_assert_msg(!memcmp(fa, fo, sizeof(fa)), "level of 100 copies: featureset differs");
    in[80] = NULL;
    rc = E(cpupolicy_calc_compatible(out, in, NR, &bad));
    ck_assert_msg(rc == -EINVAL && bad == 80, "NULL input 80: expected -EINVAL/80, got %d/%u", rc, bad);
    EV(cpupolicy_free(a));
    EV(cpupolicy_free(out));
}
END_TEST

/* --- import_dump ------------------------------------------------------------------------------- */
START_TEST(import_missing_file_is_enoent_and_leaves_raw_alone)
{
    cpupolicy_t *p = load(INTEL_SNB, CPUPOLICY_RAW);
    image_t before, after;
    const char *msg;
    int rc;

    snap(p, &before);
    rc = E(cpupolicy_import_dump(p, "/nonexistent/papi-no-such-dump.txt", 0));
    ck_assert_msg(rc == -ENOENT, "missing file: expected -ENOENT, got %d", rc);
    msg = EP(cpupolicy_last_error());
    ck_assert_msg(msg && strstr(msg, "papi-no-such-dump.txt"),
                  "message should name the file, got '%s'", msg ? msg : "(null)");
    snap(p, &after);
    assert_same_image(&before, &after, "after -ENOENT");
    rc = E(cpupolicy_import_dump(NULL, "/nonexistent", 0));
    ck_assert_msg(rc == -EINVAL, "NULL policy: expected -EINVAL, got %d", rc);
    EV(cpupolicy_free(p));
}
END_TEST

START_TEST(import_malformed_file_is_einval_with_file_and_line)
{
    char path[] = "/tmp/check_policy_XXXXXX", want[128];
    cpupolicy_t *p = load(INTEL_SNB, CPUPOLICY_RAW);
    image_t before, after;
    const char *msg;
    FILE *f;
    int fd, rc;

    fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp failed");
    f = fdopen(fd, "w");
    /* Lines 1-2 good, line 3 a CPUID record with a truncated register. */
    fputs("CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69 [GenuineIntel]\n"
          "CPUID 00000001: 000206D5-00200800-1FBEE3FF-BFEBFBFF\n"
          "CPUID 00000002: 76035A01-00F0B2FF-0000\n", f);
    fclose(f);

    snap(p, &before);
    rc = E(cpupolicy_import_dump(p, path, 0));
    msg = EP(cpupolicy_last_error());
    unlink(path);
    ck_assert_msg(rc == -EINVAL, "malformed: expected -EINVAL, got %d (%s)", rc, msg);
    snprintf(want, sizeof(want), "%s:3", path);
    ck_assert_msg(strstr(msg, want) != NULL, "message should contain '%s', got '%s'", want, msg);
    snap(p, &after);
    assert_same_image(&before, &after, "after -EINVAL");
    EV(cpupolicy_free(p));
}
END_TEST

START_TEST(import_cpu_beyond_the_file_is_erange_and_success_clears_the_message)
{
    char path[4096];
    cpupolicy_t *p = alloc_policy();
    image_t a, b;
    const char *msg;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", dumps_dir(), INTEL_SNB);
    rc = E(cpupolicy_import_dump(p, path, 2));  /* the dumps keep CPUs 0 and 1 */
    ck_assert_msg(rc == -ERANGE, "cpu 2: expected -ERANGE, got %d", rc);
    msg = EP(cpupolicy_last_error());
    ck_assert_msg(*msg, "cpu 2: expected a message");
    rc = E(cpupolicy_import_dump(p, path, 1));
    ck_assert_msg(rc == 0, "cpu 1: expected 0, got %d", rc);
    msg = EP(cpupolicy_last_error());
    ck_assert_msg(*msg == '\0', "after success: expected '', got '%s'", msg);
    /* CPU 1 is another thread of the same package: same CPUID but for the APIC ID. */
    snap(p, &a);
    rc = E(cpupolicy_import_dump(p, path, 0));
    snap(p, &b);
    ck_assert_msg(rc == 0 && a.nr_leaves == b.nr_leaves, "cpu 0 vs 1: leaf counts %u vs %u",
                  b.nr_leaves, a.nr_leaves);
    EV(cpupolicy_free(p));
}
END_TEST

/* The 64-bit-mode correction through the C ABI: Granite Rapids was dumped by a 32-bit
 * process (0x80000001 EDX 2C100000 at line 89); the policy holds SYSCALL set and one note
 * says where and why.  The count rule: size query, short buffer, exact buffer. */
START_TEST(import_notes_name_the_syscall_correction_under_the_count_rule)
{
    char path[4096];
    cpupolicy_t *p = alloc_policy();
    cpupolicy_import_note_t notes[CPUPOLICY_MAX_IMPORT_NOTES];
    cpupolicy_leaf_t l;
    image_t before, after;
    uint32_t nr;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", dumps_dir(), "GenuineIntel00A06D1_GraniteRapids_03.txt");
    snap(p, &before);
    nr = 77;
    rc = E(cpupolicy_import_dump_notes(p, path, 0, NULL, &nr));
    ck_assert_msg(rc == 0 && nr == 1, "size query: expected 0 and 1 note, got %d and %u", rc, nr);
    nr = 0;
    rc = E(cpupolicy_import_dump_notes(p, path, 0, notes, &nr));
    ck_assert_msg(rc == -ENOBUFS && nr == 1, "short buffer: expected -ENOBUFS and 1, got %d and %u",
                  rc, nr);
    snap(p, &after);
    assert_same_image(&before, &after, "after a size query and -ENOBUFS");

    nr = CPUPOLICY_MAX_IMPORT_NOTES;
    rc = E(cpupolicy_import_dump_notes(p, path, 0, notes, &nr));
    ck_assert_msg(rc == 0 && nr == 1, "expected 0 and 1 note, got %d and %u", rc, nr);
    ck_assert_msg(notes[0].leaf == 0x80000001 && notes[0].subleaf == 0 && notes[0].reg == 3 &&
                  notes[0].bit == 11 && notes[0].value == 1 && notes[0].line == 89,
                  "note: expected 80000001:0 edx(3) bit 11 -> 1 line 89, got %x:%u %u bit %u -> %u line %u",
                  notes[0].leaf, notes[0].subleaf, notes[0].reg, notes[0].bit, notes[0].value,
                  notes[0].line);
    ck_assert_msg(notes[0].why && strstr(notes[0].why, "64-bit"), "why: '%s'",
                  notes[0].why ? notes[0].why : "(null)");
    rc = E(cpupolicy_get_cpuid(p, 0x80000001, CPUPOLICY_NO_SUBLEAF, &l));
    ck_assert_msg(rc == 0 && l.d == 0x2c100800, "0x80000001 edx: expected 2c100800, got %08x", l.d);

    /* Dumped in 64-bit mode: nothing corrected. */
    snprintf(path, sizeof(path), "%s/%s", dumps_dir(), "GenuineIntel0050657_CascadeLakeXeon.txt");
    nr = CPUPOLICY_MAX_IMPORT_NOTES;
    rc = E(cpupolicy_import_dump_notes(p, path, 0, notes, &nr));
    ck_assert_msg(rc == 0 && nr == 0, "Cascade Lake: expected 0 and no notes, got %d and %u", rc, nr);
    EV(cpupolicy_free(p));
}
END_TEST

/* Reads are bounded: a device, a FIFO, a directory are refused without reading, and the
 * message names the file (/dev/zero used to be read until memory ran out). */
START_TEST(import_refuses_what_is_not_a_regular_file)
{
    static const char *const paths[] = { "/dev/zero", "/dev/null", "/tmp" };
    cpupolicy_t *p = load(INTEL_SNB, CPUPOLICY_RAW);
    image_t before, after;
    const char *msg;
    unsigned i;
    int rc;

    snap(p, &before);
    for ( i = 0; i < N(paths); ++i )
    {
        rc = E(cpupolicy_import_dump(p, paths[i], 0));
        msg = EP(cpupolicy_last_error());
        ck_assert_msg(rc == -EINVAL, "%s: expected -EINVAL, got %d (%s)", paths[i], rc, msg);
        ck_assert_msg(strstr(msg, paths[i]) && strstr(msg, "not a regular file"),
                      "%s: message '%s'", paths[i], msg);
    }
    snap(p, &after);
    assert_same_image(&before, &after, "after refused files");
    EV(cpupolicy_free(p));
}
END_TEST

static Suite *policy_suite(void)
{
    Suite *s = suite_create("cpupolicy policy C ABI");
    TCase *tc;

    tc = tcase_create("alloc");
    tcase_add_test(tc, alloc_gives_a_zeroed_policy_and_free_accepts_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("update");
    tcase_add_loop_test(tc, update_cpuid_refuses_with_errno_and_names_the_entry, 0, N(leaf_vecs));
    tcase_add_test(tc, update_cpuid_takes_the_whole_object_and_not_one_more);
    tcase_add_test(tc, update_cpuid_null_arguments);
    tcase_add_loop_test(tc, update_msrs_refuses_with_errno_and_names_the_msr, 0, N(msr_vecs));
    tcase_add_test(tc, update_msrs_accepts_full_width_arch_caps_and_32bit_platform_info);
    tcase_add_test(tc, failed_update_leaves_policy_byte_for_byte_and_good_one_applies);
    suite_add_tcase(s, tc);

    tc = tcase_create("serialise");
    tcase_add_test(tc, serialise_null_buffer_gives_the_counts);
    tcase_add_test(tc, serialise_short_buffer_is_enobufs_with_required_count);
    tcase_add_test(tc, serialise_is_sorted_and_addresses_are_wire_form);
    tcase_add_loop_test(tc, round_trip_through_a_fresh_policy_is_lossless, 0, N(some_dumps));
    suite_add_tcase(s, tc);

    tc = tcase_create("featureset");
    tcase_add_test(tc, to_featureset_reads_the_words_and_handles_short_and_long_buffers);
    tcase_add_test(tc, from_featureset_writes_the_leaves_and_refuses_length_skew);
    tcase_add_test(tc, get_cpuid_answers_ranges_and_refuses_what_the_object_lacks);
    suite_add_tcase(s, tc);

    tc = tcase_create("derive");
    tcase_add_loop_test(tc, derive_errors_leave_out_untouched, 0, N(derive_vecs));
    tcase_add_test(tc, derive_boot_options_clear_the_feature_and_its_dependents);
    tcase_add_test(tc, derive_null_arguments_and_aliasing);
    suite_add_tcase(s, tc);

    tc = tcase_create("compat");
    tcase_add_test(tc, granite_rapids_guest_on_sandy_bridge_host_names_leaf_1_and_what_is_missing);
    tcase_add_test(tc, compatible_pairs_report_success_with_an_all_none_err);
    tcase_add_test(tc, amd_guest_on_intel_host_fails_at_leaf_0);
    tcase_add_test(tc, calc_compatible_refuses_empty_and_mixed_vendor_input);
    tcase_add_test(tc, calc_compatible_result_is_compatible_with_each_input);
    tcase_add_test(tc, calc_compatible_takes_a_large_pool);
    suite_add_tcase(s, tc);

    tc = tcase_create("import");
    tcase_add_test(tc, import_missing_file_is_enoent_and_leaves_raw_alone);
    tcase_add_test(tc, import_malformed_file_is_einval_with_file_and_line);
    tcase_add_test(tc, import_cpu_beyond_the_file_is_erange_and_success_clears_the_message);
    tcase_add_test(tc, import_notes_name_the_syscall_correction_under_the_count_rule);
    tcase_add_test(tc, import_refuses_what_is_not_a_regular_file);
    suite_add_tcase(s, tc);

    return s;
}

int main(void)
{
    return run_suite(policy_suite());
}
