/* SPDX-License-Identifier: MIT */
/*
 * Properties of every real dump in CPUPOLICY_DUMPS (issue 3 item 10), through the public
 * C ABI as a toolstack sees it.  Table-driven over the directory listing: each test runs
 * once per dump (or once per vendor), and the directory must hold exactly the twenty
 * dumps of tests/data/cpuid-dumps.
 *
 *  1. raw featureset == the bits read straight from the leaves (cpupolicy_get_cpuid) and
 *     from MSR 0x10a in the serialised MSRs - the featureset view invents nothing;
 *  2. features: default <= max <= host <= raw, for PV and HVM.  host <= raw and
 *     default <= max hold without exception.  max <= host holds except for the features a
 *     documented rule synthesises for guests (synthesised[] below, each with its rule
 *     from docs/policy.md / hypervisor/core/src/derive.cpp); those are asserted by name, and
 *     the rules that always fire (HYPERVISOR, X2APIC, HVM APIC) are asserted to fire;
 *  3. every derived policy passes cpupolicy_featureset_check_deps;
 *  4. levelling (see level_of_a_vendor_is_compatible_with_every_member for the pairs);
 *  5. serialise -> update into a fresh policy -> serialise is identical, every dump and
 *     every policy index;
 *  6. 1-5's invariants again on 300 deterministic perturbations of the dumps.
 */
#define _POSIX_C_SOURCE 200809L /* opendir/readdir under -std=c11 */
#include <dirent.h>

#include "check_common.h"

#define NR_DUMPS 20

static char dump_names[NR_DUMPS][256];
static int nr_dumps;

static int cmp_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Every regular *.txt of the directory except README; sorted, so runs are stable. */
static int list_dumps(void)
{
    DIR *dir = opendir(dumps_dir());
    struct dirent *e;

    if ( !dir )
        return -1;
    nr_dumps = 0;
    while ( (e = readdir(dir)) )
    {
        size_t n = strlen(e->d_name);
        if ( n < 5 || strcmp(e->d_name + n - 4, ".txt") || !strncmp(e->d_name, "README", 6) )
            continue;
        if ( nr_dumps == NR_DUMPS )
        {
            ++nr_dumps;  /* too many: reported by the caller */
            break;
        }
        snprintf(dump_names[nr_dumps++], sizeof(dump_names[0]), "%s", e->d_name);
    }
    closedir(dir);
    if ( nr_dumps <= NR_DUMPS )
        qsort(dump_names, (size_t)nr_dumps, sizeof(dump_names[0]), cmp_names);
    return 0;
}

typedef enum { V_INTEL, V_AMD, V_HYGON, NR_VENDORS } vendor_t;
static const char *const vendor_prefix[NR_VENDORS] = { "GenuineIntel", "AuthenticAMD",
                                                       "HygonGenuine" };
/* From the file name (InstLatx64 names files after the CPUID vendor string). */
static int vendor_of(const char *name)
{
    int v;
    for ( v = 0; v < NR_VENDORS; ++v )
        if ( !strncmp(name, vendor_prefix[v], strlen(vendor_prefix[v])) )
            return v;
    return -1;
}

static const char *const index_names[] = { "raw", "host", "pv-max", "hvm-max", "pv-default",
                                           "hvm-default" };

static cpupolicy_t *derive(const cpupolicy_t *raw, unsigned idx, const char *name)
{
    cpupolicy_t *p = alloc_policy();
    int rc = cpupolicy_derive(p, raw, idx, NULL);
    ck_assert_msg(rc == 0, "%s: derive %s expected 0, got %d", name, index_names[idx], rc);
    return p;
}

/* --- 0. the data set ----------------------------------------------------------------- */
START_TEST(dumps_directory_holds_the_twenty_dumps)
{
    int per_vendor[NR_VENDORS] = { 0 }, i, v;

    ck_assert_msg(nr_dumps == NR_DUMPS, "%s: expected %d dumps, found %d", dumps_dir(), NR_DUMPS,
                  nr_dumps);
    for ( i = 0; i < nr_dumps; ++i )
    {
        v = vendor_of(dump_names[i]);
        ck_assert_msg(v >= 0, "%s: vendor not recognised from the name", dump_names[i]);
        ++per_vendor[v];
    }
    /* README.md of the data set: Intel Nehalem-EP..Granite Rapids, AMD K10..Turin, Hygon. */
    ck_assert_msg(per_vendor[V_INTEL] == 11 && per_vendor[V_AMD] == 8 && per_vendor[V_HYGON] == 1,
                  "vendors: expected 11 Intel, 8 AMD, 1 Hygon, got %d, %d, %d",
                  per_vendor[V_INTEL], per_vendor[V_AMD], per_vendor[V_HYGON]);
}
END_TEST

/* --- 1. raw featureset == the leaves ------------------------------------------------------ */
START_TEST(raw_featureset_is_the_bits_read_from_the_leaves)
{
    const char *name = dump_names[_i];
    cpupolicy_t *raw = import_dump(name);
    cpupolicy_msr_t msrs[8];
    uint32_t fs[NR_WORDS], nr_msrs = 8, nr_leaves = 0, w, i;
    uint64_t arch_caps = 0;
    int found = 0, rc;

    pol_fs(raw, fs);
    rc = cpupolicy_serialise(raw, NULL, &nr_leaves, msrs, &nr_msrs);
    ck_assert_msg(rc == 0, "%s: serialise expected 0, got %d", name, rc);
    for ( i = 0; i < nr_msrs; ++i )
        if ( msrs[i].idx == 0x10a )
        {
            arch_caps = msrs[i].val;
            ++found;
        }
    ck_assert_msg(found == 1, "%s: MSR 0x10a expected once in the serialised MSRs, got %d", name,
                  found);

    for ( w = 0; w < NR_WORDS; ++w )
    {
        /* Where each featureset word lives: Xen's cpufeatureset.h word order. */
        word_loc_t loc = word_loc(w);
        uint32_t expect;
        if ( loc.msr != NONE )
        {
            ck_assert_msg(loc.msr == 0x10a, "test bug: word %u in MSR %#x", w, loc.msr);
            expect = (uint32_t)(loc.reg ? arch_caps >> 32 : arch_caps);
        }
        else
        {
            cpupolicy_leaf_t l = cpuid_of(raw, loc.leaf, loc.subleaf);
            expect = leaf_reg(&l, loc.reg);
        }
        ck_assert_msg(fs[w] == expect, "%s: word %u (%#x:%#x.%c / MSR %#x): expected %08x, got %08x",
                      name, w, loc.leaf, loc.subleaf, "abcd"[loc.reg], loc.msr, expect, fs[w]);
    }
    cpupolicy_free(raw);
}
END_TEST

/* --- 2./3. the derivation chain ---------------------------------------------------------------- */
/* Features a max (and so possibly a default) policy offers although the host policy lacks
 * them, with the rule that synthesises each (docs/policy.md; derive.cpp names the rule). */
/* seen: whether the twenty dumps exercise the rule (0: every host already has the
 * feature, or the rule's condition never holds for them). */
static const struct { const char *name; int hvm_only, seen; const char *rule; } synthesised[] = {
    { "hypervisor", 0, 1, "GUEST-COMMON: a guest is told it runs on a hypervisor" },
    { "x2apic", 0, 1, "PV-MAX/HVM-MAX: the (x2)APIC a guest sees is emulated" },
    { "apic", 1, 0, "HVM-MAX: HVM guests always get an emulated local APIC" },
    { "htt", 0, 0, "GUEST-MAX: topology is the toolstack's choice, max allows it" },
    { "cmp-legacy", 0, 1, "GUEST-MAX: as htt" },
    { "arch-caps", 0, 1, "GUEST-MAX (Intel): ARCH_CAPS is virtualised for migration safety" },
    { "rsba", 0, 1, "GUEST-MAX (Intel): a guest may migrate to an RSBA host" },
    { "rrsba", 0, 0, "GUEST-MAX (Intel): as rsba" },
    { "md-clear", 0, 1, "GUEST-MAX (Intel): VERW flushing may be needed after migration" },
    { "fb-clear", 0, 1, "GUEST-MAX (Intel): as md-clear" },
    { "rfds-clear", 0, 1, "GUEST-MAX (Intel): as md-clear" },
    { "rtm-always-abort", 0, 1, "GUEST-MAX: with RTM, TSX may be de-featured on the target" },
    { "stibp", 0, 0, "GUEST-COMMON: implied by IBRSB" },
    { "amd-stibp", 0, 0, "GUEST-COMMON: implied by IBRS" },
    { "ibpb", 0, 1, "GUEST-COMMON: the host's IBRSB provides IBPB" },
    { "clwb", 0, 1, "GUEST-MAX (Skylake-X): hidden from the host by GDS microcode, not guests" },
    { "no-lmsl", 1, 1, "HVM-MAX: long mode segment limits are not enforced by Xen" },
    { "sep", 1, 1, "HVM-MAX (AMD): SYSENTER is emulated for HVM guests" },
    { "virt-ssbd", 1, 1, "HVM-MAX (AMD): VIRT_SPEC_CTRL.SSBD is implemented by Xen" },
};

static int is_synthesised(uint32_t f, int hvm)
{
    unsigned i;
    for ( i = 0; i < sizeof(synthesised) / sizeof(synthesised[0]); ++i )
        if ( (hvm || !synthesised[i].hvm_only) && feature(synthesised[i].name) == f )
            return 1;
    return 0;
}

/* a <= b; with `allow_synth`, features of a outside b must be synthesised ones. */
static void assert_subset(const uint32_t *a, const uint32_t *b, const char *dump, const char *an,
                          const char *bn, int allow_synth, int hvm)
{
    uint32_t f;
    for ( f = 0; f < NR_WORDS * 32; ++f )
        ck_assert_msg(!test_bit(a, f) || test_bit(b, f) || (allow_synth && is_synthesised(f, hvm)),
                      "%s: %s should be within %s, but has %u (%s)%s", dump, an, bn, f,
                      cpupolicy_feature_name(f), allow_synth ? ", not a synthesised feature" : "");
}

static void assert_deps(const uint32_t *fs, const char *dump, const char *idx)
{
    uint32_t bad = 0;
    int rc = cpupolicy_featureset_check_deps(fs, NR_WORDS, &bad);
    ck_assert_msg(rc == 0, "%s %s: check_deps expected 0, got %d: %u (%s) lacks a prerequisite",
                  dump, idx, rc, bad, cpupolicy_feature_name(bad));
}

START_TEST(default_within_max_within_host_within_raw_and_deps_hold)
{
    const char *name = dump_names[_i];
    cpupolicy_t *raw = import_dump(name), *p[6];
    uint32_t fs[6][NR_WORDS];
    unsigned idx;
    int hvm;

    for ( idx = 0; idx < 6; ++idx )
    {
        p[idx] = derive(raw, idx, name);
        pol_fs(p[idx], fs[idx]);
        if ( idx != CPUPOLICY_RAW )
            assert_deps(fs[idx], name, index_names[idx]);
    }
    assert_subset(fs[CPUPOLICY_HOST], fs[CPUPOLICY_RAW], name, "host", "raw", 0, 0);
    for ( hvm = 0; hvm <= 1; ++hvm )
    {
        unsigned max = hvm ? CPUPOLICY_HVM_MAX : CPUPOLICY_PV_MAX;
        unsigned def = hvm ? CPUPOLICY_HVM_DEFAULT : CPUPOLICY_PV_DEFAULT;
        assert_subset(fs[def], fs[max], name, index_names[def], index_names[max], 0, hvm);
        assert_subset(fs[max], fs[CPUPOLICY_HOST], name, index_names[max], "host", 1, hvm);
        /* The rules that always fire. */
        ck_assert_msg(test_bit(fs[max], feature("hypervisor")) &&
                      test_bit(fs[def], feature("hypervisor")),
                      "%s: %s/%s should set hypervisor", name, index_names[max], index_names[def]);
        ck_assert_msg(test_bit(fs[max], feature("x2apic")), "%s: %s should offer x2apic", name,
                      index_names[max]);
        ck_assert_msg(!hvm || test_bit(fs[max], feature("apic")), "%s: hvm-max should offer apic",
                      name);
    }
    /* Never synthesised: raw and host report the CPU. */
    ck_assert_msg(!test_bit(fs[CPUPOLICY_HOST], feature("hypervisor")),
                  "%s: host should not have hypervisor (real hardware)", name);
    for ( idx = 0; idx < 6; ++idx )
        cpupolicy_free(p[idx]);
    cpupolicy_free(raw);
}
END_TEST

START_TEST(every_default_runs_on_its_own_max)
{
    const char *name = dump_names[_i];
    cpupolicy_t *raw = import_dump(name);
    static const unsigned pairs[][2] = {
        { CPUPOLICY_PV_MAX, CPUPOLICY_PV_DEFAULT }, { CPUPOLICY_HVM_MAX, CPUPOLICY_HVM_DEFAULT },
        { CPUPOLICY_PV_MAX, CPUPOLICY_PV_MAX },     { CPUPOLICY_HVM_MAX, CPUPOLICY_HVM_MAX },
        { CPUPOLICY_HOST, CPUPOLICY_HOST },
    };
    unsigned i;

    for ( i = 0; i < sizeof(pairs) / sizeof(pairs[0]); ++i )
    {
        cpupolicy_t *h = derive(raw, pairs[i][0], name), *g = derive(raw, pairs[i][1], name);
        cpupolicy_err_t e;
        int rc = cpupolicy_is_compatible(h, g, &e);
        ck_assert_msg(rc == 0, "%s: %s on %s: expected 0, got %d at %#x:%#x msr %#x", name,
                      index_names[pairs[i][1]], index_names[pairs[i][0]], rc, e.leaf, e.subleaf,
                      e.msr);
        cpupolicy_free(h);
        cpupolicy_free(g);
    }
    cpupolicy_free(raw);
}
END_TEST

/* The exception list is exact for these dumps: an entry marked seen is synthesised (in
 * a max policy, absent from that dump's host policy) by at least one dump for each guest
 * type it is listed for, and an entry marked unseen by none; HVM-only ones never for PV. */
START_TEST(every_listed_exception_is_synthesised_by_some_dump)
{
    uint32_t seen[2][NR_WORDS] = { { 0 } };
    char report[2048] = "";
    unsigned i, w;
    int d, hvm;

    for ( d = 0; d < nr_dumps; ++d )
    {
        cpupolicy_t *raw = import_dump(dump_names[d]);
        uint32_t host[NR_WORDS], max[NR_WORDS];
        cpupolicy_t *h = derive(raw, CPUPOLICY_HOST, dump_names[d]);
        pol_fs(h, host);
        cpupolicy_free(h);
        for ( hvm = 0; hvm <= 1; ++hvm )
        {
            cpupolicy_t *m = derive(raw, hvm ? CPUPOLICY_HVM_MAX : CPUPOLICY_PV_MAX, dump_names[d]);
            pol_fs(m, max);
            for ( w = 0; w < NR_WORDS; ++w )
                seen[hvm][w] |= max[w] & ~host[w];
            cpupolicy_free(m);
        }
        cpupolicy_free(raw);
    }
    for ( i = 0; i < sizeof(synthesised) / sizeof(synthesised[0]); ++i )
    {
        uint32_t f = feature(synthesised[i].name);
        int pv_seen = test_bit(seen[0], f), hvm_seen = test_bit(seen[1], f);
        char line[200];
        line[0] = 0;
        if ( !synthesised[i].seen && (hvm_seen || pv_seen) )
            snprintf(line, sizeof(line), " %s: now synthesised by a dump, mark it seen;",
                     synthesised[i].name);
        else if ( synthesised[i].seen && !hvm_seen )
            snprintf(line, sizeof(line), " %s: never synthesised for HVM;", synthesised[i].name);
        else if ( synthesised[i].seen && !synthesised[i].hvm_only && !pv_seen )
            snprintf(line, sizeof(line), " %s: never synthesised for PV;", synthesised[i].name);
        else if ( synthesised[i].hvm_only && pv_seen )
            snprintf(line, sizeof(line), " %s: HVM-only but PV synthesises it;", synthesised[i].name);
        if ( strlen(report) + strlen(line) < sizeof(report) )
            strcat(report, line);
    }
    ck_assert_msg(!report[0], "exception list vs the dumps:%s", report);
}
END_TEST

/* --- 4. levelling -------------------------------------------------------------------------- */
/*
 * Which pairs: a pool levels what its hosts *offer* - their max policies - and the result
 * is the policy guests are given, so each host's max must accept it:
 *     is_compatible(max_i, level(max_1..max_n)) for every member i, PV and HVM.
 * A pool levelled from default policies (a conservative toolstack) must equally be
 * accepted by every member's max, and by construction by every member's default:
 *     is_compatible(max_i, level(default_1..n)), is_compatible(default_i, level(default..)).
 * Raw and host policies describe hardware, not what a guest is offered, and are not
 * levelled here.  Levelling crosses no vendor (the ABI refuses it), so each vendor's
 * dumps form one pool: 11 Intel, 8 AMD, and Hygon alone (a pool of one is itself).
 */
static void level_and_check(int vendor, unsigned in_idx, unsigned host_idx)
{
    cpupolicy_t *raws[NR_DUMPS], *in[NR_DUMPS], *hosts[NR_DUMPS], *level = alloc_policy();
    const char *names[NR_DUMPS];
    uint32_t n = 0, bad = 77, i;
    int rc;

    for ( i = 0; i < (uint32_t)nr_dumps; ++i )
    {
        if ( vendor_of(dump_names[i]) != vendor )
            continue;
        names[n] = dump_names[i];
        raws[n] = import_dump(dump_names[i]);
        in[n] = derive(raws[n], in_idx, dump_names[i]);
        hosts[n] = derive(raws[n], host_idx, dump_names[i]);
        ++n;
    }
    ck_assert_msg(n > 0, "no dumps of vendor %s", vendor_prefix[vendor]);
    rc = cpupolicy_calc_compatible(level, (const cpupolicy_t *const *)in, n, &bad);
    ck_assert_msg(rc == 0 && bad == NONE, "%s: level of %u %s: expected 0/~0, got %d/%u",
                  vendor_prefix[vendor], n, index_names[in_idx], rc, bad);
    for ( i = 0; i < n; ++i )
    {
        cpupolicy_err_t e;
        uint32_t missing[NR_WORDS] = { 0 };
        rc = cpupolicy_is_compatible(hosts[i], level, &e);
        if ( rc )
            (void)cpupolicy_missing_features(hosts[i], level, missing, NR_WORDS);
        ck_assert_msg(rc == 0, "%s (%s) refuses the level of the %s %s policies: %d at %#x:%#x "
                      "msr %#x; first missing word %08x %08x %08x %08x %08x %08x %08x",
                      names[i], index_names[host_idx], vendor_prefix[vendor], index_names[in_idx],
                      rc, e.leaf, e.subleaf, e.msr, missing[0], missing[1], missing[2],
                      missing[3], missing[4], missing[5], missing[6]);
    }
    for ( i = 0; i < n; ++i )
    {
        cpupolicy_free(raws[i]);
        cpupolicy_free(in[i]);
        cpupolicy_free(hosts[i]);
    }
    cpupolicy_free(level);
}

static const unsigned level_pairs[][2] = {
    /* { levelled index, host index } */
    { CPUPOLICY_HVM_MAX, CPUPOLICY_HVM_MAX },         { CPUPOLICY_PV_MAX, CPUPOLICY_PV_MAX },
    { CPUPOLICY_HVM_DEFAULT, CPUPOLICY_HVM_MAX },     { CPUPOLICY_PV_DEFAULT, CPUPOLICY_PV_MAX },
    { CPUPOLICY_HVM_DEFAULT, CPUPOLICY_HVM_DEFAULT }, { CPUPOLICY_PV_DEFAULT, CPUPOLICY_PV_DEFAULT },
};
#define NR_LEVEL_PAIRS ((int)(sizeof(level_pairs) / sizeof(level_pairs[0])))

START_TEST(level_of_a_vendor_is_compatible_with_every_member)
{
    int vendor = _i / NR_LEVEL_PAIRS, pair = _i % NR_LEVEL_PAIRS;
    level_and_check(vendor, level_pairs[pair][0], level_pairs[pair][1]);
}
END_TEST

START_TEST(levelling_across_vendors_names_the_first_odd_one)
{
    /* One Intel dump first, then every AMD and Hygon dump: bad_index is 1, the first
     * input whose vendor differs from in[0]'s. */
    cpupolicy_t *raws[NR_DUMPS] = { 0 }, *in[NR_DUMPS] = { 0 }, *out = alloc_policy(), *t;
    uint32_t n = 1, bad = 77, i;
    int rc, pass;

    for ( pass = 0; pass < 2; ++pass )
        for ( i = 0; i < (uint32_t)nr_dumps; ++i )
        {
            int v = vendor_of(dump_names[i]);
            uint32_t at = n;
            if ( pass == 0 && v == V_INTEL && !raws[0] )
                at = 0;
            else if ( pass == 0 || v == V_INTEL )
                continue;
            raws[at] = import_dump(dump_names[i]);
            in[at] = derive(raws[at], CPUPOLICY_HVM_MAX, dump_names[i]);
            if ( at )
                ++n;
            if ( pass == 0 )
                break;
        }
    ck_assert_msg(n == 10, "expected 1 Intel + 9 AMD/Hygon inputs, got %u", n);
    rc = cpupolicy_calc_compatible(out, (const cpupolicy_t *const *)in, n, &bad);
    ck_assert_msg(rc == -EINVAL, "Intel + AMD/Hygon: expected -EINVAL, got %d", rc);
    ck_assert_msg(bad == 1, "bad_index: expected 1, got %u", bad);
    /* Hygon after Intel alone: refused too (Hygon is not Intel, even if AMD-like). */
    t = in[1];
    in[1] = in[n - 1];
    in[n - 1] = t;
    rc = cpupolicy_calc_compatible(out, (const cpupolicy_t *const *)in, 2, &bad);
    ck_assert_msg(rc == -EINVAL && bad == 1, "Intel + %s: expected -EINVAL/1, got %d/%u",
                  dump_names[nr_dumps - 1], rc, bad);
    for ( i = 0; i < n; ++i )
    {
        cpupolicy_free(raws[i]);
        cpupolicy_free(in[i]);
    }
    cpupolicy_free(out);
}
END_TEST

/* --- 5. round trip ---------------------------------------------------------------------------- */
START_TEST(round_trip_is_identical_for_every_index)
{
    const char *name = dump_names[_i];
    cpupolicy_t *raw = import_dump(name);
    static cpupolicy_leaf_t a[512], b[512];
    cpupolicy_msr_t ma[8], mb[8];
    unsigned idx;

    for ( idx = 0; idx < 6; ++idx )
    {
        cpupolicy_t *p = derive(raw, idx, name), *q = alloc_policy();
        uint32_t na = 512, nb = 512, nma = 8, nmb = 8, i;
        cpupolicy_err_t e;
        int rc;

        rc = cpupolicy_serialise(p, a, &na, ma, &nma);
        ck_assert_msg(rc == 0, "%s %s: serialise expected 0, got %d", name, index_names[idx], rc);
        rc = cpupolicy_update_cpuid(q, a, na, &e);
        ck_assert_msg(rc == 0, "%s %s: update_cpuid expected 0, got %d at %#x:%#x", name,
                      index_names[idx], rc, e.leaf, e.subleaf);
        rc = cpupolicy_update_msrs(q, ma, nma, &e);
        ck_assert_msg(rc == 0, "%s %s: update_msrs expected 0, got %d at msr %#x", name,
                      index_names[idx], rc, e.msr);
        rc = cpupolicy_serialise(q, b, &nb, mb, &nmb);
        ck_assert_msg(rc == 0 && na == nb && nma == nmb,
                      "%s %s: counts expected %u/%u, got %u/%u", name, index_names[idx], na, nma,
                      nb, nmb);
        for ( i = 0; i < na; ++i )
            ck_assert_msg(!memcmp(&a[i], &b[i], sizeof(a[i])),
                          "%s %s: entry %u: expected %08x:%08x -> %08x:%08x:%08x:%08x, got "
                          "%08x:%08x -> %08x:%08x:%08x:%08x", name, index_names[idx], i,
                          a[i].leaf, a[i].subleaf, a[i].a, a[i].b, a[i].c, a[i].d, b[i].leaf,
                          b[i].subleaf, b[i].a, b[i].b, b[i].c, b[i].d);
        for ( i = 0; i < nma; ++i )
            ck_assert_msg(ma[i].idx == mb[i].idx && ma[i].val == mb[i].val && !mb[i].flags,
                          "%s %s: MSR %u differs", name, index_names[idx], i);
        cpupolicy_free(p);
        cpupolicy_free(q);
    }
    cpupolicy_free(raw);
}
END_TEST

/* --- 6. the same properties on perturbed dumps ------------------------------------------- */
/*
 * Real CPUs are not the only input: a toolstack hands the library policies from
 * migration streams and hand-edited configs.  Deterministic perturbations of the dumps
 * (random bit flips and random register values, biased towards the leaves the rules
 * read most: 0, 7, 0xd, 0x14, 0x1d, 0x24, 0x80000000, 0x80000008; random ARCH_CAPS)
 * must keep: every index derives, every derived featureset passes check_deps, the wire
 * round trip is identical, default runs on its own max, and the level of {max, default}
 * is accepted by both.  xorshift64 with a fixed seed: a failure names its iteration and
 * reproduces.
 */
static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

START_TEST(perturbed_dumps_keep_the_invariants)
{
    static cpupolicy_leaf_t l[512], a[512], b[512];
    cpupolicy_msr_t m[8], ma[8], mb[8];
    int it;

    rng_state = 0x9e3779b97f4a7c15ull + (uint64_t)_i;
    for ( it = 0; it < 60; ++it )
    {
        const char *name = dump_names[(unsigned)(_i * 60 + it) % (unsigned)nr_dumps];
        cpupolicy_t *raw = import_dump(name), *p[6];
        uint32_t nl = 512, nm = 8, k, nmut = rnd() % 40, idx;
        cpupolicy_err_t e;
        int rc;

        rc = cpupolicy_serialise(raw, l, &nl, m, &nm);
        ck_assert_msg(rc == 0, "serialise %s: %d", name, rc);
        for ( k = 0; k < nmut; ++k )
        {
            cpupolicy_leaf_t *x = &l[rnd() % nl];
            uint32_t *r, j;
            if ( rnd() % 2 )
                for ( j = 0; j < nl; ++j )
                {
                    uint32_t lf = l[j].leaf;
                    if ( (lf == 0 || lf == 7 || lf == 0xd || lf == 0x14 || lf == 0x1d ||
                          lf == 0x24 || lf == 0x80000000u || lf == 0x80000008u) && rnd() % 3 == 0 )
                    {
                        x = &l[j];
                        break;
                    }
                }
            r = k % 4 == 0 ? &x->a : k % 4 == 1 ? &x->b : k % 4 == 2 ? &x->c : &x->d;
            if ( rnd() % 3 == 0 )
                *r = rnd();
            else
                *r ^= 1u << (rnd() % 32);
        }
        /* No clamp on XSAVE component sizes/offsets: the core's xsave size sums are
         * 64-bit and saturating, so sizes near 2^32 (mutated 0xd:n EAX/EBX) must keep
         * default compatible with max like any other input. */
        for ( k = 0; k < nm; ++k )
            if ( m[k].idx == 0x10a && rnd() % 4 == 0 )
                m[k].val = (uint64_t)rnd() << 32 | rnd();
        rc = cpupolicy_update_cpuid(raw, l, nl, &e);
        ck_assert_msg(rc == 0, "iteration %d (%s): update_cpuid %d at %#x:%#x", it, name, rc,
                      e.leaf, e.subleaf);
        rc = cpupolicy_update_msrs(raw, m, nm, &e);
        ck_assert_msg(rc == 0, "iteration %d (%s): update_msrs %d", it, name, rc);

        for ( idx = 0; idx < 6; ++idx )
        {
            uint32_t fs[NR_WORDS], na = 512, nb = 512, nma = 8, nmb = 8, bad = 0;
            cpupolicy_t *q;
            p[idx] = derive(raw, idx, name);
            if ( idx == CPUPOLICY_RAW )
                continue;
            pol_fs(p[idx], fs);
            rc = cpupolicy_featureset_check_deps(fs, NR_WORDS, &bad);
            ck_assert_msg(rc == 0, "iteration %d (%s) %s: %u (%s) lacks a prerequisite", it, name,
                          index_names[idx], bad, cpupolicy_feature_name(bad));
            q = alloc_policy();
            rc = cpupolicy_serialise(p[idx], a, &na, ma, &nma);
            rc = rc ? rc : cpupolicy_update_cpuid(q, a, na, &e);
            rc = rc ? rc : cpupolicy_update_msrs(q, ma, nma, &e);
            rc = rc ? rc : cpupolicy_serialise(q, b, &nb, mb, &nmb);
            ck_assert_msg(rc == 0 && na == nb && !memcmp(a, b, na * sizeof(a[0])) &&
                          !memcmp(ma, mb, nma * sizeof(ma[0])),
                          "iteration %d (%s) %s: round trip differs (rc %d)", it, name,
                          index_names[idx], rc);
            cpupolicy_free(q);
        }
        for ( idx = 0; idx < 2; ++idx )
        {
            cpupolicy_t *max = p[idx ? CPUPOLICY_HVM_MAX : CPUPOLICY_PV_MAX];
            cpupolicy_t *def = p[idx ? CPUPOLICY_HVM_DEFAULT : CPUPOLICY_PV_DEFAULT];
            const cpupolicy_t *in[2];
            cpupolicy_t *lv = alloc_policy();
            uint32_t bad = 0;
            rc = cpupolicy_is_compatible(max, def, &e);
            ck_assert_msg(rc == 0, "iteration %d (%s): %s default on its max: %d at %#x:%#x msr %#x",
                          it, name, idx ? "HVM" : "PV", rc, e.leaf, e.subleaf, e.msr);
            in[0] = max;
            in[1] = def;
            rc = cpupolicy_calc_compatible(lv, in, 2, &bad);
            ck_assert_msg(rc == 0, "iteration %d (%s): level {max, default}: %d", it, name, rc);
            for ( k = 0; k < 2; ++k )
            {
                rc = cpupolicy_is_compatible(in[k], lv, &e);
                ck_assert_msg(rc == 0, "iteration %d (%s): level refused by input %u: %d at "
                              "%#x:%#x msr %#x", it, name, k, rc, e.leaf, e.subleaf, e.msr);
            }
            cpupolicy_free(lv);
        }
        for ( idx = 0; idx < 6; ++idx )
            cpupolicy_free(p[idx]);
        cpupolicy_free(raw);
    }
}
END_TEST

static Suite *dumps_suite(void)
{
    Suite *s = suite_create("cpupolicy properties over the dumps");
    TCase *tc;
    int n = nr_dumps <= NR_DUMPS ? nr_dumps : NR_DUMPS;

    tc = tcase_create("data");
    tcase_add_test(tc, dumps_directory_holds_the_twenty_dumps);
    suite_add_tcase(s, tc);

    tc = tcase_create("featureset");
    tcase_add_loop_test(tc, raw_featureset_is_the_bits_read_from_the_leaves, 0, n);
    suite_add_tcase(s, tc);

    tc = tcase_create("derive");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, default_within_max_within_host_within_raw_and_deps_hold, 0, n);
    tcase_add_loop_test(tc, every_default_runs_on_its_own_max, 0, n);
    tcase_add_test(tc, every_listed_exception_is_synthesised_by_some_dump);
    suite_add_tcase(s, tc);

    tc = tcase_create("level");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, level_of_a_vendor_is_compatible_with_every_member, 0,
                        NR_VENDORS * NR_LEVEL_PAIRS);
    tcase_add_test(tc, levelling_across_vendors_names_the_first_odd_one);
    suite_add_tcase(s, tc);

    tc = tcase_create("wire");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, round_trip_is_identical_for_every_index, 0, n);
    suite_add_tcase(s, tc);

    tc = tcase_create("perturbed");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, perturbed_dumps_keep_the_invariants, 0, 5);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if ( list_dumps() )
    {
        printf("cannot open the dumps directory '%s' (CPUPOLICY_DUMPS)\n0 passed, 1 failed\n",
               dumps_dir());
        return EXIT_FAILURE;
    }
    return run_suite(dumps_suite());
}
