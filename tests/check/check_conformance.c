/* SPDX-License-Identifier: MIT */
/*
 * The backend conformance suite: what every way of reaching a hypervisor through a
 * cpupolicy_handle_t must do (cpupolicy.h, "A hypervisor, through a handle").  It uses
 * the public C ABI only and nothing backend specific (no cpupolicy_sim_* call), so the
 * same suite runs against the embedded simulator, a cpupolicyd ("unix:PATH") and a real
 * Xen ("xen:").
 *
 * Which hypervisors: env CPUPOLICY_URIS, a ';'-separated list of URIs (write "" for the
 * empty URI, the embedded hypervisor on this machine's CPU).  Default: three
 * embedded hosts chosen to differ in how they level (docs/hypervisor.md):
 *   Sandy Bridge-EP, 2 CPUs  - Intel masking MSRs, no CPUID faulting
 *                              (PLATFORM_INFO 0x00000c006c011a00: bit 31 clear);
 *   Haswell-EP, 2 CPUs       - CPUID faulting (PLATFORM_INFO 0x00080c33fb811700: bit 31);
 *   Milan, 2 CPUs            - AMD override MSRs, no CpuidUserDis (0x80000021.eax 0x204d).
 * Every test case is a Check loop test over the URIs (iteration i = URI i); failure
 * messages name the URI.
 *
 * Rules this suite holds a backend to (the header's contract, Xen's sysctl/domctl):
 *  - featuresets come in Xen's featureset order, which is not the policy order;
 *  - default ⊆ max ⊆ host ⊆ raw for PV and HVM, except the features docs/policy.md
 *    ("Synthesised features") lists as offered to guests without the host having them;
 *  - set_domain_policy is checked against the type's max policy and the dependency
 *    rules, is atomic, names the failing leaf/subleaf/MSR, and is refused once started;
 *  - errno is never changed (every call goes through E()/EP()/EV()).
 */
#define _POSIX_C_SOURCE 200809L
#include "handle_common.h"

#define MAX_URIS 64
static char *uris[MAX_URIS];
static int nr_uris;

/* For messages: the empty URI is this machine. */
static const char *uri_of(int i)
{
    return *uris[i] ? uris[i] : "\"\" (this machine)";
}
static cpupolicy_handle_t *open_uri(int i)
{
    return open_ok(uris[i]);
}

/* Policy index of each featureset index (Xen: XEN_SYSCTL_cpu_featureset_* vs
 * XEN_SYSCTL_cpu_policy_*). */
static const unsigned policy_of_fs[6] = {
    CPUPOLICY_RAW, CPUPOLICY_HOST, CPUPOLICY_PV_DEFAULT,
    CPUPOLICY_HVM_DEFAULT, CPUPOLICY_PV_MAX, CPUPOLICY_HVM_MAX,
};
static const char *const fs_index_name[6] = {
    "raw", "host", "pv-default", "hvm-default", "pv-max", "hvm-max",
};

/* --- featureset hypercall ---------------------------------------------------------- */

/* A NULL buffer asks for the word count: 19 for every index. */
START_TEST(featureset_null_buffer_gives_the_word_count)
{
    cpupolicy_handle_t *h = open_uri(_i);
    unsigned idx;
    for ( idx = 0; idx < 6; ++idx )
    {
        uint32_t nr = GUARD;
        int rc = E(cpupolicy_get_featureset(h, idx, &nr, NULL));
        ck_assert_msg(rc == 0 && nr == NR_WORDS,
                      "%s: get_featureset(%s, NULL): expected 0 and %u words, got %d and %u",
                      uri_of(_i), fs_index_name[idx], NR_WORDS, rc, nr);
    }
    close_handle(h);
}
END_TEST

/* A short buffer gets what fits (equal to the full read's first words, nothing written
 * beyond) and -ENOBUFS; a long one gets all 19 words and 0. */
START_TEST(featureset_short_buffer_is_enobufs_with_what_fits_copied)
{
    cpupolicy_handle_t *h = open_uri(_i);
    unsigned idx;
    for ( idx = 0; idx < 6; ++idx )
    {
        uint32_t full[NR_WORDS], buf[NR_WORDS + 8], nr, cap, i;
        get_fs(h, idx, full);
        for ( cap = 0; cap <= NR_WORDS + 8; ++cap )
        {
            int rc, want = cap < NR_WORDS ? -ENOBUFS : 0;
            uint32_t want_nr = cap < NR_WORDS ? cap : NR_WORDS;
            for ( i = 0; i < NR_WORDS + 8; ++i )
                buf[i] = GUARD;
            nr = cap;
            rc = E(cpupolicy_get_featureset(h, idx, &nr, buf));
            ck_assert_msg(rc == want && nr == want_nr,
                          "%s: get_featureset(%s) into %u words: expected rc %d nr %u, got %d %u",
                          uri_of(_i), fs_index_name[idx], cap, want, want_nr, rc, nr);
            for ( i = 0; i < want_nr; ++i )
                ck_assert_msg(buf[i] == full[i],
                              "%s: %s word %u of a %u-word read: expected %08x, got %08x",
                              uri_of(_i), fs_index_name[idx], i, cap, full[i], buf[i]);
            for ( ; i < NR_WORDS + 8; ++i )
                ck_assert_msg(buf[i] == GUARD,
                              "%s: %s %u-word read wrote word %u: expected %08x left, got %08x",
                              uri_of(_i), fs_index_name[idx], cap, i, GUARD, buf[i]);
        }
    }
    close_handle(h);
}
END_TEST

START_TEST(featureset_bad_index_and_missing_count_are_einval)
{
    static const unsigned bad[] = { 6, 7, 255, 0x80000000u, 0xffffffffu };
    cpupolicy_handle_t *h = open_uri(_i);
    cpupolicy_t *p = alloc_policy();
    uint32_t fs[NR_WORDS], nr, caps;
    int i;
    for ( i = 0; i < N(bad); ++i )
    {
        nr = NR_WORDS;
        RC(-EINVAL, cpupolicy_get_featureset(h, bad[i], &nr, fs));
        nr = GUARD;
        RC(-EINVAL, cpupolicy_get_featureset(h, bad[i], &nr, NULL));
        RC(-EINVAL, cpupolicy_get_system_policy(h, bad[i], p));
        RC(-EINVAL, cpupolicy_verify_featureset(h, bad[i], fs, 0, NULL));
    }
    RC(-EINVAL, cpupolicy_get_featureset(h, CPUPOLICY_FEATURESET_HOST, NULL, fs));
    RC(-EINVAL, cpupolicy_get_featureset(h, CPUPOLICY_FEATURESET_HOST, NULL, NULL));
    RC(-EINVAL, cpupolicy_get_system_policy(h, CPUPOLICY_HOST, NULL));
    RC(-EINVAL, cpupolicy_get_levelling_caps(h, NULL));
    RC(0, cpupolicy_get_levelling_caps(h, &caps));
    EV(cpupolicy_free(p));
    close_handle(h);
}
END_TEST

/* Featureset index i is the featureset of system policy policy_of_fs[i] - not of policy
 * index i: FEATURESET_PV_MAX (4) is policy PV_MAX (2), and so on.  The six sets must
 * differ where the order differs, or a swap would pass unnoticed. */
START_TEST(featureset_indices_are_xens_order_not_the_policy_order)
{
    cpupolicy_handle_t *h = open_uri(_i);
    uint32_t fs[6][NR_WORDS], pfs[NR_WORDS];
    unsigned idx;
    for ( idx = 0; idx < 6; ++idx )
    {
        cpupolicy_t *p = sys_policy(h, policy_of_fs[idx]);
        get_fs(h, idx, fs[idx]);
        pol_fs(p, pfs);
        ck_assert_msg(fs_equal(fs[idx], pfs),
                      "%s: featureset %s != featureset of policy %u: featureset has extra {%s}",
                      uri_of(_i), fs_index_name[idx], policy_of_fs[idx],
                      (fs_andnot(pfs, fs[idx], pfs), fs_names(pfs)));
        EV(cpupolicy_free(p));
    }
    /* The pairs a policy-order mix-up would swap. */
    ck_assert_msg(!fs_equal(fs[CPUPOLICY_FEATURESET_PV_DEFAULT], fs[CPUPOLICY_FEATURESET_PV_MAX]),
                  "%s: pv-default equals pv-max; expected max-only features", uri_of(_i));
    ck_assert_msg(!fs_equal(fs[CPUPOLICY_FEATURESET_HVM_DEFAULT], fs[CPUPOLICY_FEATURESET_HVM_MAX]),
                  "%s: hvm-default equals hvm-max; expected max-only features", uri_of(_i));
    ck_assert_msg(!fs_equal(fs[CPUPOLICY_FEATURESET_PV_MAX], fs[CPUPOLICY_FEATURESET_HVM_MAX]),
                  "%s: pv-max equals hvm-max; expected HVM-only features", uri_of(_i));
    close_handle(h);
}
END_TEST

/* --- system policies ----------------------------------------------------------------- */

/* Features a guest policy may have although the host lacks them (docs/policy.md,
 * "Synthesised features"). */
enum { SYN_DEFAULT = 1, SYN_MAX = 2, SYN_PV = 4, SYN_HVM = 8 };
static const struct {
    const char *name;
    unsigned where; /* SYN_DEFAULT|SYN_MAX and SYN_PV|SYN_HVM */
} synthesised[] = {
    { "hypervisor", SYN_DEFAULT | SYN_MAX | SYN_PV | SYN_HVM },
    { "stibp", SYN_DEFAULT | SYN_MAX | SYN_PV | SYN_HVM },
    { "amd-stibp", SYN_DEFAULT | SYN_MAX | SYN_PV | SYN_HVM },
    { "ibpb", SYN_DEFAULT | SYN_MAX | SYN_PV | SYN_HVM },
    { "x2apic", SYN_MAX | SYN_PV },
    { "x2apic", SYN_DEFAULT | SYN_MAX | SYN_HVM },
    { "htt", SYN_MAX | SYN_PV | SYN_HVM },
    { "cmp-legacy", SYN_MAX | SYN_PV | SYN_HVM },
    { "arch-caps", SYN_DEFAULT | SYN_MAX | SYN_PV | SYN_HVM },
    { "rsba", SYN_DEFAULT | SYN_MAX | SYN_PV | SYN_HVM },
    { "rrsba", SYN_DEFAULT | SYN_MAX | SYN_PV | SYN_HVM },
    { "md-clear", SYN_MAX | SYN_PV | SYN_HVM },
    { "fb-clear", SYN_MAX | SYN_PV | SYN_HVM },
    { "rfds-clear", SYN_MAX | SYN_PV | SYN_HVM },
    { "rtm-always-abort", SYN_DEFAULT | SYN_MAX | SYN_PV | SYN_HVM },
    { "clwb", SYN_MAX | SYN_PV | SYN_HVM },
    { "apic", SYN_DEFAULT | SYN_MAX | SYN_HVM },
    { "no-lmsl", SYN_DEFAULT | SYN_MAX | SYN_HVM },
    { "sep", SYN_DEFAULT | SYN_MAX | SYN_HVM },
    { "virt-ssbd", SYN_DEFAULT | SYN_MAX | SYN_HVM },
};
static void synthesised_set(uint32_t *fs, unsigned level, unsigned type)
{
    int i;
    memset(fs, 0, NR_WORDS * sizeof(*fs));
    for ( i = 0; i < N(synthesised); ++i )
        if ( (synthesised[i].where & level) && (synthesised[i].where & type) )
            set_bit(fs, feature(synthesised[i].name));
}

static void assert_subset(const char *uri, const char *inner, const uint32_t *in,
                          const char *outer, const uint32_t *out, const uint32_t *allowed)
{
    uint32_t extra[NR_WORDS], i;
    fs_andnot(extra, in, out);
    if ( allowed )
        for ( i = 0; i < NR_WORDS; ++i )
            extra[i] &= ~allowed[i];
    ck_assert_msg(fs_empty(extra), "%s: %s ⊆ %s: expected no extra features, got {%s}", uri,
                  inner, outer, fs_names(extra));
}

START_TEST(system_policies_nest_default_max_host_raw_except_synthesised)
{
    cpupolicy_handle_t *h = open_uri(_i);
    uint32_t raw[NR_WORDS], host[NR_WORDS], max[NR_WORDS], def[NR_WORDS];
    uint32_t syn_max[NR_WORDS], syn_def[NR_WORDS];
    int hvm;
    get_fs(h, CPUPOLICY_FEATURESET_RAW, raw);
    get_fs(h, CPUPOLICY_FEATURESET_HOST, host);
    assert_subset(uri_of(_i), "host", host, "raw", raw, NULL);
    for ( hvm = 0; hvm < 2; ++hvm )
    {
        unsigned type = hvm ? SYN_HVM : SYN_PV;
        get_fs(h, hvm ? CPUPOLICY_FEATURESET_HVM_MAX : CPUPOLICY_FEATURESET_PV_MAX, max);
        get_fs(h, hvm ? CPUPOLICY_FEATURESET_HVM_DEFAULT : CPUPOLICY_FEATURESET_PV_DEFAULT, def);
        synthesised_set(syn_max, SYN_MAX, type);
        synthesised_set(syn_def, SYN_DEFAULT, type);
        assert_subset(uri_of(_i), hvm ? "hvm-default" : "pv-default", def,
                      hvm ? "hvm-max" : "pv-max", max, NULL);
        assert_subset(uri_of(_i), hvm ? "hvm-max" : "pv-max", max, "host", host, syn_max);
        assert_subset(uri_of(_i), hvm ? "hvm-default" : "pv-default", def, "host", host, syn_def);
        /* Every guest is told it is virtualised (GUEST-COMMON). */
        ck_assert_msg(test_bit(def, feature("hypervisor")) && test_bit(max, feature("hypervisor")),
                      "%s: %s: expected hypervisor in default and max", uri_of(_i),
                      hvm ? "hvm" : "pv");
    }
    close_handle(h);
}
END_TEST

/* Derived policies never offer a feature without its prerequisites. */
START_TEST(guest_policies_pass_the_dependency_check)
{
    static const unsigned idx[] = { CPUPOLICY_FEATURESET_HOST, CPUPOLICY_FEATURESET_PV_DEFAULT,
                                    CPUPOLICY_FEATURESET_HVM_DEFAULT, CPUPOLICY_FEATURESET_PV_MAX,
                                    CPUPOLICY_FEATURESET_HVM_MAX };
    cpupolicy_handle_t *h = open_uri(_i);
    int i;
    for ( i = 0; i < N(idx); ++i )
    {
        uint32_t fs[NR_WORDS], bad = 0;
        int rc;
        get_fs(h, idx[i], fs);
        rc = E(cpupolicy_featureset_check_deps(fs, NR_WORDS, &bad));
        ck_assert_msg(rc == 0, "%s: %s: expected deps satisfied, got %d (feature %u %s)",
                      uri_of(_i), fs_index_name[idx[i]], rc, bad,
                      cpupolicy_feature_name(bad) ? cpupolicy_feature_name(bad) : "?");
    }
    close_handle(h);
}
END_TEST

/* Only the nine public bits; faulting wins over masking (Xen probes no masking MSR
 * once faulting works); the faulting bit agrees with the host policy's PLATFORM_INFO
 * bit 31, which the host keeps exactly when CPUID faulting is usable. */
START_TEST(levelling_caps_use_known_bits_and_agree_with_platform_info)
{
    cpupolicy_handle_t *h = open_uri(_i);
    cpupolicy_t *host = sys_policy(h, CPUPOLICY_HOST);
    uint32_t caps = GUARD;
    int policy_faulting;
    RC(0, cpupolicy_get_levelling_caps(h, &caps));
    ck_assert_msg((caps & ~0x1ffu) == 0, "%s: caps %#x: expected only bits 0..8", uri_of(_i), caps);
    if ( caps & CPUPOLICY_LCAP_FAULTING )
        ck_assert_msg(caps == CPUPOLICY_LCAP_FAULTING,
                      "%s: caps %#x: expected faulting alone (faulting wins)", uri_of(_i), caps);
    policy_faulting = (policy_msr(host, 0xce) >> 31) & 1;
    ck_assert_msg(policy_faulting == !!(caps & CPUPOLICY_LCAP_FAULTING),
                  "%s: host PLATFORM_INFO[31] = %d but caps %#x", uri_of(_i), policy_faulting, caps);
    EV(cpupolicy_free(host));
    close_handle(h);
}
END_TEST

/* --- domains ------------------------------------------------------------------------- */

START_TEST(domain_create_starts_from_the_type_default_policy)
{
    cpupolicy_handle_t *h = open_uri(_i);
    cpupolicy_t *pvdef = sys_policy(h, CPUPOLICY_PV_DEFAULT);
    cpupolicy_t *hvmdef = sys_policy(h, CPUPOLICY_HVM_DEFAULT);
    uint32_t pv = create_domain(h, CPUPOLICY_DOMAIN_PV);
    uint32_t hvm = create_domain(h, CPUPOLICY_DOMAIN_HVM);
    cpupolicy_t *p;
    char what[256];

    ck_assert_msg(pv != hvm, "%s: two domains got one domid %u", uri_of(_i), pv);
    p = dom_policy(h, pv);
    snprintf(what, sizeof(what), "%s: new PV domain vs pv-default", uri_of(_i));
    assert_same_policy(pvdef, p, what);
    EV(cpupolicy_free(p));
    p = dom_policy(h, hvm);
    snprintf(what, sizeof(what), "%s: new HVM domain vs hvm-default", uri_of(_i));
    assert_same_policy(hvmdef, p, what);
    EV(cpupolicy_free(p));

    EV(cpupolicy_free(pvdef));
    EV(cpupolicy_free(hvmdef));
    close_handle(h);
}
END_TEST

START_TEST(domain_create_refuses_a_bad_type)
{
    static const unsigned bad[] = { 2, 3, 0xffffffffu };
    cpupolicy_handle_t *h = open_uri(_i);
    uint32_t d;
    int i;
    for ( i = 0; i < N(bad); ++i )
        RC(-EINVAL, cpupolicy_domain_create(h, bad[i], &d));
    RC(-EINVAL, cpupolicy_domain_create(h, CPUPOLICY_DOMAIN_PV, NULL));
    close_handle(h);
}
END_TEST

/* The lowest-numbered known feature in a CPUID word that `max` lacks and whose
 * prerequisites `fs` has (so that only the max check can refuse it), or NONE. */
static uint32_t feature_beyond(const uint32_t *fs, const uint32_t *max)
{
    const uint32_t *known = EP(cpupolicy_static_featuremask(CPUPOLICY_MASK_KNOWN));
    uint32_t f, t[NR_WORDS], bad;
    for ( f = 0; f < NR_BITS; ++f )
    {
        if ( !test_bit(known, f) || test_bit(max, f) || word_loc(f / 32).msr != NONE )
            continue;
        memcpy(t, fs, sizeof(t));
        set_bit(t, f);
        if ( E(cpupolicy_featureset_check_deps(t, NR_WORDS, &bad)) == 0 )
            return f;
    }
    return NONE;
}

/* The lowest-numbered feature present in fs, in a CPUID word, with a dependent
 * present in fs; NONE if there is none. */
static uint32_t feature_with_dependent(const uint32_t *fs)
{
    uint32_t f, i, deps[NR_WORDS];
    for ( f = 0; f < NR_BITS; ++f )
    {
        if ( !test_bit(fs, f) || word_loc(f / 32).msr != NONE ||
             E(cpupolicy_feature_deps(f, deps, NR_WORDS)) != 0 )
            continue;
        for ( i = 0; i < NR_WORDS; ++i )
            if ( deps[i] & fs[i] )
                return f;
    }
    return NONE;
}

/* Beyond the type's max: -EINVAL, err = the leaf (and subleaf) holding the feature, and
 * the domain's policy stands as it was, for PV and HVM. */
START_TEST(set_domain_policy_beyond_max_is_einval_names_the_leaf_and_is_atomic)
{
    cpupolicy_handle_t *h = open_uri(_i);
    int hvm;
    for ( hvm = 0; hvm < 2; ++hvm )
    {
        uint32_t d = create_domain(h, hvm ? CPUPOLICY_DOMAIN_HVM : CPUPOLICY_DOMAIN_PV);
        uint32_t max[NR_WORDS], fs[NR_WORDS], f;
        cpupolicy_t *before = dom_policy(h, d), *p = dom_policy(h, d), *after;
        cpupolicy_err_t err;
        word_loc_t loc;
        char what[256];
        int rc;

        get_fs(h, hvm ? CPUPOLICY_FEATURESET_HVM_MAX : CPUPOLICY_FEATURESET_PV_MAX, max);
        pol_fs(p, fs);
        f = feature_beyond(fs, max);
        ck_assert_msg(f != NONE, "%s: no known feature beyond %s-max to try", uri_of(_i),
                      hvm ? "hvm" : "pv");
        set_bit(fs, f);
        RC(0, cpupolicy_policy_from_featureset(p, fs, NR_WORDS));

        memset(&err, 0, sizeof(err));
        rc = E(cpupolicy_set_domain_policy(h, d, p, &err));
        ck_assert_msg(rc == -EINVAL, "%s: %s domain given %s (beyond max): expected %d, got %d",
                      uri_of(_i), hvm ? "HVM" : "PV", cpupolicy_feature_name(f), -EINVAL, rc);
        loc = word_loc(f / 32);
        snprintf(what, sizeof(what), "%s: %s domain given %s", uri_of(_i), hvm ? "HVM" : "PV",
                 cpupolicy_feature_name(f));
        assert_err(&err, loc.leaf, loc.subleaf, loc.msr, what);
        after = dom_policy(h, d);
        snprintf(what, sizeof(what), "%s: %s domain after a refused policy", uri_of(_i),
                 hvm ? "HVM" : "PV");
        assert_same_policy(before, after, what);

        /* Without an error record: the same answer. */
        RC(-EINVAL, cpupolicy_set_domain_policy(h, d, p, NULL));
        RC(-EINVAL, cpupolicy_set_domain_policy(h, d, NULL, &err));
        assert_err(&err, NONE, NONE, NONE, "NULL policy");

        EV(cpupolicy_free(after));
        EV(cpupolicy_free(p));
        EV(cpupolicy_free(before));
    }
    close_handle(h);
}
END_TEST

/* Dropping a prerequisite while keeping its dependent: -EINVAL naming where the
 * dependent lives (the lowest-numbered feature left without a prerequisite, as
 * cpupolicy_featureset_check_deps finds it), and nothing changes. */
START_TEST(set_domain_policy_dependency_violation_is_einval_and_atomic)
{
    cpupolicy_handle_t *h = open_uri(_i);
    int hvm;
    for ( hvm = 0; hvm < 2; ++hvm )
    {
        uint32_t d = create_domain(h, hvm ? CPUPOLICY_DOMAIN_HVM : CPUPOLICY_DOMAIN_PV);
        uint32_t fs[NR_WORDS], f, bad = NONE;
        cpupolicy_t *before = dom_policy(h, d), *p = dom_policy(h, d), *after;
        cpupolicy_err_t err;
        word_loc_t loc;
        char what[256];
        int rc;

        pol_fs(p, fs);
        f = feature_with_dependent(fs);
        ck_assert_msg(f != NONE, "%s: no feature with a dependent in the default", uri_of(_i));
        clear_bit(fs, f);
        RC(-EINVAL, cpupolicy_featureset_check_deps(fs, NR_WORDS, &bad));
        RC(0, cpupolicy_policy_from_featureset(p, fs, NR_WORDS));

        rc = E(cpupolicy_set_domain_policy(h, d, p, &err));
        ck_assert_msg(rc == -EINVAL, "%s: %s domain without %s but with %s: expected %d, got %d",
                      uri_of(_i), hvm ? "HVM" : "PV", cpupolicy_feature_name(f),
                      cpupolicy_feature_name(bad), -EINVAL, rc);
        loc = word_loc(bad / 32);
        snprintf(what, sizeof(what), "%s: %s domain: %s without %s", uri_of(_i),
                 hvm ? "HVM" : "PV", cpupolicy_feature_name(bad), cpupolicy_feature_name(f));
        assert_err(&err, loc.leaf, loc.subleaf, loc.msr, what);
        after = dom_policy(h, d);
        assert_same_policy(before, after, what);
        EV(cpupolicy_free(after));
        EV(cpupolicy_free(p));
        EV(cpupolicy_free(before));
    }
    close_handle(h);
}
END_TEST

/* The max policy itself is acceptable, and the default can be put back exactly. */
START_TEST(set_domain_policy_accepts_max_and_restores_default)
{
    cpupolicy_handle_t *h = open_uri(_i);
    int hvm;
    for ( hvm = 0; hvm < 2; ++hvm )
    {
        uint32_t d = create_domain(h, hvm ? CPUPOLICY_DOMAIN_HVM : CPUPOLICY_DOMAIN_PV);
        cpupolicy_t *max = sys_policy(h, hvm ? CPUPOLICY_HVM_MAX : CPUPOLICY_PV_MAX);
        cpupolicy_t *def = sys_policy(h, hvm ? CPUPOLICY_HVM_DEFAULT : CPUPOLICY_PV_DEFAULT);
        cpupolicy_t *got;
        uint32_t a[NR_WORDS], b[NR_WORDS];
        cpupolicy_err_t err;
        char what[256];
        int rc = E(cpupolicy_set_domain_policy(h, d, max, &err));
        ck_assert_msg(rc == 0, "%s: %s domain given its max policy: expected 0, got %d "
                      "(leaf %#x subleaf %#x msr %#x)", uri_of(_i), hvm ? "HVM" : "PV", rc,
                      err.leaf, err.subleaf, err.msr);
        assert_err(&err, NONE, NONE, NONE, "successful set_domain_policy");
        pol_fs(max, a);
        dom_fs(h, d, b);
        ck_assert_msg(fs_equal(a, b), "%s: domain given max: missing {%s}", uri_of(_i),
                      (fs_andnot(a, a, b), fs_names(a)));
        RC(0, cpupolicy_set_domain_policy(h, d, def, NULL));
        got = dom_policy(h, d);
        snprintf(what, sizeof(what), "%s: %s domain given its default back", uri_of(_i),
                 hvm ? "HVM" : "PV");
        assert_same_policy(def, got, what);
        EV(cpupolicy_free(got));
        EV(cpupolicy_free(def));
        EV(cpupolicy_free(max));
    }
    close_handle(h);
}
END_TEST

START_TEST(started_domain_refuses_policy_changes_with_eexist)
{
    cpupolicy_handle_t *h = open_uri(_i);
    uint32_t d = create_domain(h, CPUPOLICY_DOMAIN_PV), fs[NR_WORDS];
    cpupolicy_t *before = dom_policy(h, d), *after;
    cpupolicy_err_t err;

    RC(0, cpupolicy_domain_start(h, d));
    RC(-EEXIST, cpupolicy_domain_start(h, d));
    RC(-EEXIST, cpupolicy_set_domain_policy(h, d, before, &err));
    assert_err(&err, NONE, NONE, NONE, "set_domain_policy on a started domain");
    pol_fs(before, fs);
    RC(-EEXIST, cpupolicy_set_featureset(h, d, fs, NR_WORDS, &err));
    assert_err(&err, NONE, NONE, NONE, "set_featureset on a started domain");
    after = dom_policy(h, d);
    assert_same_policy(before, after, "started domain after refused changes");
    EV(cpupolicy_free(after));
    EV(cpupolicy_free(before));
    close_handle(h);
}
END_TEST

START_TEST(destroyed_domain_is_esrch_everywhere)
{
    cpupolicy_handle_t *h = open_uri(_i);
    uint32_t d = create_domain(h, CPUPOLICY_DOMAIN_HVM), fs[NR_WORDS], d2;
    cpupolicy_t *p = dom_policy(h, d);
    cpupolicy_err_t err;

    pol_fs(p, fs);
    RC(0, cpupolicy_domain_destroy(h, d));
    RC(-ESRCH, cpupolicy_domain_destroy(h, d));
    RC(-ESRCH, cpupolicy_domain_start(h, d));
    RC(-ESRCH, cpupolicy_get_domain_policy(h, d, p));
    RC(-ESRCH, cpupolicy_set_domain_policy(h, d, p, &err));
    RC(-ESRCH, cpupolicy_set_featureset(h, d, fs, NR_WORDS, &err));
    /* A never-used domid, too. */
    RC(-ESRCH, cpupolicy_get_domain_policy(h, 0x7fefu, p));
    /* The next domain does not take the destroyed one's id (a stale id held by a
     * toolstack must not name a new domain). */
    d2 = create_domain(h, CPUPOLICY_DOMAIN_HVM);
    ck_assert_msg(d2 != d, "%s: new domain reused destroyed domid %u", uri_of(_i), d);
    EV(cpupolicy_free(p));
    close_handle(h);
}
END_TEST

/* --- featureset operations on domains ----------------------------------------------- */

/* Clearing avx2 (avx, sse4.2, or another feature with dependents on hosts without it) from an HVM domain's featureset takes
 * exactly that feature and its dependency closure away; every other feature stays. */
START_TEST(set_featureset_clearing_a_feature_takes_its_dependents)
{
    static const char *const candidates[] = { "avx2", "avx", "sse4-2" };
    cpupolicy_handle_t *h = open_uri(_i);
    uint32_t d = create_domain(h, CPUPOLICY_DOMAIN_HVM);
    uint32_t fs[NR_WORDS], deps[NR_WORDS], want[NR_WORDS], got[NR_WORDS], f = NONE, i;
    cpupolicy_err_t err;
    int c, rc;

    dom_fs(h, d, fs);
    for ( c = 0; c < N(candidates) && f == NONE; ++c )
        if ( test_bit(fs, feature(candidates[c])) )
            f = feature(candidates[c]);
    if ( f == NONE )
        f = feature_with_dependent(fs);
    ck_assert_msg(f != NONE, "%s: HVM default has no feature with a dependent", uri_of(_i));
    RC(0, cpupolicy_feature_deps(f, deps, NR_WORDS));
    set_bit(deps, f);
    fs_andnot(want, fs, deps);

    clear_bit(fs, f); /* dependents left in: the call must take them */
    rc = E(cpupolicy_set_featureset(h, d, fs, NR_WORDS, &err));
    ck_assert_msg(rc == 0, "%s: set_featureset without %s: expected 0, got %d (leaf %#x:%#x)",
                  uri_of(_i), cpupolicy_feature_name(f), rc, err.leaf, err.subleaf);
    dom_fs(h, d, got);
    for ( i = 0; i < NR_WORDS; ++i )
        ck_assert_msg(got[i] == want[i],
                      "%s: after clearing %s, word %u: expected %08x, got %08x "
                      "(removed {%s}, expected removed {%s})", uri_of(_i),
                      cpupolicy_feature_name(f), i, want[i], got[i],
                      (fs_andnot(fs, fs, got), fs_names(fs)), fs_names(deps));
    close_handle(h);
}
END_TEST

/* set_featureset goes through the same checks: beyond max is -EINVAL naming the leaf,
 * nonzero words beyond this build are -EOPNOTSUPP; both leave the policy alone. */
START_TEST(set_featureset_refusals_are_atomic)
{
    cpupolicy_handle_t *h = open_uri(_i);
    uint32_t d = create_domain(h, CPUPOLICY_DOMAIN_PV);
    uint32_t max[NR_WORDS], fs[NR_WORDS + 1], f;
    cpupolicy_t *before = dom_policy(h, d), *after;
    cpupolicy_err_t err;
    word_loc_t loc;

    get_fs(h, CPUPOLICY_FEATURESET_PV_MAX, max);
    pol_fs(before, fs);
    f = feature_beyond(fs, max);
    ck_assert_msg(f != NONE, "%s: no known feature beyond pv-max to try", uri_of(_i));
    set_bit(fs, f);
    RC(-EINVAL, cpupolicy_set_featureset(h, d, fs, NR_WORDS, &err));
    loc = word_loc(f / 32);
    assert_err(&err, loc.leaf, loc.subleaf, loc.msr, "set_featureset beyond max");

    pol_fs(before, fs);
    fs[NR_WORDS] = 1;
    RC(-EOPNOTSUPP, cpupolicy_set_featureset(h, d, fs, NR_WORDS + 1, &err));
    fs[NR_WORDS] = 0;
    RC(0, cpupolicy_set_featureset(h, d, fs, NR_WORDS + 1, &err));
    RC(-EINVAL, cpupolicy_set_featureset(h, d, NULL, NR_WORDS, &err));

    after = dom_policy(h, d);
    assert_same_policy(before, after, "domain after refused set_featureset calls");
    EV(cpupolicy_free(after));
    EV(cpupolicy_free(before));
    close_handle(h);
}
END_TEST

START_TEST(verify_featureset_accepts_max_names_what_it_cannot_offer)
{
    cpupolicy_handle_t *h = open_uri(_i);
    int hvm;
    for ( hvm = 0; hvm < 2; ++hvm )
    {
        unsigned idx = hvm ? CPUPOLICY_FEATURESET_HVM_MAX : CPUPOLICY_FEATURESET_PV_MAX;
        unsigned didx = hvm ? CPUPOLICY_FEATURESET_HVM_DEFAULT : CPUPOLICY_FEATURESET_PV_DEFAULT;
        uint32_t max[NR_WORDS + 1], def[NR_WORDS], fs[NR_WORDS + 1];
        uint32_t bad, want, f;
        int rc;

        get_fs(h, idx, max);
        get_fs(h, didx, def);
        max[NR_WORDS] = 0;

        bad = 0;
        RC(0, cpupolicy_verify_featureset(h, idx, max, NR_WORDS, &bad));
        ck_assert_msg(bad == NONE, "%s: verify(max) ok: bad_feature expected ~0, got %u",
                      uri_of(_i), bad);
        RC(0, cpupolicy_verify_featureset(h, idx, def, NR_WORDS, &bad));
        RC(0, cpupolicy_verify_featureset(h, idx, NULL, 0, &bad));
        RC(0, cpupolicy_verify_featureset(h, idx, max, NR_WORDS + 1, &bad));

        /* One extra feature, prerequisites satisfied: it is the one named. */
        memcpy(fs, max, sizeof(fs));
        f = feature_beyond(fs, max);
        ck_assert_msg(f != NONE, "%s: nothing known beyond max", uri_of(_i));
        set_bit(fs, f);
        rc = E(cpupolicy_verify_featureset(h, idx, fs, NR_WORDS, &bad));
        ck_assert_msg(rc == -EINVAL && bad == f,
                      "%s: verify(%s-max + %s): expected %d naming %u, got %d naming %u",
                      uri_of(_i), hvm ? "hvm" : "pv", cpupolicy_feature_name(f), -EINVAL, f,
                      rc, bad);
        /* Max with a prerequisite dropped: the lowest feature left without one. */
        memcpy(fs, max, sizeof(fs));
        f = feature_with_dependent(fs);
        ck_assert_msg(f != NONE, "%s: max has no feature with a present dependent", uri_of(_i));
        clear_bit(fs, f);
        RC(-EINVAL, cpupolicy_featureset_check_deps(fs, NR_WORDS, &want));
        rc = E(cpupolicy_verify_featureset(h, idx, fs, NR_WORDS, &bad));
        ck_assert_msg(rc == -EINVAL && bad == want,
                      "%s: verify(%s-max without %s): expected %d naming %s, got %d naming %u",
                      uri_of(_i), hvm ? "hvm" : "pv", cpupolicy_feature_name(f), -EINVAL,
                      cpupolicy_feature_name(want), rc, bad);
        /* A newer peer's features are never truncated into a pass. */
        memcpy(fs, max, sizeof(fs));
        fs[NR_WORDS] = 1;
        RC(-EOPNOTSUPP, cpupolicy_verify_featureset(h, idx, fs, NR_WORDS + 1, &bad));
        RC(-EINVAL, cpupolicy_verify_featureset(h, idx, NULL, 1, &bad));
    }
    close_handle(h);
}
END_TEST

/* --- a pool ------------------------------------------------------------------------- */

static void vendor_of(cpupolicy_handle_t *h, char out[13])
{
    cpupolicy_t *raw = sys_policy(h, CPUPOLICY_RAW);
    cpupolicy_leaf_t l0 = cpuid_of(raw, 0, NS);
    memcpy(out, &l0.b, 4);
    memcpy(out + 4, &l0.d, 4);
    memcpy(out + 8, &l0.c, 4);
    out[12] = '\0';
    EV(cpupolicy_free(raw));
}

/* What a toolstack does when a host joins a pool: read each host's HVM max featureset,
 * intersect, and give every domain the level.  Both domains then have exactly the level,
 * which each host's max contains.  The partner is the next URI of the same vendor (or
 * this URI again, through a second handle). */
START_TEST(pool_join_levels_two_hosts_to_one_featureset)
{
    cpupolicy_handle_t *h[2];
    char v0[13], v1[13];
    uint32_t max[2][NR_WORDS], level[NR_WORDS], got[2][NR_WORDS], extra[NR_WORDS], d[2], i;
    int k, partner = _i;

    h[0] = open_uri(_i);
    vendor_of(h[0], v0);
    for ( k = 1; k < nr_uris; ++k )
    {
        int j = (_i + k) % nr_uris;
        h[1] = open_uri(j);
        vendor_of(h[1], v1);
        close_handle(h[1]);
        if ( !strcmp(v0, v1) )
        {
            partner = j;
            break;
        }
    }
    h[1] = open_uri(partner);

    for ( k = 0; k < 2; ++k )
        get_fs(h[k], CPUPOLICY_FEATURESET_HVM_MAX, max[k]);
    for ( i = 0; i < NR_WORDS; ++i )
        level[i] = max[0][i] & max[1][i];
    for ( k = 0; k < 2; ++k )
    {
        cpupolicy_err_t err;
        int rc;
        RC(0, cpupolicy_verify_featureset(h[k], CPUPOLICY_FEATURESET_HVM_MAX, level, NR_WORDS,
                                          NULL));
        d[k] = create_domain(h[k], CPUPOLICY_DOMAIN_HVM);
        rc = E(cpupolicy_set_featureset(h[k], d[k], level, NR_WORDS, &err));
        ck_assert_msg(rc == 0, "%s: set_featureset(level): expected 0, got %d (leaf %#x:%#x)",
                      uri_of(k ? partner : _i), rc, err.leaf, err.subleaf);
        dom_fs(h[k], d[k], got[k]);
        fs_andnot(extra, got[k], max[k]);
        ck_assert_msg(fs_empty(extra), "%s: levelled domain beyond this host's max: {%s}",
                      uri_of(k ? partner : _i), fs_names(extra));
        RC(0, cpupolicy_domain_start(h[k], d[k]));
    }
    fs_andnot(extra, got[0], got[1]);
    ck_assert_msg(fs_equal(got[0], got[1]), "%s + %s: levelled domains differ: first has {%s}, "
                  "second has {%s}", uri_of(_i), uri_of(partner), fs_names(extra),
                  (fs_andnot(extra, got[1], got[0]), fs_names(extra)));
    ck_assert_msg(fs_equal(got[0], level), "%s: levelled domain is not the level: missing {%s}",
                  uri_of(_i), (fs_andnot(extra, level, got[0]), fs_names(extra)));
    close_handle(h[0]);
    close_handle(h[1]);
}
END_TEST

/* --- opening (not per URI) ------------------------------------------------------------ */

static const struct {
    const char *what;
    const char *uri; /* "%s" = the dumps directory */
    int rc;          /* 1: any negative value */
} bad_uris[] = {
    { "unknown scheme", "nosuch:thing", -EINVAL },
    { "no scheme", "just-words", -EINVAL },
    { "sim without options", "sim:", -EINVAL },
    { "sim with an empty dump", "sim:dump=", -EINVAL },
    { "sim with an unknown key", "sim:dump=%s/" DUMP_SNB ",colour=blue", -EINVAL },
    { "sim with a key before dump", "sim:bogus,dump=%s/" DUMP_SNB, -EINVAL },
    { "cpus=0", "sim:dump=%s/" DUMP_SNB ",cpus=0", -EINVAL },
    { "cpus=1000", "sim:dump=%s/" DUMP_SNB ",cpus=1000", -EINVAL },
    { "cpus=65", "sim:dump=%s/" DUMP_SNB ",cpus=65", -EINVAL },
    { "cpus=two", "sim:dump=%s/" DUMP_SNB ",cpus=two", -EINVAL },
    { "cpus=", "sim:dump=%s/" DUMP_SNB ",cpus=", -EINVAL },
    { "cpus=-1", "sim:dump=%s/" DUMP_SNB ",cpus=-1", -EINVAL },
    { "cpus=+2", "sim:dump=%s/" DUMP_SNB ",cpus=+2", -EINVAL },
    { "cpus given twice", "sim:dump=%s/" DUMP_SNB ",cpus=2,cpus=2", -EINVAL },
    { "dump given twice", "sim:dump=%s/" DUMP_SNB ",dump=%s/" DUMP_SNB, -EINVAL },
    { "a token continuing dump=", "sim:dump=%s/" DUMP_SNB ",extra", -EINVAL },
    { "missing dump", "sim:dump=%s/no-such-dump.txt", -ENOENT },
    { "missing directory", "sim:dump=/nonexistent-dir/x.txt", -ENOENT },
    { "unknown feature in boot", "sim:dump=%s/" DUMP_SNB ",boot=cpuid=no-notafeature", 1 },
    { "unknown boot option", "sim:dump=%s/" DUMP_SNB ",boot=frobnicate=1", 1 },
    { "bad boolean in boot", "sim:dump=%s/" DUMP_SNB ",boot=tsx=maybe", 1 },
};

START_TEST(open_refuses_bad_uris_with_a_reason)
{
    char uri[4096];
    cpupolicy_handle_t *h = (cpupolicy_handle_t *)&uri; /* a non-NULL sentinel */
    const char *why;
    int rc;

    snprintf(uri, sizeof(uri), bad_uris[_i].uri, dumps_dir(), dumps_dir());
    rc = E(cpupolicy_open(&h, uri));
    if ( bad_uris[_i].rc == 1 )
        ck_assert_msg(rc < 0, "%s: open(\"%s\"): expected a negative errno, got %d",
                      bad_uris[_i].what, uri, rc);
    else
        ck_assert_msg(rc == bad_uris[_i].rc, "%s: open(\"%s\"): expected %d, got %d",
                      bad_uris[_i].what, uri, bad_uris[_i].rc, rc);
    ck_assert_msg(h == NULL, "%s: *out after a failed open: expected NULL, got %p",
                  bad_uris[_i].what, (void *)h);
    why = EP(cpupolicy_last_open_error());
    ck_assert_msg(why && *why, "%s: last_open_error: expected a reason, got \"%s\"",
                  bad_uris[_i].what, why ? why : "(null)");
}
END_TEST

/* A successful open clears the previous failure's reason; NULL out is refused. */
START_TEST(open_success_clears_the_reason_and_null_out_is_einval)
{
    cpupolicy_handle_t *h = NULL;
    const char *why;
    RC(-EINVAL, cpupolicy_open(&h, "nosuch:thing"));
    why = EP(cpupolicy_last_open_error());
    ck_assert_msg(*why, "expected a reason after a failed open");
    h = open_ok(sim_uri(DUMP_SNB, ",cpus=3,boot=cpuid=no-avx,no-rtm"));
    why = EP(cpupolicy_last_open_error());
    ck_assert_msg(!*why, "after a successful open: expected \"\", got \"%s\"", why);
    close_handle(h);
    RC(-EINVAL, cpupolicy_open(NULL, sim_uri(DUMP_SNB, "")));
    EV(cpupolicy_close(NULL));
}
END_TEST

/* Boot options reach the simulated host: "boot=cpuid=no-avx,no-rtm" (the comma inside
 * the options belongs to them) takes exactly avx, rtm and their dependency closures
 * from the host featureset (docs/policy.md, BOOT-OPTIONS). */
START_TEST(open_passes_boot_options_through)
{
    cpupolicy_handle_t *plain = open_ok(sim_uri(DUMP_SNB, ""));
    cpupolicy_handle_t *noavx = open_ok(sim_uri(DUMP_SNB, ",boot=cpuid=no-avx,no-rtm,cpus=2"));
    uint32_t a[NR_WORDS], b[NR_WORDS], gone[NR_WORDS], want[NR_WORDS], deps[NR_WORDS], i;
    uint32_t avx = feature("avx"), rtm = feature("rtm");
    get_fs(plain, CPUPOLICY_FEATURESET_HOST, a);
    get_fs(noavx, CPUPOLICY_FEATURESET_HOST, b);
    ck_assert_msg(test_bit(a, avx), "premise: Sandy Bridge host has avx");
    RC(0, cpupolicy_feature_deps(avx, want, NR_WORDS));
    set_bit(want, avx);
    RC(0, cpupolicy_feature_deps(rtm, deps, NR_WORDS));
    set_bit(deps, rtm);
    for ( i = 0; i < NR_WORDS; ++i )
        want[i] = (want[i] | deps[i]) & a[i];
    fs_andnot(gone, a, b);
    ck_assert_msg(fs_equal(gone, want), "no-avx,no-rtm: expected {%s} gone, got {%s} gone",
                  fs_names(want), fs_names(gone));
    fs_andnot(gone, b, a);
    ck_assert_msg(fs_empty(gone), "no-avx,no-rtm: host gained {%s}", fs_names(gone));
    close_handle(plain);
    close_handle(noavx);
}
END_TEST

/* Every entry point refuses a NULL handle with -EINVAL (and leaves errno alone). */
START_TEST(null_handle_is_einval_everywhere)
{
    uint32_t nr = NR_WORDS, fs[NR_WORDS] = { 0 }, d, caps, bad;
    cpupolicy_t *p = alloc_policy();
    cpupolicy_err_t err;
    RC(-EINVAL, cpupolicy_get_featureset(NULL, 0, &nr, fs));
    RC(-EINVAL, cpupolicy_set_featureset(NULL, 1, fs, NR_WORDS, &err));
    assert_err(&err, NONE, NONE, NONE, "set_featureset(NULL handle)");
    RC(-EINVAL, cpupolicy_verify_featureset(NULL, 0, fs, NR_WORDS, &bad));
    ck_assert_msg(bad == NONE, "verify_featureset(NULL handle): bad_feature expected ~0, got %u", bad);
    RC(-EINVAL, cpupolicy_get_levelling_caps(NULL, &caps));
    RC(-EINVAL, cpupolicy_get_system_policy(NULL, 0, p));
    RC(-EINVAL, cpupolicy_domain_create(NULL, 0, &d));
    RC(-EINVAL, cpupolicy_domain_start(NULL, 1));
    RC(-EINVAL, cpupolicy_domain_destroy(NULL, 1));
    RC(-EINVAL, cpupolicy_get_domain_policy(NULL, 1, p));
    RC(-EINVAL, cpupolicy_set_domain_policy(NULL, 1, p, &err));
    assert_err(&err, NONE, NONE, NONE, "set_domain_policy(NULL handle)");
    EV(cpupolicy_free(p));
}
END_TEST

/* --- suite ------------------------------------------------------------------------------ */

static void add_uris(void)
{
    const char *env = getenv("CPUPOLICY_URIS");
    char *copy, *save = NULL, *tok;
    if ( !env || !*env )
    {
        uris[nr_uris++] = strdup(sim_uri(DUMP_SNB, ",cpus=2"));
        uris[nr_uris++] = strdup(sim_uri(DUMP_HSW, ",cpus=2"));
        uris[nr_uris++] = strdup(sim_uri(DUMP_MILAN, ",cpus=2"));
        return;
    }
    copy = strdup(env);
    for ( tok = strtok_r(copy, ";", &save); tok && nr_uris < MAX_URIS;
          tok = strtok_r(NULL, ";", &save) )
        uris[nr_uris++] = strdup(strcmp(tok, "\"\"") ? tok : ""); /* "" = this machine */
    free(copy);
}

static Suite *conformance_suite(void)
{
    Suite *s = suite_create("conformance");
    TCase *tc;

    tc = tcase_create("featureset");
    tcase_add_loop_test(tc, featureset_null_buffer_gives_the_word_count, 0, nr_uris);
    tcase_add_loop_test(tc, featureset_short_buffer_is_enobufs_with_what_fits_copied, 0, nr_uris);
    tcase_add_loop_test(tc, featureset_bad_index_and_missing_count_are_einval, 0, nr_uris);
    tcase_add_loop_test(tc, featureset_indices_are_xens_order_not_the_policy_order, 0, nr_uris);
    suite_add_tcase(s, tc);

    tc = tcase_create("system");
    tcase_add_loop_test(tc, system_policies_nest_default_max_host_raw_except_synthesised, 0,
                        nr_uris);
    tcase_add_loop_test(tc, guest_policies_pass_the_dependency_check, 0, nr_uris);
    tcase_add_loop_test(tc, levelling_caps_use_known_bits_and_agree_with_platform_info, 0,
                        nr_uris);
    suite_add_tcase(s, tc);

    tc = tcase_create("domain");
    tcase_add_loop_test(tc, domain_create_starts_from_the_type_default_policy, 0, nr_uris);
    tcase_add_loop_test(tc, domain_create_refuses_a_bad_type, 0, nr_uris);
    tcase_add_loop_test(tc, set_domain_policy_beyond_max_is_einval_names_the_leaf_and_is_atomic,
                        0, nr_uris);
    tcase_add_loop_test(tc, set_domain_policy_dependency_violation_is_einval_and_atomic, 0,
                        nr_uris);
    tcase_add_loop_test(tc, set_domain_policy_accepts_max_and_restores_default, 0, nr_uris);
    tcase_add_loop_test(tc, started_domain_refuses_policy_changes_with_eexist, 0, nr_uris);
    tcase_add_loop_test(tc, destroyed_domain_is_esrch_everywhere, 0, nr_uris);
    suite_add_tcase(s, tc);

    tc = tcase_create("featureset-ops");
    tcase_add_loop_test(tc, set_featureset_clearing_a_feature_takes_its_dependents, 0, nr_uris);
    tcase_add_loop_test(tc, set_featureset_refusals_are_atomic, 0, nr_uris);
    tcase_add_loop_test(tc, verify_featureset_accepts_max_names_what_it_cannot_offer, 0, nr_uris);
    tcase_add_loop_test(tc, pool_join_levels_two_hosts_to_one_featureset, 0, nr_uris);
    suite_add_tcase(s, tc);

    tc = tcase_create("open");
    tcase_add_loop_test(tc, open_refuses_bad_uris_with_a_reason, 0, N(bad_uris));
    tcase_add_test(tc, open_success_clears_the_reason_and_null_out_is_einval);
    tcase_add_test(tc, open_passes_boot_options_through);
    tcase_add_test(tc, null_handle_is_einval_everywhere);
    suite_add_tcase(s, tc);

    return s;
}

int main(void)
{
    SRunner *sr;
    int run, failed, i;

    add_uris();
    for ( i = 0; i < nr_uris; ++i )
        printf("URI %d: %s\n", i, uri_of(i));
    sr = srunner_create(conformance_suite());
    srunner_run_all(sr, CK_NORMAL);
    run = srunner_ntests_run(sr);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    for ( i = 0; i < nr_uris; ++i )
        free(uris[i]);
    printf("%d passed, %d failed\n", run - failed, failed);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
