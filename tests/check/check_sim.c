/* SPDX-License-Identifier: MIT */
/*
 * Check suite over cpupolicy_sim.h, end to end on the dumps (issue 4 item 8): what a
 * guest sees through each CPUID path on a simulated host, what the host cannot level
 * for a PV domain, and what the lazy context switch writes.  Public C ABI only.
 *
 * Facts used (written out, not read from the library under test):
 *  - levelling capabilities by model (Xen's intel.c / amd.c; masking.hpp): Nehalem-EP
 *    (fam 6 model 0x1a) has the v2 masks 0x130 (leaf 1) and 0x131 (0x80000001) = caps
 *    ecx|edx|extd_ecx|extd_edx = 0x1e; Sandy Bridge-EP (model 0x2d) adds 0x134 (0xd:1
 *    eax) = 0x3e; Zen/Milan/Hygon: 0xc0011004/5 plus 0xc0011002 (leaf 7:0 eax:ebx, max
 *    leaf >= 7) = 0x19e; Interlagos (fam 15h, leaf 6 ecx != 0) adds 0xc0011003 = 0x1de;
 *    K10 Istanbul (max leaf 5) = 0x1e; Ivy Bridge-EP and Skylake-SP: no masking MSR
 *    and no PLATFORM_INFO in the dump = 0;
 *  - CPUID faulting where the dump's PLATFORM_INFO has bit 31 (Haswell-EP 0x...fb811700,
 *    Broadwell-E, Sapphire/Granite/Emerald Rapids) or AMD 0x80000021.eax[17] CpuidUserDis
 *    (Genoa 0x00062fcf, Bergamo, Turin): caps = faulting alone (faulting wins);
 *  - the dumps' register values quoted where used;
 *  - Intel masks are AND masks and cannot add a bit the CPU lacks (HYPERVISOR); AMD
 *    masks are overrides and can (SDM/APM as summarised in masking.hpp);
 *  - guest CPUID's dynamic fields (docs/policy.md, "Guest CPUID"): leaf 1 ebx[31:24]
 *    (HVM: 2 x vcpu_id, PV: 0), OSXSAVE = CR4.OSXSAVE (0 in a new vCPU), OSPKE, APIC
 *    while the vCPU's APIC is disabled (HVM), 0xb/0x1f ecx/edx, 0xd:0/0xd:1 ebx (sizes
 *    for the current XCR0/XSS), SYSCALL outside long mode (Intel HVM);
 *  - the simulated machine places vCPU v of domain d on CPU (d + v) % nr_cpus
 *    (sim.hpp, home_cpu), so with cpus=1 every vCPU shares CPU 0 with dom0.
 */
#define _POSIX_C_SOURCE 200809L
#include "handle_common.h"
#include "cpupolicy_sim.h"

#define LCAP_MASKS_NHM 0x1eu
#define LCAP_MASKS_SNB 0x3eu
#define LCAP_MASKS_AMD 0x19eu

/* Feature numbers (Xen's cpufeatureset.h: word * 32 + bit). */
enum {
    F_APIC = 9, F_HTT = 28, F_X2APIC = 53, F_XSAVE = 58, F_OSXSAVE = 59, F_AVX = 60,
    F_POPCNT = 55, F_HYPERVISOR = 63, F_RDTSCP = 91, F_XSAVEOPT = 128, F_AVX2 = 165, F_OSPKE = 196,
    F_ITSC = 232, F_CMP_LEGACY = 97, F_ARCH_CAPS = 317
};

/* --- helpers -------------------------------------------------------------------------- */

/* Start a PV or HVM domain whose featureset is its default minus `drop` (and their
 * dependents: set_featureset applies the closure). */
static uint32_t domain_without(cpupolicy_handle_t *h, unsigned type, const uint32_t *drop,
                               int nr_drop)
{
    uint32_t d = create_domain(h, type), fs[NR_WORDS];
    cpupolicy_err_t err;
    int i, rc;
    dom_fs(h, d, fs);
    for ( i = 0; i < nr_drop; ++i )
        clear_bit(fs, drop[i]);
    rc = E(cpupolicy_set_featureset(h, d, fs, NR_WORDS, &err));
    ck_assert_msg(rc == 0, "set_featureset: expected 0, got %d (leaf %#x:%#x)", rc, err.leaf,
                  err.subleaf);
    RC(0, cpupolicy_domain_start(h, d));
    return d;
}

static cpupolicy_leaf_t guest_cpuid(cpupolicy_handle_t *h, uint32_t d, uint32_t vcpu,
                                    unsigned path, unsigned want_path, uint32_t leaf,
                                    uint32_t subleaf)
{
    cpupolicy_leaf_t l;
    unsigned taken = 99, fault = 99;
    int rc = E(cpupolicy_sim_cpuid(h, d, vcpu, path, 0, leaf, subleaf, &l, &taken, &fault));
    ck_assert_msg(rc == 0 && taken == want_path && fault == CPUPOLICY_FAULT_NONE,
                  "sim_cpuid(d%u v%u path %u, %#x:%#x): expected rc 0 path %u fault 0, "
                  "got %d path %u fault %u", d, vcpu, path, leaf, subleaf, want_path, rc, taken,
                  fault);
    return l;
}

static void assert_leaf(const char *what, uint32_t leaf, uint32_t subleaf,
                        const cpupolicy_leaf_t *want, const cpupolicy_leaf_t *got)
{
    ck_assert_msg(want->a == got->a && want->b == got->b && want->c == got->c && want->d == got->d,
                  "%s %#x:%#x: expected %08x:%08x:%08x:%08x, got %08x:%08x:%08x:%08x", what, leaf,
                  subleaf, want->a, want->b, want->c, want->d, got->a, got->b, got->c, got->d);
}

/* Clear in `l` the fields guest CPUID computes per vCPU (docs/policy.md "Dynamic
 * parts"), so that what remains must equal the policy. */
static void mask_dynamic(cpupolicy_leaf_t *l, int hvm)
{
    switch ( l->leaf ) {
    case 0x1:
        l->b &= 0x00ffffffu;          /* initial APIC ID */
        l->c &= ~(1u << 27);          /* OSXSAVE */
        if ( hvm )
            l->d &= ~(1u << F_APIC);  /* APIC while the vCPU's APIC is disabled */
        break;
    case 0x7:
        if ( l->subleaf == 0 )
            l->c &= ~(1u << 4);       /* OSPKE */
        break;
    case 0xb:
    case 0x1f:
        l->c = l->d = 0;              /* subleaf number, x2APIC ID */
        break;
    case 0xd:
        if ( l->subleaf <= 1 )
            l->b = 0;                 /* sizes for the XCR0 / XSS in use */
        break;
    case 0x80000001:
        if ( hvm )
            l->d &= ~((1u << 11) | (1u << 9)); /* SYSCALL outside long mode, APIC */
        break;
    }
}

/* Every CPUID leaf the domain's policy holds, asked through `path` as vCPU `vcpu`, equals
 * the policy outside the dynamic fields.  Returns the number of leaves compared. */
static unsigned assert_guest_sees_policy(cpupolicy_handle_t *h, uint32_t d, uint32_t vcpu,
                                         unsigned path, unsigned want_path, int hvm,
                                         const char *what)
{
    static image_t img;
    cpupolicy_t *p = dom_policy(h, d);
    unsigned n = 0;
    uint32_t i;
    snap(p, &img);
    for ( i = 0; i < img.nr_leaves; ++i )
    {
        cpupolicy_leaf_t want = img.leaves[i], got;
        uint32_t sub = want.subleaf == NS ? 0 : want.subleaf;
        if ( (want.leaf & 0xffff0000u) == 0x40000000u )
            continue; /* hypervisor leaves: synthesised, not stored as answers */
        got = guest_cpuid(h, d, vcpu, path, want_path, want.leaf, sub);
        got.leaf = want.leaf;
        got.subleaf = want.subleaf;
        mask_dynamic(&want, hvm);
        mask_dynamic(&got, hvm);
        assert_leaf(what, want.leaf, sub, &want, &got);
        ++n;
    }
    EV(cpupolicy_free(p));
    return n;
}

static void gap_of(cpupolicy_handle_t *h, uint32_t d, uint32_t *flags, uint32_t *leaked,
                   uint32_t *lost)
{
    RC(0, cpupolicy_sim_levelling_gap(h, d, flags, leaked, lost, NR_WORDS));
}

static void fs_of_list(uint32_t *fs, const uint32_t *list, int n)
{
    int i;
    memset(fs, 0, NR_WORDS * sizeof(*fs));
    for ( i = 0; i < n; ++i )
        set_bit(fs, list[i]);
}

static void assert_fs(const char *what, const uint32_t *want, const uint32_t *got)
{
    uint32_t a[NR_WORDS], b[NR_WORDS];
    fs_andnot(a, want, got);
    fs_andnot(b, got, want);
    ck_assert_msg(fs_equal(want, got), "%s: expected {%s}, got {%s} (missing {%s}, extra {%s})",
                  what, fs_names(want), fs_names(got), fs_names(a), fs_names(b));
}

static uint64_t writes_to(cpupolicy_handle_t *h, uint32_t msr)
{
    uint64_t n = ~0ull;
    RC(0, cpupolicy_sim_msr_writes(h, msr, &n));
    return n;
}

static cpupolicy_sim_counters_t counters(cpupolicy_handle_t *h)
{
    cpupolicy_sim_counters_t c;
    RC(0, cpupolicy_sim_get_counters(h, &c));
    return c;
}

/* --- levelling capabilities ------------------------------------------------------------ */

static const struct {
    const char *dump;
    uint32_t caps;
} caps_rows[] = {
    { DUMP_NHM, LCAP_MASKS_NHM },
    { DUMP_SNB, LCAP_MASKS_SNB },
    { "GenuineIntel00306E4_IvyBridgeEP.txt", 0 },
    { DUMP_HSW, CPUPOLICY_LCAP_FAULTING },
    { "GenuineIntel00406F1_BroadwellE.txt", CPUPOLICY_LCAP_FAULTING },
    { "GenuineIntel0050654_SkylakeXeon.txt", 0 },
    { DUMP_SPR, CPUPOLICY_LCAP_FAULTING },
    { "GenuineIntel00A06D1_GraniteRapids_03.txt", CPUPOLICY_LCAP_FAULTING },
    { "AuthenticAMD0100F80_K10_Istanbul.txt", 0x1e },
    { "AuthenticAMD0600F12_Interlagos.txt", LCAP_MASKS_AMD | CPUPOLICY_LCAP_THERMAL_ECX },
    { "AuthenticAMD0800F12_K17_Zen.txt", LCAP_MASKS_AMD },
    { DUMP_MILAN, LCAP_MASKS_AMD },
    { DUMP_GENOA, CPUPOLICY_LCAP_FAULTING },
    { "AuthenticAMD0B00F21_K20_Turin_01.txt", CPUPOLICY_LCAP_FAULTING },
    { "HygonGenuine0900F02_Hygon.txt", LCAP_MASKS_AMD },
};

/* With two CPUs each: the second CPU comes up with the boot CPU's capabilities even
 * where the dump recorded MSRs for one CPU only (Haswell-EP, Broadwell-E). */
START_TEST(levelling_caps_follow_the_model_and_the_dump)
{
    cpupolicy_handle_t *h = open_ok(sim_uri(caps_rows[_i].dump, ",cpus=2"));
    uint32_t caps = GUARD;
    RC(0, cpupolicy_get_levelling_caps(h, &caps));
    ck_assert_msg(caps == caps_rows[_i].caps, "%s: levelling caps: expected %#x, got %#x",
                  caps_rows[_i].dump, caps_rows[_i].caps, caps);
    close_handle(h);
}
END_TEST

/* --- PV on a masking host ---------------------------------------------------------------- */

/* Sandy Bridge-EP, PV domain without avx.  Leaf 1 is masked (MSR 0x132, an AND mask):
 * native CPUID shows raw ecx 0x1fbee3ff AND the policy - avx gone, OSXSAVE gone (the
 * vCPU's CR4.OSXSAVE is 0), the features PV never gets gone (dtes64 monitor ds-cpl vmx
 * smx eist tm2 xtpr pdcm pcid dca tsc-deadline), x2apic kept (forwarded from the host),
 * and hypervisor absent because an AND mask cannot add it: 0x06b82203. */
START_TEST(snb_pv_native_cpuid_sees_leaf1_through_the_and_mask)
{
    static const uint32_t drop[] = { F_AVX };
    cpupolicy_handle_t *h = open_ok(sim_uri(DUMP_SNB, ",cpus=2"));
    uint32_t d = domain_without(h, CPUPOLICY_DOMAIN_PV, drop, N(drop)), v;
    cpupolicy_t *raw = sys_policy(h, CPUPOLICY_RAW), *pol = dom_policy(h, d);
    cpupolicy_leaf_t r1 = cpuid_of(raw, 1, NS), p1 = cpuid_of(pol, 1, NS);

    ck_assert_msg(r1.c == 0x1fbee3ffu && r1.d == 0xbfebfbffu,
                  "premise: SNB raw leaf 1 ecx:edx 1fbee3ff:bfebfbff, got %08x:%08x", r1.c, r1.d);
    ck_assert_msg(!(p1.c & (1u << (F_AVX - 32))) && (p1.c & (1u << (F_HYPERVISOR - 32))),
                  "policy leaf 1 ecx %08x: expected no avx, hypervisor set", p1.c);
    for ( v = 0; v < 2; ++v )
    {
        cpupolicy_leaf_t g = guest_cpuid(h, d, v, CPUPOLICY_PATH_AUTO, CPUPOLICY_PATH_NATIVE, 1, 0);
        uint32_t want_c = r1.c & (p1.c | (1u << (F_X2APIC - 32))) & ~(1u << (F_OSXSAVE - 32));
        uint32_t want_d = r1.d & (p1.d | (1u << F_HTT) | (1u << F_APIC));
        ck_assert_msg(g.c == want_c && g.c == 0x06b82203u,
                      "vcpu %u leaf 1 ecx: expected %08x (= 06b82203), got %08x", v, want_c, g.c);
        ck_assert_msg(g.d == want_d, "vcpu %u leaf 1 edx: expected %08x, got %08x", v, want_d, g.d);
        /* Leaf 1 ebx is not maskable: each CPU's own APIC ID (vcpu v of d runs on CPU
         * (d + v) % 2, whose dump block has APIC ID 0 or 1). */
        ck_assert_msg(g.b >> 24 == (d + v) % 2, "vcpu %u leaf 1 ebx %08x: expected APIC ID %u",
                      v, g.b, (d + v) % 2);
    }
    EV(cpupolicy_free(pol));
    EV(cpupolicy_free(raw));
    close_handle(h);
}
END_TEST

/* Without xsave, avx goes with it (dependency closure), and native leaf 1 shows neither.
 * (0xd:1 cannot show the 0x134 mask at work here: this AIDA64 dump skips subleaf 1 -
 * its second 0xD line, 00000100-00000240, is component 2 - so the host has no 0xd:1
 * features and 0x134 keeps its default.) */
START_TEST(snb_pv_without_xsave_loses_avx_natively)
{
    static const uint32_t drop[] = { F_XSAVE };
    cpupolicy_handle_t *h = open_ok(sim_uri(DUMP_SNB, ",cpus=2"));
    uint32_t d = domain_without(h, CPUPOLICY_DOMAIN_PV, drop, N(drop)), fs[NR_WORDS];
    cpupolicy_leaf_t l1;
    dom_fs(h, d, fs);
    ck_assert_msg(!test_bit(fs, F_AVX) && !test_bit(fs, F_XSAVE),
                  "policy without xsave: expected avx gone too, have {%s}", fs_names(fs));
    l1 = guest_cpuid(h, d, 0, CPUPOLICY_PATH_NATIVE, CPUPOLICY_PATH_NATIVE, 1, 0);
    ck_assert_msg(!(l1.c & (7u << 26)) && l1.c == 0x02b82203u,
                  "leaf 1 ecx: expected 02b82203 (xsave/osxsave/avx clear), got %08x", l1.c);
    close_handle(h);
}
END_TEST

/* The gap on Sandy Bridge-EP for that domain: leaked = itsc (0x80000007 edx[8]; the
 * hardware has it, PV policies only offer it in max, and no MSR masks 0x80000007);
 * lost = hypervisor (an AND mask cannot add it) and arch-caps (7:0 edx[29]: SNB's leaf 7
 * is all zeros and nothing masks leaf 7).  Sandy Bridge has no leaf 7 features to leak. */
START_TEST(snb_gap_reports_exactly_what_masking_cannot_level)
{
    static const uint32_t drop[] = { F_AVX };
    static const uint32_t leaked_list[] = { F_ITSC }, lost_list[] = { F_HYPERVISOR, F_ARCH_CAPS };
    cpupolicy_handle_t *h = open_ok(sim_uri(DUMP_SNB, ",cpus=2"));
    uint32_t d = domain_without(h, CPUPOLICY_DOMAIN_PV, drop, N(drop));
    uint32_t flags = GUARD, leaked[NR_WORDS], lost[NR_WORDS], want[NR_WORDS];
    gap_of(h, d, &flags, leaked, lost);
    ck_assert_msg(flags == CPUPOLICY_GAP_APPLIES, "flags: expected APPLIES (%#x), got %#x",
                  CPUPOLICY_GAP_APPLIES, flags);
    fs_of_list(want, leaked_list, N(leaked_list));
    assert_fs("SNB leaked", want, leaked);
    fs_of_list(want, lost_list, N(lost_list));
    assert_fs("SNB lost", want, lost);
    close_handle(h);
}
END_TEST

/* Nehalem-EP: only leaf 1 and 0x80000001 can be masked (0x130/0x131).  The leaf-7 gap is
 * reported, not hidden: the PV default offers arch-caps (7:0 edx[29]) but native leaf 7
 * is zeros (max leaf 0xb, no leaf 7 features); itsc leaks through 0x80000007. */
START_TEST(nehalem_gap_reports_the_leaf_7_gap)
{
    static const uint32_t leaked_list[] = { F_ITSC }, lost_list[] = { F_HYPERVISOR, F_ARCH_CAPS };
    cpupolicy_handle_t *h = open_ok(sim_uri(DUMP_NHM, ",cpus=2"));
    uint32_t d = create_domain(h, CPUPOLICY_DOMAIN_PV);
    uint32_t flags = GUARD, leaked[NR_WORDS], lost[NR_WORDS], want[NR_WORDS], fs[NR_WORDS];
    cpupolicy_t *pol;
    cpupolicy_leaf_t l7, p7;

    RC(0, cpupolicy_domain_start(h, d));
    gap_of(h, d, &flags, leaked, lost);
    ck_assert_msg(flags == CPUPOLICY_GAP_APPLIES, "flags: expected %#x, got %#x",
                  CPUPOLICY_GAP_APPLIES, flags);
    fs_of_list(want, leaked_list, N(leaked_list));
    assert_fs("Nehalem leaked", want, leaked);
    fs_of_list(want, lost_list, N(lost_list));
    assert_fs("Nehalem lost", want, lost);

    /* What a guest sees agrees: policy 7:0 edx has arch-caps, native leaf 7 does not. */
    pol = dom_policy(h, d);
    pol_fs(pol, fs);
    p7 = cpuid_of(pol, 7, 0);
    l7 = guest_cpuid(h, d, 0, CPUPOLICY_PATH_AUTO, CPUPOLICY_PATH_NATIVE, 7, 0);
    ck_assert_msg((p7.d >> 29) & 1, "policy 7:0 edx %08x: expected arch-caps", p7.d);
    ck_assert_msg(l7.a == 0 && l7.b == 0 && l7.c == 0 && l7.d == 0,
                  "native 7:0 on Nehalem: expected zeros, got %08x:%08x:%08x:%08x", l7.a, l7.b,
                  l7.c, l7.d);
    EV(cpupolicy_free(pol));
    close_handle(h);
}
END_TEST

/* The gap statement against what the simulated CPU actually shows: for every CPUID
 * featureset word, leaked = native & ~policy and lost = policy & ~native (over named
 * features, leaving out what follows the vCPU - OSXSAVE, OSPKE - and what is forwarded
 * from the host on purpose - APIC, HTT, X2APIC, CMP_LEGACY).  Native values are read as
 * a guest would: a leaf beyond the native maximum (or 7:n beyond 7:0 eax) is absent.
 * Every dump without faulting, PV domain without avx2/avx. */
static const char *const non_faulting[] = {
    DUMP_NHM, DUMP_SNB, "GenuineIntel00306E4_IvyBridgeEP.txt",
    "GenuineIntel0050654_SkylakeXeon.txt", "GenuineIntel0050657_CascadeLakeXeon.txt",
    "GenuineIntel00606A6_ICX_04.txt", "AuthenticAMD0100F80_K10_Istanbul.txt",
    "AuthenticAMD0600F12_Interlagos.txt", "AuthenticAMD0800F12_K17_Zen.txt",
    "AuthenticAMD0830F10_K17_Rome.txt", DUMP_MILAN, "HygonGenuine0900F02_Hygon.txt",
};

START_TEST(gap_matches_what_native_cpuid_shows)
{
    static const uint32_t drop[] = { F_AVX2, F_AVX };
    const char *dump = non_faulting[_i];
    cpupolicy_handle_t *h = open_ok(sim_uri(dump, ",cpus=2"));
    uint32_t d = domain_without(h, CPUPOLICY_DOMAIN_PV, drop, N(drop));
    const uint32_t *known = EP(cpupolicy_static_featuremask(CPUPOLICY_MASK_KNOWN));
    uint32_t flags, leaked[NR_WORDS], lost[NR_WORDS], want_leaked[NR_WORDS], want_lost[NR_WORDS];
    uint32_t judged[NR_WORDS], w, max_basic, max_ext, max7;
    cpupolicy_t *pol = dom_policy(h, d);
    char what[256];

    max_basic = guest_cpuid(h, d, 0, CPUPOLICY_PATH_NATIVE, CPUPOLICY_PATH_NATIVE, 0, 0).a;
    max_ext = guest_cpuid(h, d, 0, CPUPOLICY_PATH_NATIVE, CPUPOLICY_PATH_NATIVE, 0x80000000u, 0).a;
    max7 = max_basic >= 7
               ? guest_cpuid(h, d, 0, CPUPOLICY_PATH_NATIVE, CPUPOLICY_PATH_NATIVE, 7, 0).a
               : 0;
    memcpy(judged, known, sizeof(judged));
    clear_bit(judged, F_OSXSAVE);
    clear_bit(judged, F_OSPKE);
    clear_bit(judged, F_APIC);
    clear_bit(judged, F_HTT);
    clear_bit(judged, F_X2APIC);
    clear_bit(judged, F_CMP_LEGACY);
    for ( w = 0; w < NR_WORDS; ++w )
    {
        word_loc_t loc = word_loc(w);
        uint32_t native = 0, pol_w;
        cpupolicy_leaf_t pl;
        want_leaked[w] = want_lost[w] = 0;
        if ( loc.msr != NONE )
            continue; /* RDMSR traps for a PV guest: MSR words are always levelled */
        if ( loc.leaf < 0x80000000u ? loc.leaf <= max_basic
                                    : (max_ext >= 0x80000000u && loc.leaf <= max_ext) )
            if ( loc.leaf != 7 || loc.subleaf <= max7 )
            {
                cpupolicy_leaf_t nl = guest_cpuid(h, d, 0, CPUPOLICY_PATH_NATIVE,
                                                  CPUPOLICY_PATH_NATIVE, loc.leaf,
                                                  loc.subleaf == NS ? 0 : loc.subleaf);
                native = leaf_reg(&nl, word_reg(w));
            }
        pl = cpuid_of(pol, loc.leaf, loc.subleaf);
        pol_w = leaf_reg(&pl, word_reg(w));
        want_leaked[w] = native & ~pol_w & judged[w];
        want_lost[w] = pol_w & ~native & judged[w];
    }
    gap_of(h, d, &flags, leaked, lost);
    ck_assert_msg(flags & CPUPOLICY_GAP_APPLIES, "%s: gap flags %#x: expected APPLIES", dump, flags);
    ck_assert_msg(!(flags & CPUPOLICY_GAP_BY_FAULTING), "%s: gap flags %#x: no faulting here",
                  dump, flags);
    ck_assert_msg(!!(flags & CPUPOLICY_GAP_COMPLETE) == (fs_empty(leaked) && fs_empty(lost)),
                  "%s: gap flags %#x: COMPLETE must mean nothing leaked or lost", dump, flags);
    snprintf(what, sizeof(what), "%s leaked (native CPUID vs gap)", dump);
    assert_fs(what, want_leaked, leaked);
    snprintf(what, sizeof(what), "%s lost (native CPUID vs gap)", dump);
    assert_fs(what, want_lost, lost);
    EV(cpupolicy_free(pol));
    close_handle(h);
}
END_TEST

/* Where a masking MSR covers leaf 7 (AMD 0xc0011002) avx2 is hidden from native CPUID;
 * where nothing covers it (Skylake-SP dump: no masks, no faulting) it leaks and the gap
 * says so. */
START_TEST(leaf7_avx2_hidden_by_amd_mask_but_leaked_without_one)
{
    static const uint32_t drop[] = { F_AVX2 };
    static const struct {
        const char *dump;
        int leaks;
    } rows[] = {
        { DUMP_MILAN, 0 },
        { "GenuineIntel0050654_SkylakeXeon.txt", 1 },
    };
    cpupolicy_handle_t *h = open_ok(sim_uri(rows[_i].dump, ",cpus=2"));
    uint32_t d = domain_without(h, CPUPOLICY_DOMAIN_PV, drop, N(drop));
    uint32_t flags, leaked[NR_WORDS], lost[NR_WORDS];
    cpupolicy_t *raw = sys_policy(h, CPUPOLICY_RAW);
    cpupolicy_leaf_t r7 = cpuid_of(raw, 7, 0);
    cpupolicy_leaf_t g7 = guest_cpuid(h, d, 1, CPUPOLICY_PATH_AUTO, CPUPOLICY_PATH_NATIVE, 7, 0);

    ck_assert_msg((r7.b >> 5) & 1, "premise: %s has avx2 (7:0 ebx %08x)", rows[_i].dump, r7.b);
    ck_assert_msg(((g7.b >> 5) & 1) == (uint32_t)rows[_i].leaks,
                  "%s: native 7:0 ebx %08x: expected avx2 %s", rows[_i].dump, g7.b,
                  rows[_i].leaks ? "visible" : "hidden");
    gap_of(h, d, &flags, leaked, lost);
    ck_assert_msg(test_bit(leaked, F_AVX2) == rows[_i].leaks, "%s: gap leaked {%s}: avx2 %s",
                  rows[_i].dump, fs_names(leaked), rows[_i].leaks ? "expected" : "unexpected");
    EV(cpupolicy_free(raw));
    close_handle(h);
}
END_TEST

/* AMD override masks can add what the hardware lacks: Milan's leaf 1 ecx natively shows
 * HYPERVISOR (bit 31), so nothing is lost there, unlike on Intel. */
START_TEST(amd_override_mask_shows_hypervisor_natively)
{
    cpupolicy_handle_t *h = open_ok(sim_uri(DUMP_MILAN, ",cpus=2"));
    uint32_t d = create_domain(h, CPUPOLICY_DOMAIN_PV), flags, leaked[NR_WORDS], lost[NR_WORDS];
    cpupolicy_t *pol;
    cpupolicy_leaf_t g, p;
    RC(0, cpupolicy_domain_start(h, d));
    pol = dom_policy(h, d);
    p = cpuid_of(pol, 1, NS);
    g = guest_cpuid(h, d, 0, CPUPOLICY_PATH_NATIVE, CPUPOLICY_PATH_NATIVE, 1, 0);
    ck_assert_msg(g.c >> 31, "Milan native leaf 1 ecx %08x: expected hypervisor", g.c);
    ck_assert_msg(g.c == (p.c & ~(1u << 27)),
                  "Milan native leaf 1 ecx: expected the policy's %08x (OSXSAVE clear), got %08x",
                  p.c & ~(1u << 27), g.c);
    gap_of(h, d, &flags, leaked, lost);
    ck_assert_msg(fs_empty(lost), "Milan lost: expected none, got {%s}", fs_names(lost));
    EV(cpupolicy_free(pol));
    close_handle(h);
}
END_TEST

/* --- faulting, FEP, HVM: answers from the policy ------------------------------------------- */

/* On a faulting host a PV guest's CPUID takes the faulting path and every leaf of its
 * policy comes back exactly (outside the per-vCPU fields); the gap says "exact by
 * faulting, complete".  Hosts: Haswell-EP and Sapphire Rapids (PLATFORM_INFO[31]), Genoa
 * (CpuidUserDis). */
static const char *const faulting_hosts[] = { DUMP_HSW, DUMP_SPR, DUMP_GENOA };

START_TEST(faulting_host_pv_guest_sees_exactly_its_policy)
{
    static const uint32_t drop[] = { F_AVX, F_RDTSCP };
    static const uint32_t named[][2] = {
        { 0, NS }, { 1, NS }, { 7, 0 }, { 0xd, 1 }, { 0x80000001, NS }, { 0x80000008, NS },
    };
    cpupolicy_handle_t *h = open_ok(sim_uri(faulting_hosts[_i], ",cpus=2"));
    uint32_t d = domain_without(h, CPUPOLICY_DOMAIN_PV, drop, N(drop));
    uint32_t flags = GUARD, leaked[NR_WORDS], lost[NR_WORDS], v;
    cpupolicy_t *pol = dom_policy(h, d);
    cpupolicy_sim_counters_t c;
    char what[256];
    unsigned n;
    int i;

    RC(0, cpupolicy_sim_reset_counters(h));
    /* The leaves the issue names, register by register (0xd:1 ebx is the size for the
     * vCPU's XCR0|XSS, not policy data). */
    for ( i = 0; i < N(named); ++i )
        for ( v = 0; v < 2; ++v )
        {
            cpupolicy_leaf_t want = cpuid_of(pol, named[i][0], named[i][1]);
            cpupolicy_leaf_t got = guest_cpuid(h, d, v, CPUPOLICY_PATH_AUTO,
                                               CPUPOLICY_PATH_FAULTING, named[i][0],
                                               named[i][1] == NS ? 0 : named[i][1]);
            if ( named[i][0] == 0xd )
                want.b = got.b = 0;
            snprintf(what, sizeof(what), "%s vcpu %u", faulting_hosts[_i], v);
            assert_leaf(what, named[i][0], named[i][1], &want, &got);
        }
    c = counters(h);
    ck_assert_msg(c.cpuid_faulting == 2 * N(named) && c.cpuid_native == 0,
                  "counters: expected %d faulting, 0 native; got %llu, %llu", 2 * N(named),
                  (unsigned long long)c.cpuid_faulting, (unsigned long long)c.cpuid_native);
    /* And every other leaf the policy holds. */
    snprintf(what, sizeof(what), "%s PV via faulting", faulting_hosts[_i]);
    n = assert_guest_sees_policy(h, d, 1, CPUPOLICY_PATH_FAULTING, CPUPOLICY_PATH_FAULTING, 0,
                                 what);
    ck_assert_msg(n > 20, "%s: compared %u leaves, expected the whole policy", what, n);

    gap_of(h, d, &flags, leaked, lost);
    ck_assert_msg(flags == (CPUPOLICY_GAP_APPLIES | CPUPOLICY_GAP_BY_FAULTING |
                            CPUPOLICY_GAP_COMPLETE),
                  "%s gap flags: expected %#x, got %#x", faulting_hosts[_i],
                  CPUPOLICY_GAP_APPLIES | CPUPOLICY_GAP_BY_FAULTING | CPUPOLICY_GAP_COMPLETE,
                  flags);
    ck_assert_msg(fs_empty(leaked) && fs_empty(lost), "%s gap: leaked {%s} lost {%s}",
                  faulting_hosts[_i], fs_names(leaked), fs_names(lost));
    RC(-EOPNOTSUPP, cpupolicy_sim_cpuid(h, d, 0, CPUPOLICY_PATH_NATIVE, 0, 1, 0,
                                        &(cpupolicy_leaf_t){ 0 }, NULL, NULL));
    EV(cpupolicy_free(pol));
    close_handle(h);
}
END_TEST

/* The forced emulation prefix is always emulated from the policy, even where native
 * CPUID would see the masked hardware: on Sandy Bridge the FEP answer has hypervisor and
 * no vmx, whatever the masks let through. */
START_TEST(fep_answers_from_the_policy_on_any_host)
{
    static const uint32_t drop[] = { F_AVX };
    static const char *const hosts[] = { DUMP_SNB, DUMP_NHM, DUMP_HSW, DUMP_MILAN };
    cpupolicy_handle_t *h = open_ok(sim_uri(hosts[_i], ",cpus=2"));
    uint32_t pv = domain_without(h, CPUPOLICY_DOMAIN_PV, drop, N(drop));
    uint32_t hvm = domain_without(h, CPUPOLICY_DOMAIN_HVM, drop, N(drop));
    cpupolicy_sim_counters_t c;
    char what[256];
    unsigned n1, n2;

    RC(0, cpupolicy_sim_reset_counters(h));
    snprintf(what, sizeof(what), "%s PV via FEP", hosts[_i]);
    n1 = assert_guest_sees_policy(h, pv, 0, CPUPOLICY_PATH_FEP, CPUPOLICY_PATH_FEP, 0, what);
    snprintf(what, sizeof(what), "%s HVM via FEP", hosts[_i]);
    n2 = assert_guest_sees_policy(h, hvm, 1, CPUPOLICY_PATH_FEP, CPUPOLICY_PATH_FEP, 1, what);
    c = counters(h);
    ck_assert_msg(c.cpuid_fep == n1 + n2 && c.cpuid_native == 0 && c.cpuid_hvm == 0 &&
                      c.cpuid_faulting == 0,
                  "%s counters: expected fep %u only, got fep %llu native %llu hvm %llu faulting %llu",
                  hosts[_i], n1 + n2, (unsigned long long)c.cpuid_fep,
                  (unsigned long long)c.cpuid_native, (unsigned long long)c.cpuid_hvm,
                  (unsigned long long)c.cpuid_faulting);
    close_handle(h);
}
END_TEST

/* HVM: every CPUID exits; AUTO takes the HVM path and answers from the policy; the
 * per-vCPU fields are the documented ones (APIC ID 2 x vcpu); native and faulting paths
 * cannot happen for HVM. */
START_TEST(hvm_cpuid_exits_to_the_policy)
{
    static const uint32_t drop[] = { F_AVX2, F_AVX };
    static const char *const hosts[] = { DUMP_SNB, DUMP_HSW, DUMP_MILAN, DUMP_GENOA };
    cpupolicy_handle_t *h = open_ok(sim_uri(hosts[_i], ",cpus=2"));
    uint32_t d = domain_without(h, CPUPOLICY_DOMAIN_HVM, drop, N(drop)), v, flags;
    uint32_t leaked[NR_WORDS], lost[NR_WORDS];
    cpupolicy_leaf_t out;
    char what[256];

    for ( v = 0; v < 2; ++v )
    {
        cpupolicy_leaf_t l1 = guest_cpuid(h, d, v, CPUPOLICY_PATH_AUTO, CPUPOLICY_PATH_HVM, 1, 0);
        ck_assert_msg(l1.b >> 24 == 2 * v, "%s HVM vcpu %u leaf 1 ebx %08x: expected APIC ID %u",
                      hosts[_i], v, l1.b, 2 * v);
        ck_assert_msg(!(l1.c & (1u << (F_AVX - 32))) && (l1.c >> 31),
                      "%s HVM leaf 1 ecx %08x: expected no avx, hypervisor set", hosts[_i], l1.c);
        snprintf(what, sizeof(what), "%s HVM vcpu %u", hosts[_i], v);
        assert_guest_sees_policy(h, d, v, CPUPOLICY_PATH_HVM, CPUPOLICY_PATH_HVM, 1, what);
    }
    RC(-EOPNOTSUPP, cpupolicy_sim_cpuid(h, d, 0, CPUPOLICY_PATH_NATIVE, 0, 1, 0, &out, NULL, NULL));
    RC(-EOPNOTSUPP, cpupolicy_sim_cpuid(h, d, 0, CPUPOLICY_PATH_FAULTING, 0, 1, 0, &out, NULL, NULL));
    /* Nothing to level for HVM: levelling does not apply, nothing leaks or is lost, so
     * the statement is complete. */
    gap_of(h, d, &flags, leaked, lost);
    ck_assert_msg(flags == CPUPOLICY_GAP_COMPLETE && fs_empty(leaked) && fs_empty(lost),
                  "%s HVM gap: expected flags %#x and nothing, got flags %#x leaked {%s} lost {%s}",
                  hosts[_i], CPUPOLICY_GAP_COMPLETE, flags, fs_names(leaked), fs_names(lost));
    close_handle(h);
}
END_TEST

/* Every path that cannot happen, and every bad argument, with its errno. */
START_TEST(sim_cpuid_refuses_impossible_paths_and_bad_arguments)
{
    cpupolicy_handle_t *snb = open_ok(sim_uri(DUMP_SNB, ",cpus=2"));
    cpupolicy_handle_t *hsw = open_ok(sim_uri(DUMP_HSW, ",cpus=2"));
    uint32_t pv = create_domain(snb, CPUPOLICY_DOMAIN_PV);
    uint32_t pv_f = create_domain(hsw, CPUPOLICY_DOMAIN_PV);
    cpupolicy_leaf_t out;
    unsigned taken = 77, fault = 77;

    /* Not started yet. */
    RC(-EBUSY, cpupolicy_sim_cpuid(snb, pv, 0, CPUPOLICY_PATH_AUTO, 0, 1, 0, &out, &taken, &fault));
    ck_assert_msg(taken == 77 && fault == 77, "refused call wrote path %u fault %u", taken, fault);
    RC(0, cpupolicy_domain_start(snb, pv));
    RC(0, cpupolicy_domain_start(hsw, pv_f));
    RC(-EOPNOTSUPP, cpupolicy_sim_cpuid(snb, pv, 0, CPUPOLICY_PATH_FAULTING, 0, 1, 0, &out, NULL, NULL));
    RC(-EOPNOTSUPP, cpupolicy_sim_cpuid(snb, pv, 0, CPUPOLICY_PATH_HVM, 0, 1, 0, &out, NULL, NULL));
    RC(-EOPNOTSUPP, cpupolicy_sim_cpuid(hsw, pv_f, 0, CPUPOLICY_PATH_NATIVE, 0, 1, 0, &out, NULL, NULL));
    RC(-EOPNOTSUPP, cpupolicy_sim_cpuid(hsw, pv_f, 0, CPUPOLICY_PATH_HVM, 0, 1, 0, &out, NULL, NULL));
    RC(-ESRCH, cpupolicy_sim_cpuid(snb, 0x7fefu, 0, CPUPOLICY_PATH_AUTO, 0, 1, 0, &out, NULL, NULL));
    RC(-EINVAL, cpupolicy_sim_cpuid(snb, pv, 2, CPUPOLICY_PATH_AUTO, 0, 1, 0, &out, NULL, NULL));
    RC(-EINVAL, cpupolicy_sim_cpuid(snb, pv, 0, 5, 0, 1, 0, &out, NULL, NULL));
    RC(-EINVAL, cpupolicy_sim_cpuid(snb, pv, 0, CPUPOLICY_PATH_AUTO, 4, 1, 0, &out, NULL, NULL));
    RC(-EINVAL, cpupolicy_sim_cpuid(snb, pv, 0, CPUPOLICY_PATH_AUTO, 0, 1, 0, NULL, NULL, NULL));
    RC(-EINVAL, cpupolicy_sim_cpuid(NULL, pv, 0, CPUPOLICY_PATH_AUTO, 0, 1, 0, &out, NULL, NULL));
    /* The control domain is a started PV guest too. */
    RC(0, cpupolicy_sim_cpuid(snb, 0, 0, CPUPOLICY_PATH_AUTO, 0, 1, 0, &out, &taken, &fault));
    ck_assert_msg(taken == CPUPOLICY_PATH_NATIVE && fault == CPUPOLICY_FAULT_NONE,
                  "dom0 on SNB: expected native, no fault; got path %u fault %u", taken, fault);
    /* A destroyed domain is gone for the simulator too. */
    RC(0, cpupolicy_domain_destroy(snb, pv));
    RC(-ESRCH, cpupolicy_sim_cpuid(snb, pv, 0, CPUPOLICY_PATH_AUTO, 0, 1, 0, &out, NULL, NULL));
    close_handle(snb);
    close_handle(hsw);
}
END_TEST

START_TEST(sim_queries_refuse_bad_arguments)
{
    cpupolicy_handle_t *h = open_ok(sim_uri(DUMP_SNB, ""));
    uint32_t d = create_domain(h, CPUPOLICY_DOMAIN_PV), flags = GUARD, buf[NR_WORDS + 4], i;
    cpupolicy_sim_counters_t c;
    uint64_t n;

    RC(-EINVAL, cpupolicy_sim_get_counters(h, NULL));
    RC(-EINVAL, cpupolicy_sim_get_counters(NULL, &c));
    RC(-EINVAL, cpupolicy_sim_reset_counters(NULL));
    RC(-EINVAL, cpupolicy_sim_msr_writes(h, 0x132, NULL));
    RC(-EINVAL, cpupolicy_sim_msr_writes(NULL, 0x132, &n));
    RC(-EINVAL, cpupolicy_sim_run(NULL, 1, NULL));
    RC(-EINVAL, cpupolicy_sim_levelling_gap(h, d, NULL, buf, NULL, NR_WORDS));
    RC(-EINVAL, cpupolicy_sim_levelling_gap(h, d, &flags, NULL, NULL, NR_WORDS));
    RC(-EINVAL, cpupolicy_sim_levelling_gap(NULL, d, &flags, buf, NULL, NR_WORDS));
    RC(-ESRCH, cpupolicy_sim_levelling_gap(h, 0x7fefu, &flags, buf, NULL, NR_WORDS));
    RC(0, cpupolicy_sim_levelling_gap(h, d, &flags, NULL, NULL, 0));
    ck_assert_msg(flags == CPUPOLICY_GAP_APPLIES, "flags only: expected %#x, got %#x",
                  CPUPOLICY_GAP_APPLIES, flags);
    /* A short buffer gets its words, and nothing beyond. */
    for ( i = 0; i < NR_WORDS + 4; ++i )
        buf[i] = GUARD;
    RC(0, cpupolicy_sim_levelling_gap(h, d, &flags, buf, NULL, 8));
    for ( i = 8; i < NR_WORDS + 4; ++i )
        ck_assert_msg(buf[i] == GUARD, "8-word gap wrote word %u: %08x", i, buf[i]);
    ck_assert_msg(buf[7] == 1u << (F_ITSC % 32), "word 7 (e7d): expected itsc, got %08x", buf[7]);
    RC(0, cpupolicy_sim_msr_writes(h, 0x12345678u, &n));
    ck_assert_msg(n == 0, "writes to an MSR nobody has: expected 0, got %llu", (unsigned long long)n);
    close_handle(h);
}
END_TEST

/* --- the lazy context switch ---------------------------------------------------------- */

/* One CPU (so every vCPU shares CPU 0).  The first switch from the host defaults into a
 * PV domain writes the leaf-1 (0x132) and 0x80000001 (0x133) masks once each; 0x134
 * keeps its default, since this dump has no 0xd:1 features (see above).  After that,
 * the domain's two vCPUs alternating write nothing. */
START_TEST(vcpus_of_one_domain_alternate_without_msr_writes)
{
    static const uint32_t drop[] = { F_AVX };
    cpupolicy_handle_t *h = open_ok(sim_uri(DUMP_SNB, ",cpus=1"));
    uint32_t d = domain_without(h, CPUPOLICY_DOMAIN_PV, drop, N(drop));
    cpupolicy_sim_counters_t c;
    int k;

    RC(0, cpupolicy_sim_reset_counters(h));
    guest_cpuid(h, d, 0, CPUPOLICY_PATH_AUTO, CPUPOLICY_PATH_NATIVE, 1, 0);
    c = counters(h);
    ck_assert_msg(c.context_switches == 1 && c.levelling_writes == 2 && c.msr_writes == 2 &&
                      writes_to(h, 0x132) == 1 && writes_to(h, 0x133) == 1 &&
                      writes_to(h, 0x134) == 0,
                  "first switch: expected 1 switch, 2 writes (0x132, 0x133), got %llu "
                  "switches, %llu levelling, %llu total, 0x132 %llu 0x133 %llu 0x134 %llu",
                  (unsigned long long)c.context_switches, (unsigned long long)c.levelling_writes,
                  (unsigned long long)c.msr_writes, (unsigned long long)writes_to(h, 0x132),
                  (unsigned long long)writes_to(h, 0x133), (unsigned long long)writes_to(h, 0x134));

    RC(0, cpupolicy_sim_reset_counters(h));
    for ( k = 0; k < 10; ++k )
    {
        guest_cpuid(h, d, 1, CPUPOLICY_PATH_AUTO, CPUPOLICY_PATH_NATIVE, 1, 0);
        guest_cpuid(h, d, 0, CPUPOLICY_PATH_AUTO, CPUPOLICY_PATH_NATIVE, 1, 0);
    }
    c = counters(h);
    ck_assert_msg(c.context_switches == 20 && c.levelling_writes == 0 && c.msr_writes == 0 &&
                      c.cpuid_native == 20,
                  "two vCPUs of one domain x10: expected 20 switches, 0 writes, 20 native CPUIDs; "
                  "got %llu switches, %llu levelling writes, %llu writes, %llu native",
                  (unsigned long long)c.context_switches, (unsigned long long)c.levelling_writes,
                  (unsigned long long)c.msr_writes, (unsigned long long)c.cpuid_native);
    close_handle(h);
}
END_TEST

/* Two domains alternating on one CPU: each switch writes exactly the masks whose values
 * differ.  A (PV default) vs B (no avx): leaf 1 only, 0x132.  A vs C (no rdtscp):
 * 0x80000001 only, 0x133.  B vs D (no popcnt, no rdtscp): both. */
START_TEST(two_domains_alternating_write_only_the_differing_masks)
{
    static const uint32_t drop_b[] = { F_AVX }, drop_c[] = { F_RDTSCP },
                          drop_d[] = { F_POPCNT, F_RDTSCP };
    static const struct {
        const char *what;
        int x, y; /* domains: 0 A, 1 B, 2 C, 3 D */
        uint64_t w132, w133, w134;
    } rows[] = {
        { "A<->B (avx)", 0, 1, 20, 0, 0 },
        { "A<->C (rdtscp)", 0, 2, 0, 20, 0 },
        { "B<->D (avx vs popcnt, rdtscp)", 1, 3, 20, 20, 0 },
        { "C<->D (popcnt)", 2, 3, 20, 0, 0 },
    };
    cpupolicy_handle_t *h = open_ok(sim_uri(DUMP_SNB, ",cpus=1"));
    uint32_t dom[4];
    int r, k;

    dom[0] = domain_without(h, CPUPOLICY_DOMAIN_PV, NULL, 0);
    dom[1] = domain_without(h, CPUPOLICY_DOMAIN_PV, drop_b, N(drop_b));
    dom[2] = domain_without(h, CPUPOLICY_DOMAIN_PV, drop_c, N(drop_c));
    dom[3] = domain_without(h, CPUPOLICY_DOMAIN_PV, drop_d, N(drop_d));
    for ( r = 0; r < N(rows); ++r )
    {
        cpupolicy_sim_counters_t c;
        uint64_t total;
        guest_cpuid(h, dom[rows[r].x], 0, CPUPOLICY_PATH_AUTO, CPUPOLICY_PATH_NATIVE, 1, 0);
        RC(0, cpupolicy_sim_reset_counters(h));
        for ( k = 0; k < 10; ++k )
        {
            guest_cpuid(h, dom[rows[r].y], 0, CPUPOLICY_PATH_AUTO, CPUPOLICY_PATH_NATIVE, 1, 0);
            guest_cpuid(h, dom[rows[r].x], 0, CPUPOLICY_PATH_AUTO, CPUPOLICY_PATH_NATIVE, 1, 0);
        }
        c = counters(h);
        total = rows[r].w132 + rows[r].w133 + rows[r].w134;
        ck_assert_msg(c.context_switches == 20 && writes_to(h, 0x132) == rows[r].w132 &&
                          writes_to(h, 0x133) == rows[r].w133 &&
                          writes_to(h, 0x134) == rows[r].w134 && c.levelling_writes == total &&
                          c.msr_writes == total,
                      "%s x10: expected 20 switches, writes 0x132 %llu 0x133 %llu 0x134 %llu "
                      "(total %llu); got %llu switches, %llu %llu %llu (levelling %llu, all %llu)",
                      rows[r].what, (unsigned long long)rows[r].w132,
                      (unsigned long long)rows[r].w133, (unsigned long long)rows[r].w134,
                      (unsigned long long)total, (unsigned long long)c.context_switches,
                      (unsigned long long)writes_to(h, 0x132), (unsigned long long)writes_to(h, 0x133),
                      (unsigned long long)writes_to(h, 0x134), (unsigned long long)c.levelling_writes,
                      (unsigned long long)c.msr_writes);
    }
    close_handle(h);
}
END_TEST

/* Round-robin scheduling on one CPU: dom0 (PV default, 1 vCPU), A (PV default, 2 vCPUs)
 * and B (no avx, 2 vCPUs) take turns in (domid, vcpu) order.  Per round of five switches
 * only A.v1 -> B.v0 and B.v1 -> dom0.v0 change the leaf-1 mask: 50 slices make 50
 * switches and exactly 20 writes, all to 0x132. */
START_TEST(round_robin_writes_only_where_the_policy_changes)
{
    static const uint32_t drop_b[] = { F_AVX };
    cpupolicy_handle_t *h = open_ok(sim_uri(DUMP_SNB, ",cpus=1"));
    uint32_t a = domain_without(h, CPUPOLICY_DOMAIN_PV, NULL, 0);
    uint32_t b = domain_without(h, CPUPOLICY_DOMAIN_PV, drop_b, N(drop_b));
    cpupolicy_sim_counters_t c;
    uint64_t n = 0;

    ck_assert_msg(a == 1 && b == 2, "premise: domids 1 and 2, got %u and %u", a, b);
    RC(0, cpupolicy_sim_run(h, 5, &n)); /* one full round: every vCPU has run */
    RC(0, cpupolicy_sim_reset_counters(h));
    RC(0, cpupolicy_sim_run(h, 50, &n));
    c = counters(h);
    ck_assert_msg(n == 50 && c.context_switches == 50 && c.levelling_writes == 20 &&
                      writes_to(h, 0x132) == 20 && writes_to(h, 0x133) == 0 &&
                      writes_to(h, 0x134) == 0 && c.msr_writes == 20,
                  "50 slices: expected 50 switches, 20 writes all to 0x132; got %llu (%llu), "
                  "levelling %llu, 0x132 %llu 0x133 %llu 0x134 %llu, all %llu",
                  (unsigned long long)n, (unsigned long long)c.context_switches,
                  (unsigned long long)c.levelling_writes, (unsigned long long)writes_to(h, 0x132),
                  (unsigned long long)writes_to(h, 0x133), (unsigned long long)writes_to(h, 0x134),
                  (unsigned long long)c.msr_writes);
    close_handle(h);
}
END_TEST

/* On a faulting host (Haswell-EP, one CPU) the only levelling MSR is
 * MISC_FEATURES_ENABLES (0x140): two PV domains alternating keep faulting on (no write);
 * PV alternating with HVM toggles it on every switch (HVM CPUID exits anyway, so the
 * host default - off - is loaded for it). */
START_TEST(faulting_toggles_only_when_it_changes)
{
    static const uint32_t drop[] = { F_AVX };
    cpupolicy_handle_t *h = open_ok(sim_uri(DUMP_HSW, ",cpus=1"));
    uint32_t p1 = domain_without(h, CPUPOLICY_DOMAIN_PV, NULL, 0);
    uint32_t p2 = domain_without(h, CPUPOLICY_DOMAIN_PV, drop, N(drop));
    uint32_t hv = domain_without(h, CPUPOLICY_DOMAIN_HVM, NULL, 0);
    cpupolicy_sim_counters_t c;
    int k;

    guest_cpuid(h, p1, 0, CPUPOLICY_PATH_AUTO, CPUPOLICY_PATH_FAULTING, 1, 0);
    RC(0, cpupolicy_sim_reset_counters(h));
    for ( k = 0; k < 10; ++k )
    {
        guest_cpuid(h, p2, 0, CPUPOLICY_PATH_AUTO, CPUPOLICY_PATH_FAULTING, 1, 0);
        guest_cpuid(h, p1, 0, CPUPOLICY_PATH_AUTO, CPUPOLICY_PATH_FAULTING, 1, 0);
    }
    c = counters(h);
    ck_assert_msg(c.context_switches == 20 && c.msr_writes == 0,
                  "PV<->PV on a faulting host: expected 20 switches, 0 writes; got %llu, %llu",
                  (unsigned long long)c.context_switches, (unsigned long long)c.msr_writes);
    RC(0, cpupolicy_sim_reset_counters(h));
    for ( k = 0; k < 10; ++k )
    {
        guest_cpuid(h, hv, 0, CPUPOLICY_PATH_AUTO, CPUPOLICY_PATH_HVM, 1, 0);
        guest_cpuid(h, p1, 0, CPUPOLICY_PATH_AUTO, CPUPOLICY_PATH_FAULTING, 1, 0);
    }
    c = counters(h);
    ck_assert_msg(c.context_switches == 20 && writes_to(h, 0x140) == 20 &&
                      c.levelling_writes == 20 && c.msr_writes == 20,
                  "PV<->HVM on a faulting host: expected 20 writes to 0x140; got %llu switches, "
                  "0x140 %llu, levelling %llu, all %llu",
                  (unsigned long long)c.context_switches, (unsigned long long)writes_to(h, 0x140),
                  (unsigned long long)c.levelling_writes, (unsigned long long)c.msr_writes);
    close_handle(h);
}
END_TEST

/* --- suite ------------------------------------------------------------------------------ */

static Suite *sim_suite(void)
{
    Suite *s = suite_create("sim");
    TCase *tc;

    tc = tcase_create("caps");
    tcase_add_loop_test(tc, levelling_caps_follow_the_model_and_the_dump, 0, N(caps_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("masking");
    tcase_add_test(tc, snb_pv_native_cpuid_sees_leaf1_through_the_and_mask);
    tcase_add_test(tc, snb_pv_without_xsave_loses_avx_natively);
    tcase_add_test(tc, snb_gap_reports_exactly_what_masking_cannot_level);
    tcase_add_test(tc, nehalem_gap_reports_the_leaf_7_gap);
    tcase_add_loop_test(tc, gap_matches_what_native_cpuid_shows, 0, N(non_faulting));
    tcase_add_loop_test(tc, leaf7_avx2_hidden_by_amd_mask_but_leaked_without_one, 0, 2);
    tcase_add_test(tc, amd_override_mask_shows_hypervisor_natively);
    suite_add_tcase(s, tc);

    tc = tcase_create("paths");
    tcase_add_loop_test(tc, faulting_host_pv_guest_sees_exactly_its_policy, 0, N(faulting_hosts));
    tcase_add_loop_test(tc, fep_answers_from_the_policy_on_any_host, 0, 4);
    tcase_add_loop_test(tc, hvm_cpuid_exits_to_the_policy, 0, 4);
    tcase_add_test(tc, sim_cpuid_refuses_impossible_paths_and_bad_arguments);
    tcase_add_test(tc, sim_queries_refuse_bad_arguments);
    suite_add_tcase(s, tc);

    tc = tcase_create("context-switch");
    tcase_add_test(tc, vcpus_of_one_domain_alternate_without_msr_writes);
    tcase_add_test(tc, two_domains_alternating_write_only_the_differing_masks);
    tcase_add_test(tc, round_robin_writes_only_where_the_policy_changes);
    tcase_add_test(tc, faulting_toggles_only_when_it_changes);
    suite_add_tcase(s, tc);

    return s;
}

int main(void)
{
    return run_suite(sim_suite());
}
