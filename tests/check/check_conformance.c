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
 * Every test case is a Check loop test over the URIs (iteration i = URI i, or
 * 2 * URI + domain type for the tests run once per domain type); failure messages name
 * the URI.
 *
 * Backends that cannot create domains.  A real Xen's domains are a toolstack's (libxl's)
 * to create, so the "xen:" backend answers -EOPNOTSUPP to domain_create/_start/_destroy.
 * main() asks each URI once, before any test runs (creating a PV domain and destroying
 * it again), and for a URI that answers -EOPNOTSUPP:
 *  - the domain life-cycle tests (create, start, destroy) are not run: each is listed
 *    as "SKIP test [URI]: reason" and counted in the closing "N skipped", never as a
 *    pass; a test instead holds the backend to saying -EOPNOTSUPP for the whole
 *    life-cycle, consistently;
 *  - the policy tests that need a domain run against the domain named by env
 *    CPUPOLICY_TEST_DOMID=DOMID[:pv|:hvm] (on a real Xen: a test domain the operator
 *    created paused, e.g. `xl create -p`, so that its policy may still change), for
 *    that domain's type only; without the type it is inferred from which max featureset
 *    holds the domain's.  Each such test first puts the domain's policy back to what it
 *    was when the suite started, and main() puts it back at the end.  Without
 *    CPUPOLICY_TEST_DOMID those tests are skipped, saying so;
 *  - everything else (featuresets, system policies, levelling caps, verify, unknown
 *    domids) runs as on any backend.
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

/* What each URI's backend can do with domains: probed once by main() before the tests,
 * whose forked processes inherit it. */
static struct {
    int can_create;      /* domain_create works (0: it answered -EOPNOTSUPP) */
    int has_test_domain; /* CPUPOLICY_TEST_DOMID names a usable domain here */
    uint32_t test_domid;
    unsigned test_type;  /* CPUPOLICY_DOMAIN_PV or _HVM */
    cpupolicy_t *test_policy; /* the test domain's policy when the suite started */
    char why[512];       /* why domain tests are skipped on this URI */
} backend[MAX_URIS];

static const char *type_name(unsigned type)
{
    return type == CPUPOLICY_DOMAIN_PV ? "pv" : "hvm";
}

/* Iterations of the tests run once per domain type: 2 * URI + type. */
#define URI_OF(i) ((i) / 2)
#define TYPE_OF(i) ((unsigned)(i) % 2u)

/* A domain of `type` for a policy test on URI u: a new one where the backend creates
 * domains (destroyed again by close_handle), else the operator's test domain with the
 * policy it had when the suite started put back first.  Only called for (URI, type)
 * pairs main() registered, so the test domain is then of this type. */
static uint32_t policy_test_domain(cpupolicy_handle_t *h, int u, unsigned type)
{
    cpupolicy_err_t err;
    int rc;
    if ( backend[u].can_create )
        return create_domain(h, type);
    ck_assert_msg(backend[u].has_test_domain && backend[u].test_type == type,
                  "%s: no %s domain to test with (registration error)", uri_of(u),
                  type_name(type));
    rc = E(cpupolicy_set_domain_policy(h, backend[u].test_domid, backend[u].test_policy, &err));
    ck_assert_msg(rc == 0, "%s: putting test domain d%u's policy back: expected 0, got %d "
                  "(leaf %#x subleaf %#x msr %#x)", uri_of(u), backend[u].test_domid, rc,
                  err.leaf, err.subleaf, err.msr);
    return backend[u].test_domid;
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

/* The count rule (cpupolicy.h): *nr out is the complete answer's word count (19) on
 * success and on -ENOBUFS alike (before 1.1 a short buffer stored the words written).  A
 * short buffer gets what fits (equal to the full read's first words, nothing written
 * beyond) and -ENOBUFS; a long one gets all 19 words and 0. */
START_TEST(featureset_short_buffer_is_enobufs_with_the_required_count)
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
            uint32_t want_nr = NR_WORDS, nr_copied = cap < NR_WORDS ? cap : NR_WORDS;
            for ( i = 0; i < NR_WORDS + 8; ++i )
                buf[i] = GUARD;
            nr = cap;
            rc = E(cpupolicy_get_featureset(h, idx, &nr, buf));
            ck_assert_msg(rc == want && nr == want_nr,
                          "%s: get_featureset(%s) into %u words: expected rc %d nr %u, got %d %u",
                          uri_of(_i), fs_index_name[idx], cap, want, want_nr, rc, nr);
            for ( i = 0; i < nr_copied; ++i )
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
        RC(-EINVAL, cpupolicy_featureset_fits_max(h, bad[i], fs, 0, NULL));
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
 * the domain's policy stands as it was; once per domain type. */
START_TEST(set_domain_policy_beyond_max_is_einval_names_the_leaf_and_is_atomic)
{
    const int u = URI_OF(_i);
    const unsigned type = TYPE_OF(_i), hvm = type == CPUPOLICY_DOMAIN_HVM;
    cpupolicy_handle_t *h = open_uri(u);
    uint32_t d = policy_test_domain(h, u, type);
    uint32_t max[NR_WORDS], fs[NR_WORDS], f;
    cpupolicy_t *before = dom_policy(h, d), *p = dom_policy(h, d), *after;
    cpupolicy_err_t err;
    word_loc_t loc;
    char what[256];
    int rc;

    get_fs(h, hvm ? CPUPOLICY_FEATURESET_HVM_MAX : CPUPOLICY_FEATURESET_PV_MAX, max);
    pol_fs(p, fs);
    f = feature_beyond(fs, max);
    ck_assert_msg(f != NONE, "%s: no known feature beyond %s-max to try", uri_of(u),
                  type_name(type));
    set_bit(fs, f);
    RC(0, cpupolicy_policy_from_featureset(p, fs, NR_WORDS));

    memset(&err, 0, sizeof(err));
    rc = E(cpupolicy_set_domain_policy(h, d, p, &err));
    ck_assert_msg(rc == -EINVAL, "%s: %s domain d%u given %s (beyond max): expected %d, got %d",
                  uri_of(u), type_name(type), d, cpupolicy_feature_name(f), -EINVAL, rc);
    loc = word_loc(f / 32);
    snprintf(what, sizeof(what), "%s: %s domain given %s", uri_of(u), type_name(type),
             cpupolicy_feature_name(f));
    assert_err(&err, loc.leaf, loc.subleaf, loc.msr, what);
    after = dom_policy(h, d);
    snprintf(what, sizeof(what), "%s: %s domain after a refused policy", uri_of(u),
             type_name(type));
    assert_same_policy(before, after, what);

    /* Without an error record: the same answer. */
    RC(-EINVAL, cpupolicy_set_domain_policy(h, d, p, NULL));
    RC(-EINVAL, cpupolicy_set_domain_policy(h, d, NULL, &err));
    assert_err(&err, NONE, NONE, NONE, "NULL policy");

    EV(cpupolicy_free(after));
    EV(cpupolicy_free(p));
    EV(cpupolicy_free(before));
    close_handle(h);
}
END_TEST

/* Dropping a prerequisite while keeping its dependent: -EINVAL naming where the
 * dependent lives (the lowest-numbered feature left without a prerequisite, as
 * cpupolicy_featureset_check_deps finds it), and nothing changes. */
START_TEST(set_domain_policy_dependency_violation_is_einval_and_atomic)
{
    const int u = URI_OF(_i);
    const unsigned type = TYPE_OF(_i);
    cpupolicy_handle_t *h = open_uri(u);
    uint32_t d = policy_test_domain(h, u, type);
    uint32_t fs[NR_WORDS], f, bad = NONE;
    cpupolicy_t *before = dom_policy(h, d), *p = dom_policy(h, d), *after;
    cpupolicy_err_t err;
    word_loc_t loc;
    char what[256];
    int rc;

    pol_fs(p, fs);
    f = feature_with_dependent(fs);
    ck_assert_msg(f != NONE, "%s: no feature with a dependent in d%u's policy", uri_of(u), d);
    clear_bit(fs, f);
    RC(-EINVAL, cpupolicy_featureset_check_deps(fs, NR_WORDS, &bad));
    RC(0, cpupolicy_policy_from_featureset(p, fs, NR_WORDS));

    rc = E(cpupolicy_set_domain_policy(h, d, p, &err));
    ck_assert_msg(rc == -EINVAL, "%s: %s domain without %s but with %s: expected %d, got %d",
                  uri_of(u), type_name(type), cpupolicy_feature_name(f),
                  cpupolicy_feature_name(bad), -EINVAL, rc);
    loc = word_loc(bad / 32);
    snprintf(what, sizeof(what), "%s: %s domain: %s without %s", uri_of(u), type_name(type),
             cpupolicy_feature_name(bad), cpupolicy_feature_name(f));
    assert_err(&err, loc.leaf, loc.subleaf, loc.msr, what);
    after = dom_policy(h, d);
    assert_same_policy(before, after, what);
    EV(cpupolicy_free(after));
    EV(cpupolicy_free(p));
    EV(cpupolicy_free(before));
    close_handle(h);
}
END_TEST

/* The max policy itself is acceptable, and the policy the domain had (a new domain's:
 * the type default) can be put back exactly. */
START_TEST(set_domain_policy_accepts_max_and_restores_the_previous_policy)
{
    const int u = URI_OF(_i);
    const unsigned type = TYPE_OF(_i), hvm = type == CPUPOLICY_DOMAIN_HVM;
    cpupolicy_handle_t *h = open_uri(u);
    uint32_t d = policy_test_domain(h, u, type);
    cpupolicy_t *max = sys_policy(h, hvm ? CPUPOLICY_HVM_MAX : CPUPOLICY_PV_MAX);
    cpupolicy_t *prev = dom_policy(h, d);
    cpupolicy_t *got;
    uint32_t a[NR_WORDS], b[NR_WORDS];
    cpupolicy_err_t err;
    char what[256];
    int rc = E(cpupolicy_set_domain_policy(h, d, max, &err));
    ck_assert_msg(rc == 0, "%s: %s domain given its max policy: expected 0, got %d "
                  "(leaf %#x subleaf %#x msr %#x)", uri_of(u), type_name(type), rc,
                  err.leaf, err.subleaf, err.msr);
    assert_err(&err, NONE, NONE, NONE, "successful set_domain_policy");
    pol_fs(max, a);
    dom_fs(h, d, b);
    ck_assert_msg(fs_equal(a, b), "%s: domain given max: missing {%s}", uri_of(u),
                  (fs_andnot(a, a, b), fs_names(a)));
    RC(0, cpupolicy_set_domain_policy(h, d, prev, NULL));
    got = dom_policy(h, d);
    snprintf(what, sizeof(what), "%s: %s domain given its previous policy back", uri_of(u),
             type_name(type));
    assert_same_policy(prev, got, what);
    EV(cpupolicy_free(got));
    EV(cpupolicy_free(prev));
    EV(cpupolicy_free(max));
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
    /* The next domain does not take the destroyed one's id (a stale id held by a
     * toolstack must not name a new domain). */
    d2 = create_domain(h, CPUPOLICY_DOMAIN_HVM);
    ck_assert_msg(d2 != d, "%s: new domain reused destroyed domid %u", uri_of(_i), d);
    EV(cpupolicy_free(p));
    close_handle(h);
}
END_TEST

/* A domid nothing has used is -ESRCH for every policy call, on every backend.  0x7fef is
 * the last ordinary domid (Xen's DOMID_FIRST_RESERVED is 0x7ff0): no toolstack reaches
 * it in a test run, and no backend may read it as "the caller's own domain". */
START_TEST(unknown_domid_is_esrch_for_policy_calls)
{
    cpupolicy_handle_t *h = open_uri(_i);
    cpupolicy_t *p = sys_policy(h, CPUPOLICY_PV_DEFAULT);
    uint32_t fs[NR_WORDS];
    cpupolicy_err_t err;
    pol_fs(p, fs);
    RC(-ESRCH, cpupolicy_get_domain_policy(h, 0x7fefu, p));
    RC(-ESRCH, cpupolicy_set_domain_policy(h, 0x7fefu, p, &err));
    RC(-ESRCH, cpupolicy_set_featureset(h, 0x7fefu, fs, NR_WORDS, &err));
    EV(cpupolicy_free(p));
    close_handle(h);
}
END_TEST

/* Only where the probe found that domain_create answers -EOPNOTSUPP: the whole
 * life-cycle says so, every time, for both types, and *domid is left alone - a
 * backend must not half-support domains.  Start and destroy are asked about domid
 * 0x7fef, never about an operator's domain, so a backend that did destroy domains could
 * harm nothing here. */
START_TEST(backend_without_domain_creation_refuses_the_whole_life_cycle)
{
    cpupolicy_handle_t *h = open_uri(_i);
    unsigned type;
    for ( type = CPUPOLICY_DOMAIN_PV; type <= CPUPOLICY_DOMAIN_HVM; ++type )
    {
        uint32_t d = GUARD;
        int rc = E(cpupolicy_domain_create(h, type, &d));
        ck_assert_msg(rc == -EOPNOTSUPP && d == GUARD,
                      "%s: domain_create(%s): expected %d and domid untouched (%#x), got %d "
                      "and %#x", uri_of(_i), type_name(type), -EOPNOTSUPP, GUARD, rc, d);
    }
    RC(-EOPNOTSUPP, cpupolicy_domain_start(h, 0x7fefu));
    RC(-EOPNOTSUPP, cpupolicy_domain_destroy(h, 0x7fefu));
    close_handle(h);
}
END_TEST

/* --- featureset operations on domains ----------------------------------------------- */

/* Clearing avx2 (avx, sse4.2, or another feature with dependents on hosts without them)
 * from a domain's featureset takes exactly that feature and its dependency closure away;
 * every other feature stays.  Once per domain type. */
START_TEST(set_featureset_clearing_a_feature_takes_its_dependents)
{
    static const char *const candidates[] = { "avx2", "avx", "sse4-2" };
    const int u = URI_OF(_i);
    const unsigned type = TYPE_OF(_i);
    cpupolicy_handle_t *h = open_uri(u);
    uint32_t d = policy_test_domain(h, u, type);
    uint32_t fs[NR_WORDS], deps[NR_WORDS], want[NR_WORDS], got[NR_WORDS], f = NONE, i;
    cpupolicy_err_t err;
    int c, rc;

    dom_fs(h, d, fs);
    for ( c = 0; c < N(candidates) && f == NONE; ++c )
        if ( test_bit(fs, feature(candidates[c])) )
            f = feature(candidates[c]);
    if ( f == NONE )
        f = feature_with_dependent(fs);
    ck_assert_msg(f != NONE, "%s: %s domain d%u has no feature with a dependent", uri_of(u),
                  type_name(type), d);
    RC(0, cpupolicy_feature_deps(f, deps, NR_WORDS));
    set_bit(deps, f);
    fs_andnot(want, fs, deps);

    clear_bit(fs, f); /* dependents left in: the call must take them */
    rc = E(cpupolicy_set_featureset(h, d, fs, NR_WORDS, &err));
    ck_assert_msg(rc == 0, "%s: %s domain: set_featureset without %s: expected 0, got %d "
                  "(leaf %#x:%#x)", uri_of(u), type_name(type), cpupolicy_feature_name(f), rc,
                  err.leaf, err.subleaf);
    dom_fs(h, d, got);
    for ( i = 0; i < NR_WORDS; ++i )
        ck_assert_msg(got[i] == want[i],
                      "%s: %s domain: after clearing %s, word %u: expected %08x, got %08x "
                      "(removed {%s}, expected removed {%s})", uri_of(u), type_name(type),
                      cpupolicy_feature_name(f), i, want[i], got[i],
                      (fs_andnot(fs, fs, got), fs_names(fs)), fs_names(deps));
    close_handle(h);
}
END_TEST

/* set_featureset goes through the same checks: beyond max is -EINVAL naming the leaf,
 * nonzero words beyond this build are -EOPNOTSUPP; both leave the policy alone.  Once
 * per domain type. */
START_TEST(set_featureset_refusals_are_atomic)
{
    const int u = URI_OF(_i);
    const unsigned type = TYPE_OF(_i), hvm = type == CPUPOLICY_DOMAIN_HVM;
    cpupolicy_handle_t *h = open_uri(u);
    uint32_t d = policy_test_domain(h, u, type);
    uint32_t max[NR_WORDS], fs[NR_WORDS + 1], f;
    cpupolicy_t *before = dom_policy(h, d), *after;
    cpupolicy_err_t err;
    word_loc_t loc;
    char what[256];

    get_fs(h, hvm ? CPUPOLICY_FEATURESET_HVM_MAX : CPUPOLICY_FEATURESET_PV_MAX, max);
    pol_fs(before, fs);
    f = feature_beyond(fs, max);
    ck_assert_msg(f != NONE, "%s: no known feature beyond %s-max to try", uri_of(u),
                  type_name(type));
    set_bit(fs, f);
    RC(-EINVAL, cpupolicy_set_featureset(h, d, fs, NR_WORDS, &err));
    loc = word_loc(f / 32);
    snprintf(what, sizeof(what), "%s: %s domain: set_featureset beyond max (%s)", uri_of(u),
             type_name(type), cpupolicy_feature_name(f));
    assert_err(&err, loc.leaf, loc.subleaf, loc.msr, what);

    pol_fs(before, fs);
    fs[NR_WORDS] = 1;
    RC(-EOPNOTSUPP, cpupolicy_set_featureset(h, d, fs, NR_WORDS + 1, &err));
    fs[NR_WORDS] = 0;
    RC(0, cpupolicy_set_featureset(h, d, fs, NR_WORDS + 1, &err));
    RC(-EINVAL, cpupolicy_set_featureset(h, d, NULL, NR_WORDS, &err));

    after = dom_policy(h, d);
    snprintf(what, sizeof(what), "%s: %s domain after refused set_featureset calls", uri_of(u),
             type_name(type));
    assert_same_policy(before, after, what);
    EV(cpupolicy_free(after));
    EV(cpupolicy_free(before));
    close_handle(h);
}
END_TEST

START_TEST(featureset_fits_max_accepts_max_names_what_it_cannot_offer)
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
        RC(0, cpupolicy_featureset_fits_max(h, idx, max, NR_WORDS, &bad));
        ck_assert_msg(bad == NONE, "%s: verify(max) ok: bad_feature expected ~0, got %u",
                      uri_of(_i), bad);
        RC(0, cpupolicy_featureset_fits_max(h, idx, def, NR_WORDS, &bad));
        RC(0, cpupolicy_featureset_fits_max(h, idx, NULL, 0, &bad));
        RC(0, cpupolicy_featureset_fits_max(h, idx, max, NR_WORDS + 1, &bad));

        /* One extra feature, prerequisites satisfied: it is the one named. */
        memcpy(fs, max, sizeof(fs));
        f = feature_beyond(fs, max);
        ck_assert_msg(f != NONE, "%s: nothing known beyond max", uri_of(_i));
        set_bit(fs, f);
        rc = E(cpupolicy_featureset_fits_max(h, idx, fs, NR_WORDS, &bad));
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
        rc = E(cpupolicy_featureset_fits_max(h, idx, fs, NR_WORDS, &bad));
        ck_assert_msg(rc == -EINVAL && bad == want,
                      "%s: verify(%s-max without %s): expected %d naming %s, got %d naming %u",
                      uri_of(_i), hvm ? "hvm" : "pv", cpupolicy_feature_name(f), -EINVAL,
                      cpupolicy_feature_name(want), rc, bad);
        /* A newer peer's features are never truncated into a pass. */
        memcpy(fs, max, sizeof(fs));
        fs[NR_WORDS] = 1;
        RC(-EOPNOTSUPP, cpupolicy_featureset_fits_max(h, idx, fs, NR_WORDS + 1, &bad));
        RC(-EINVAL, cpupolicy_featureset_fits_max(h, idx, NULL, 1, &bad));
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

/* What a toolstack does when a host joins a pool: read each host's max featureset for
 * the domain type, intersect, and give every domain the level.  The domains then have
 * exactly the level, which each host's max contains.  The partner is the next URI of the
 * same vendor (or this URI again, through a second handle).  Once per domain type.
 * Where a host cannot create domains its test domain is levelled (not started), and a
 * partner with no domain of this type only verifies the level. */
START_TEST(pool_join_levels_two_hosts_to_one_featureset)
{
    const int u = URI_OF(_i);
    const unsigned type = TYPE_OF(_i), hvm = type == CPUPOLICY_DOMAIN_HVM;
    const unsigned max_idx = hvm ? CPUPOLICY_FEATURESET_HVM_MAX : CPUPOLICY_FEATURESET_PV_MAX;
    cpupolicy_handle_t *h[2];
    char v0[13], v1[13];
    uint32_t max[2][NR_WORDS], level[NR_WORDS], got[2][NR_WORDS], extra[NR_WORDS], d[2], i;
    int k, host[2], has_domain[2];

    host[0] = host[1] = u;
    h[0] = open_uri(u);
    vendor_of(h[0], v0);
    for ( k = 1; k < nr_uris; ++k )
    {
        int j = (u + k) % nr_uris;
        h[1] = open_uri(j);
        vendor_of(h[1], v1);
        close_handle(h[1]);
        if ( !strcmp(v0, v1) )
        {
            host[1] = j;
            break;
        }
    }
    h[1] = open_uri(host[1]);

    for ( k = 0; k < 2; ++k )
        get_fs(h[k], max_idx, max[k]);
    for ( i = 0; i < NR_WORDS; ++i )
        level[i] = max[0][i] & max[1][i];
    for ( k = 0; k < 2; ++k )
    {
        const int hk = host[k];
        cpupolicy_err_t err;
        int rc;
        RC(0, cpupolicy_featureset_fits_max(h[k], max_idx, level, NR_WORDS, NULL));
        has_domain[k] = backend[hk].can_create ||
                        (backend[hk].has_test_domain && backend[hk].test_type == type);
        if ( !has_domain[k] )
            continue;
        d[k] = policy_test_domain(h[k], hk, type);
        rc = E(cpupolicy_set_featureset(h[k], d[k], level, NR_WORDS, &err));
        ck_assert_msg(rc == 0, "%s: %s domain: set_featureset(level): expected 0, got %d "
                      "(leaf %#x:%#x)", uri_of(hk), type_name(type), rc, err.leaf, err.subleaf);
        dom_fs(h[k], d[k], got[k]);
        fs_andnot(extra, got[k], max[k]);
        ck_assert_msg(fs_empty(extra), "%s: levelled %s domain beyond this host's max: {%s}",
                      uri_of(hk), type_name(type), fs_names(extra));
        ck_assert_msg(fs_equal(got[k], level),
                      "%s: levelled %s domain is not the level: missing {%s}", uri_of(hk),
                      type_name(type), (fs_andnot(extra, level, got[k]), fs_names(extra)));
        if ( backend[hk].can_create )
            RC(0, cpupolicy_domain_start(h[k], d[k]));
    }
    if ( has_domain[1] )
    {
        fs_andnot(extra, got[0], got[1]);
        ck_assert_msg(fs_equal(got[0], got[1]),
                      "%s + %s: levelled domains differ: first has {%s}, second has {%s}",
                      uri_of(host[0]), uri_of(host[1]), fs_names(extra),
                      (fs_andnot(extra, got[1], got[0]), fs_names(extra)));
    }
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
    /* boot= takes the rest of the URI: a URI option pasted into it is refused, never
     * honoured (it used to set 64 CPUs). */
    { "cpus= inside boot=", "sim:dump=%s/" DUMP_SNB ",boot=cpuid=no-avx,cpus=64", -EINVAL },
    { "dump= inside boot=", "sim:dump=%s/" DUMP_SNB ",boot=no-avx,dump=%s/" DUMP_SNB, -EINVAL },
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
    why = EP(cpupolicy_last_error());
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
    why = EP(cpupolicy_last_error());
    ck_assert_msg(*why, "expected a reason after a failed open");
    h = open_ok(sim_uri(DUMP_SNB, ",cpus=3,boot=cpuid=no-avx,no-rtm"));
    why = EP(cpupolicy_last_error());
    ck_assert_msg(!*why, "after a successful open: expected \"\", got \"%s\"", why);
    close_handle(h);
    RC(-EINVAL, cpupolicy_open(NULL, sim_uri(DUMP_SNB, "")));
    EV(cpupolicy_close(NULL));
}
END_TEST

/* Boot options reach the simulated host: "boot=cpuid=no-avx,no-rtm" (boot= is last and
 * takes the rest of the URI: the comma inside the options belongs to them) takes exactly avx, rtm and their dependency closures
 * from the host featureset (docs/policy.md, BOOT-OPTIONS). */
START_TEST(open_passes_boot_options_through)
{
    cpupolicy_handle_t *plain = open_ok(sim_uri(DUMP_SNB, ""));
    cpupolicy_handle_t *noavx = open_ok(sim_uri(DUMP_SNB, ",cpus=2,boot=cpuid=no-avx,no-rtm"));
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
    RC(-EINVAL, cpupolicy_featureset_fits_max(NULL, 0, fs, NR_WORDS, &bad));
    ck_assert_msg(bad == NONE, "featureset_fits_max(NULL handle): bad_feature expected ~0, got %u", bad);
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

/* --- which tests each URI runs ------------------------------------------------------- */

/* CPUPOLICY_TEST_DOMID=DOMID[:pv|:hvm]; type -1 = infer.  0 ok, -1 malformed. */
static int parse_test_domid(const char *env, uint32_t *domid, int *type)
{
    char *end;
    unsigned long v;
    if ( !*env || *env < '0' || *env > '9' )
        return -1;
    v = strtoul(env, &end, 10);
    if ( v >= 0x7ff0u ) /* DOMID_FIRST_RESERVED: not an ordinary domain */
        return -1;
    *domid = (uint32_t)v;
    if ( !*end )
        *type = -1;
    else if ( !strcmp(end, ":pv") )
        *type = CPUPOLICY_DOMAIN_PV;
    else if ( !strcmp(end, ":hvm") )
        *type = CPUPOLICY_DOMAIN_HVM;
    else
        return -1;
    return 0;
}

static int fs_subset(const uint32_t *a, const uint32_t *b)
{
    uint32_t t[NR_WORDS];
    fs_andnot(t, a, b);
    return fs_empty(t);
}

/* Ask URI u once whether its backend creates domains (create a PV domain, destroy it
 * again); where it answers -EOPNOTSUPP, take the operator's test domain if one is
 * given: read its policy, find its type, and check that its policy may still change by
 * setting it unchanged (Xen refuses changes once a domain has run: -EEXIST).  Runs
 * outside any test, so it reports by printing.  Returns -1 when the given test domain
 * is unusable: the operator asked for tests the run cannot do, which must not pass. */
static int probe_backend(int u, const char *env_domid)
{
    cpupolicy_handle_t *h = NULL;
    cpupolicy_t *p = NULL;
    uint32_t d = NONE, nr = NR_WORDS, fs[NR_WORDS], pvmax[NR_WORDS], hvmmax[NR_WORDS];
    cpupolicy_err_t err;
    int rc, type, ret = 0, in_pv, in_hvm;

    backend[u].can_create = 1;
    if ( cpupolicy_open(&h, uris[u]) )
        return 0; /* every test of this URI fails at its own open, saying why */
    rc = cpupolicy_domain_create(h, CPUPOLICY_DOMAIN_PV, &d);
    if ( rc == 0 )
    {
        if ( (rc = cpupolicy_domain_destroy(h, d)) != 0 )
            printf("probe %s: destroying the probe's domain d%u gave %d\n", uri_of(u), d, rc);
        goto out;
    }
    if ( rc != -EOPNOTSUPP )
    {
        /* Not a "cannot": let the domain tests run and fail with it. */
        printf("probe %s: domain_create gave %d (%s); the domain tests run regardless\n",
               uri_of(u), rc, strerror(-rc));
        goto out;
    }
    backend[u].can_create = 0;
    if ( !env_domid )
    {
        snprintf(backend[u].why, sizeof(backend[u].why),
                 "the backend cannot create domains (domain_create: %d, EOPNOTSUPP) and "
                 "CPUPOLICY_TEST_DOMID names no test domain", -EOPNOTSUPP);
        goto out;
    }
    if ( parse_test_domid(env_domid, &d, &type) )
    {
        printf("FAIL CPUPOLICY_TEST_DOMID='%s': expected DOMID[:pv|:hvm], DOMID < 0x7ff0\n",
               env_domid);
        ret = -1;
        goto out;
    }
    p = cpupolicy_alloc();
    if ( !p || (rc = cpupolicy_get_domain_policy(h, d, p)) != 0 )
    {
        printf("FAIL probe %s: test domain d%u (CPUPOLICY_TEST_DOMID): get_domain_policy "
               "gave %d (%s)\n", uri_of(u), d, p ? rc : -ENOMEM, strerror(p ? -rc : ENOMEM));
        ret = -1;
        goto out;
    }
    if ( type < 0 )
    {
        /* A domain's policy lies within its type's max; a policy within both cannot be
         * told apart this way. */
        if ( cpupolicy_policy_to_featureset(p, fs, &nr) ||
             cpupolicy_get_featureset(h, CPUPOLICY_FEATURESET_PV_MAX, &nr, pvmax) ||
             cpupolicy_get_featureset(h, CPUPOLICY_FEATURESET_HVM_MAX, &nr, hvmmax) )
        {
            printf("FAIL probe %s: reading featuresets to type test domain d%u\n", uri_of(u), d);
            ret = -1;
            goto out;
        }
        in_pv = fs_subset(fs, pvmax);
        in_hvm = fs_subset(fs, hvmmax);
        if ( in_pv == in_hvm )
        {
            printf("FAIL probe %s: test domain d%u's featureset is within %s max: cannot tell "
                   "its type; set CPUPOLICY_TEST_DOMID=%u:pv or %u:hvm\n", uri_of(u), d,
                   in_pv ? "both pv and hvm" : "neither pv nor hvm", d, d);
            ret = -1;
            goto out;
        }
        type = in_pv ? CPUPOLICY_DOMAIN_PV : CPUPOLICY_DOMAIN_HVM;
    }
    rc = cpupolicy_set_domain_policy(h, d, p, &err);
    if ( rc )
    {
        printf("FAIL probe %s: test domain d%u: setting its own policy back gave %d (%s)%s\n",
               uri_of(u), d, rc, strerror(-rc),
               rc == -EEXIST ? ": it has run, so its policy is fixed; give a domain created "
                               "paused (xl create -p) and never unpaused" : "");
        ret = -1;
        goto out;
    }
    backend[u].has_test_domain = 1;
    backend[u].test_domid = d;
    backend[u].test_type = (unsigned)type;
    backend[u].test_policy = p;
    p = NULL;
    snprintf(backend[u].why, sizeof(backend[u].why),
             "the backend cannot create domains (domain_create: %d, EOPNOTSUPP) and the test "
             "domain d%u (CPUPOLICY_TEST_DOMID) is %s", -EOPNOTSUPP, d, type_name((unsigned)type));
    printf("URI %d: cannot create domains; policy tests use test domain d%u (%s)\n", u, d,
           type_name((unsigned)type));
out:
    cpupolicy_free(p);
    cpupolicy_close(h);
    return ret;
}

/* Put each test domain's policy back as the suite found it.  Returns the failures. */
static int restore_test_domains(void)
{
    int u, failed = 0;
    for ( u = 0; u < nr_uris; ++u )
    {
        cpupolicy_handle_t *h = NULL;
        cpupolicy_err_t err;
        int rc;
        if ( !backend[u].has_test_domain )
            continue;
        rc = cpupolicy_open(&h, uris[u]);
        if ( rc == 0 )
            rc = cpupolicy_set_domain_policy(h, backend[u].test_domid, backend[u].test_policy,
                                             &err);
        cpupolicy_close(h);
        if ( rc )
        {
            printf("FAIL %s: putting test domain d%u's policy back at the end gave %d\n",
                   uri_of(u), backend[u].test_domid, rc);
            ++failed;
        }
        cpupolicy_free(backend[u].test_policy);
    }
    return failed;
}

static int nr_skipped;

static void skip(const TTest *t, int u, int type, const char *why)
{
    ++nr_skipped;
    printf("SKIP %s [%s%s%s]: %s\n", t->name, uri_of(u), type < 0 ? "" : ", ",
           type < 0 ? "" : type_name((unsigned)type), why);
}

enum needs { ANY_BACKEND, CREATES_DOMAINS, CANNOT_CREATE_DOMAINS };

/* One iteration per URI (iteration = URI index), left out where the backend lacks what
 * the test needs. */
static void add_per_uri(TCase *tc, const TTest *t, enum needs needs)
{
    int u;
    for ( u = 0; u < nr_uris; ++u )
        if ( needs == ANY_BACKEND || (needs == CREATES_DOMAINS) == !!backend[u].can_create )
            tcase_add_loop_test(tc, t, u, u + 1);
        else if ( needs == CREATES_DOMAINS )
            skip(t, u, -1, backend[u].why);
}

/* One iteration per URI and domain type (iteration = 2 * URI + type), where a domain of
 * the type is at hand: the backend creates one, or the operator gave one. */
static void add_per_domain_type(TCase *tc, const TTest *t)
{
    int u;
    unsigned type;
    for ( u = 0; u < nr_uris; ++u )
        for ( type = CPUPOLICY_DOMAIN_PV; type <= CPUPOLICY_DOMAIN_HVM; ++type )
            if ( backend[u].can_create ||
                 (backend[u].has_test_domain && backend[u].test_type == type) )
                tcase_add_loop_test(tc, t, 2 * u + (int)type, 2 * u + (int)type + 1);
            else
                skip(t, u, (int)type, backend[u].why);
}

static Suite *conformance_suite(void)
{
    Suite *s = suite_create("conformance");
    TCase *tc;

    tc = tcase_create("featureset");
    add_per_uri(tc, featureset_null_buffer_gives_the_word_count, ANY_BACKEND);
    add_per_uri(tc, featureset_short_buffer_is_enobufs_with_the_required_count, ANY_BACKEND);
    add_per_uri(tc, featureset_bad_index_and_missing_count_are_einval, ANY_BACKEND);
    add_per_uri(tc, featureset_indices_are_xens_order_not_the_policy_order, ANY_BACKEND);
    suite_add_tcase(s, tc);

    tc = tcase_create("system");
    add_per_uri(tc, system_policies_nest_default_max_host_raw_except_synthesised, ANY_BACKEND);
    add_per_uri(tc, guest_policies_pass_the_dependency_check, ANY_BACKEND);
    add_per_uri(tc, levelling_caps_use_known_bits_and_agree_with_platform_info, ANY_BACKEND);
    suite_add_tcase(s, tc);

    tc = tcase_create("domain");
    add_per_uri(tc, domain_create_starts_from_the_type_default_policy, CREATES_DOMAINS);
    add_per_uri(tc, domain_create_refuses_a_bad_type, CREATES_DOMAINS);
    add_per_uri(tc, backend_without_domain_creation_refuses_the_whole_life_cycle,
                CANNOT_CREATE_DOMAINS);
    add_per_domain_type(tc, set_domain_policy_beyond_max_is_einval_names_the_leaf_and_is_atomic);
    add_per_domain_type(tc, set_domain_policy_dependency_violation_is_einval_and_atomic);
    add_per_domain_type(tc, set_domain_policy_accepts_max_and_restores_the_previous_policy);
    add_per_uri(tc, started_domain_refuses_policy_changes_with_eexist, CREATES_DOMAINS);
    add_per_uri(tc, destroyed_domain_is_esrch_everywhere, CREATES_DOMAINS);
    add_per_uri(tc, unknown_domid_is_esrch_for_policy_calls, ANY_BACKEND);
    suite_add_tcase(s, tc);

    tc = tcase_create("featureset-ops");
    add_per_domain_type(tc, set_featureset_clearing_a_feature_takes_its_dependents);
    add_per_domain_type(tc, set_featureset_refusals_are_atomic);
    add_per_uri(tc, featureset_fits_max_accepts_max_names_what_it_cannot_offer, ANY_BACKEND);
    add_per_domain_type(tc, pool_join_levels_two_hosts_to_one_featureset);
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
    const char *env_domid = getenv("CPUPOLICY_TEST_DOMID");
    SRunner *sr;
    int run, ck_failed, failed, i, probe_failed = 0;

    add_uris();
    for ( i = 0; i < nr_uris; ++i )
    {
        printf("URI %d: %s\n", i, uri_of(i));
        probe_failed += probe_backend(i, env_domid && *env_domid ? env_domid : NULL) != 0;
    }
    sr = srunner_create(conformance_suite());
    srunner_run_all(sr, CK_NORMAL);
    run = srunner_ntests_run(sr);
    ck_failed = srunner_ntests_failed(sr);
    failed = ck_failed + probe_failed + restore_test_domains();
    srunner_free(sr);
    for ( i = 0; i < nr_uris; ++i )
        free(uris[i]);
    printf("%d passed, %d failed, %d skipped\n", run - ck_failed, failed, nr_skipped);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
