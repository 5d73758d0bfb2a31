// SPDX-License-Identifier: MIT
// Levelling end to end on the real dumps: the capabilities each host has, what a PV
// guest's native CPUID shows through the masks the context switch loaded (computed by the
// simulated CPU, independently of the core), the gap statement the core predicts, and
// the exact levelling that faulting gives.
//
// Facts: the caps each dump must give follow from masking.hpp's model table and the
// dumps' own PLATFORM_INFO (bit 31 set on Haswell-EP, Broadwell-E, Sapphire, Granite and
// Emerald Rapids) and CPUID 0x80000021.eax[17] (Genoa, Bergamo, Turin).
#include "hv_harness.hpp"

#include "cpupolicy/compat.hpp"

using namespace hvtest;

namespace {

const char *const ALL_DUMPS[] = {NEHALEM,  SANDYBRIDGE, IVYBRIDGE, HASWELL, BROADWELL,
                                 SKYLAKE,  CASCADELAKE, ICELAKE,   SAPPHIRE, GRANITE,
                                 EMERALD,  ISTANBUL,    INTERLAGOS, ZEN,    ROME,
                                 MILAN,    GENOA,       BERGAMO,   TURIN,   HYGON};

// The feature bits of word w a PV guest kernel's own CR4 decides (never judged).
Featureset dynamic_bits()
{
    Featureset d;
    d.set(F("osxsave"));
    d.set(F("ospke"));
    return d;
}
Featureset forwarded_bits()
{
    Featureset f;
    f.set(F("htt"));
    f.set(F("x2apic"));
    f.set(F("cmp-legacy"));
    f.set(F("apic"));
    return f;
}

// What the guest's CPUID shows in featureset word w, executed through `path`.
uint32_t guest_word(SimMachine &m, DomId d, unsigned w, CpuidPath path = CpuidPath::automatic)
{
    const WordSource &src = table::words[w].src;
    GuestCpuidOutcome o = run_cpuid(m, d, 0, raw(src.leaf), src.subleaf == kNoSubleaf ? 0 : raw(src.subleaf),
                                    path, 3, __LINE__);
    return reg(o.regs, src.reg);
}

// Reduce a domain's policy: clear whichever of these the policy has (closure applied by
// the hypercall).  Leaf 1, 0x80000001, 0xd:1 and leaf 7 features, so every mask matters.
Featureset reduced(const Featureset &fs)
{
    Featureset r = fs;
    for ( Feature f : {F("aesni"), F("sse4-2"), F("lahf-lm"), F("xsaveopt"), F("fsgsbase"),
                       F("bmi1"), F("sha"), F("rdtscp"), F("abm")} )
        r.clear(f);
    return r;
}

} // namespace

// The levelling caps of every dump's CPU (bitmap with the historic bit numbers).
TEST(levelling_caps_of_every_dump)
{
    struct Row {
        const char *dump;
        uint32_t caps;
    };
    const Row rows[] = {
        {NEHALEM, 0x1e},      // 0x130 leaf 1 ecx/edx, 0x131 0x80000001 ecx/edx
        {SANDYBRIDGE, 0x3e},  // + 0x134 xsave_eax
        {IVYBRIDGE, 0},       // no masks for model 0x3e, no PLATFORM_INFO in the dump
        {HASWELL, 0x1},       // PLATFORM_INFO bit 31: faulting only
        {BROADWELL, 0x1},
        {SKYLAKE, 0},
        {CASCADELAKE, 0},
        {ICELAKE, 0},
        {SAPPHIRE, 0x1},
        {GRANITE, 0x1},
        {EMERALD, 0x1},
        {ISTANBUL, 0x1e},     // fam 10h, max leaf 5: no 0xc0011002
        {INTERLAGOS, 0x1de},  // fam 15h: + l7s0_eax/ebx, thermal_ecx
        {ZEN, 0x19e},
        {ROME, 0x19e},
        {MILAN, 0x19e},
        {GENOA, 0x1},         // CpuidUserDis
        {BERGAMO, 0x1},
        {TURIN, 0x1},
        {HYGON, 0x19e},
    };
    for ( const Row &r : rows )
    {
        auto m = boot(r.dump);
        if ( !m )
            continue;
        uint32_t caps = 0;
        EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_levelling_caps(CONTROL_DOMID, &caps); }));
        EXPECT_EQ(std::string(r.dump) + " " + hex(r.caps), std::string(r.dump) + " " + hex(caps));
        EXPECT_EQ(m->hv().levelling_caps().expected, m->hv().levelling_caps().caps);
    }
}

// The property that ties the core to the hardware model, on every dump: for a PV domain
// (default policy, and a reduced one), what native CPUID actually shows differs from the
// policy in exactly the bits the core's gap statement lists as leaked / lost /
// forwarded, word by word; and on a faulting host there is no difference at all.
TEST(gap_statement_matches_what_native_cpuid_shows_on_every_dump)
{
    const Featureset dyn = dynamic_bits(), fwd = forwarded_bits();
    const Featureset judged = features::known.and_not(dyn);
    for ( const char *file : ALL_DUMPS )
    {
        auto m = boot(file);
        if ( !m )
            continue;
        for ( int variant = 0; variant < 2; ++variant )
        {
            DomId d = create_domain(*m, DomainType::pv);
            if ( variant == 1 )
                REQUIRE_RC(0, set_featureset(*m, d, reduced(policy_to_featureset(domain_policy(*m, d)))));
            REQUIRE_RC(0, start(*m, d));
            LevellingGap gap{};
            REQUIRE_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_levelling(CONTROL_DOMID, d, gap); }));
            const Featureset pol = policy_to_featureset(domain_policy(*m, d));
            const Policy &raw = m->hv().system_policy(PolicyIndex::raw);
            Featureset leaked, lost, forwarded;
            for ( unsigned w = 0; w < NR_FEATUREWORDS; ++w )
            {
                const WordSource &src = table::words[w].src;
                // A leaf beyond the host's own range is not enumerated to the guest either
                // (it sees the host's max leaves natively); Intel answers it with the
                // highest basic leaf's data, which is not feature information.
                if ( src.is_msr || !policy_in_range(raw, src.leaf, src.subleaf) )
                    continue;
                uint32_t nat = guest_word(*m, d, w), p = pol.w[w];
                uint32_t jm = judged.w[w] & ~fwd.w[w];
                leaked.w[w] = nat & ~p & jm;
                lost.w[w] = p & ~nat & jm;
                forwarded.w[w] = (nat ^ p) & fwd.w[w] & judged.w[w];
            }
            std::string tag = std::string(file) + (variant ? " reduced" : " default");
            EXPECT_EQ(tag + ": " + feature_names(gap.leaked), tag + ": " + feature_names(leaked));
            EXPECT_EQ(tag + ": " + feature_names(gap.lost), tag + ": " + feature_names(lost));
            EXPECT_EQ(tag + ": " + feature_names(gap.forwarded), tag + ": " + feature_names(forwarded));
            if ( gap.by_faulting )
                EXPECT_EQ(tag + ": (none)", tag + ": " + feature_names(leaked | lost | forwarded));
        }
    }
}

// Sandy Bridge-EP (masking: 0x132 leaf 1, 0x133 0x80000001, 0x134 0xd:1): a PV domain
// without AES, SSE4.2 and LAHF_LM sees exactly its policy in those leaves
// through native CPUID - except what Xen forwards on purpose (X2APIC, HTT, APIC), the
// guest's own OSXSAVE, and HYPERVISOR, which an AND mask cannot add.  (The dump records
// no leaf 0xd subleaf 1, so 0xd:1.eax is zero on this host and its mask carries zeros.)
TEST(sandybridge_pv_native_cpuid_shows_only_its_policy_in_masked_leaves)
{
    auto m = boot(SANDYBRIDGE);
    if ( !m )
        return;
    DomId d = create_domain(*m, DomainType::pv);
    Featureset fs = policy_to_featureset(domain_policy(*m, d));
    for ( Feature f : {F("aesni"), F("sse4-2"), F("lahf-lm")} )
    {
        EXPECT_TRUE(fs.test(f));  // premise: the default has them (so the host does)
        fs.clear(f);
    }
    REQUIRE_RC(0, set_featureset(*m, d, fs));
    REQUIRE_RC(0, start(*m, d));
    const Featureset pol = policy_to_featureset(domain_policy(*m, d));
    const Featureset dyn = dynamic_bits(), fwd = forwarded_bits();
    for ( unsigned w : {0u, 1u, 2u, 3u, 4u} )  // 1.edx, 1.ecx, e1.edx, e1.ecx, 0xd:1.eax
    {
        uint32_t nat = guest_word(*m, d, w);
        EXPECT_TRUE(guest_word(*m, d, w) == nat);  // same answer twice (no side effects)
        uint32_t ignore = dyn.w[w] | fwd.w[w] | (w == 1 ? (1u << 31) : 0);
        EXPECT_EQ(std::string(table::words[w].label) + " " + hex(pol.w[w] & ~ignore),
                  std::string(table::words[w].label) + " " + hex(nat & ~ignore));
    }
    // The removed features: present on the hardware, absent for the guest.
    for ( Feature f : {F("aesni"), F("sse4-2"), F("lahf-lm")} )
    {
        unsigned w = raw(f) / 32;
        uint32_t b = 1u << (raw(f) % 32);
        const WordSource &src = table::words[w].src;
        EXPECT_TRUE(reg(m->cpu(0).cpuid_unmasked(raw(src.leaf), src.subleaf == kNoSubleaf ? 0 : raw(src.subleaf)),
                        src.reg) & b);
        EXPECT_EQ(0u, guest_word(*m, d, w) & b);
    }
    // HYPERVISOR: in the policy, not in native CPUID, and the gap says so.
    EXPECT_TRUE(pol.test(F("hypervisor")));
    EXPECT_EQ(0u, guest_word(*m, d, 1) & (1u << 31));
    const DomainLevelling *lev = m->hv().domain_levelling(d);
    EXPECT_TRUE(lev && lev->gap.lost.test(F("hypervisor")));
    // The forced emulation prefix answers from the policy: HYPERVISOR is there.
    GuestCpuidOutcome fep = run_cpuid(*m, d, 0, 1, 0, CpuidPath::fep, 3, __LINE__);
    EXPECT_TRUE(fep.path == CpuidPath::fep);
    EXPECT_TRUE(fep.regs.c & (1u << 31));
}

// Nehalem-EP has leaf-1 and 0x80000001 masks only.  The leaf-7 words (and 0xd:1,
// 0x80000007, 0x80000008, ...) are reported as not levellable; Nehalem has no leaf-7
// features at all, so nothing leaks there - but 0x80000007.edx does: ITSC, which the PV
// default policy does not offer (max-only), is visible to native CPUID and reported,
// not hidden.  A leaf-1 feature removed from the policy, by contrast, is hidden.
TEST(nehalem_reports_the_leaf7_and_0x80000007_gap_and_hides_leaf1)
{
    auto m = boot(NEHALEM);
    if ( !m )
        return;
    DomId d = create_domain(*m, DomainType::pv);
    Featureset fs = policy_to_featureset(domain_policy(*m, d));
    EXPECT_TRUE(fs.test(F("sse4-2")));
    fs.clear(F("sse4-2"));
    REQUIRE_RC(0, set_featureset(*m, d, fs));
    REQUIRE_RC(0, start(*m, d));
    LevellingGap gap{};
    REQUIRE_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_levelling(CONTROL_DOMID, d, gap); }));
    EXPECT_TRUE(gap.applies && !gap.by_faulting);
    // Words of leaf 7 (5: 7:0.ebx, 6: 7:0.ecx, 9: 7:0.edx, 10: 7:1.eax) and 4 (0xd:1.eax),
    // 7 (0x80000007.edx) are uncovered; 0-3 are covered.
    for ( unsigned w : {4u, 5u, 6u, 7u, 9u, 10u} )
        EXPECT_EQ(std::string(table::words[w].label) + " uncovered",
                  std::string(table::words[w].label) +
                      ((gap.uncovered_words >> w) & 1 ? " uncovered" : " covered"));
    EXPECT_EQ(0u, gap.uncovered_words & 0xf);
    // Leaf 7 on this host: nothing at all, so nothing to leak.
    EXPECT_EQ(Regs{}, m->cpu(0).cpuid_unmasked(7, 0));
    EXPECT_EQ(0u, gap.leaked.w[5] | gap.leaked.w[6] | gap.leaked.w[9]);
    // ITSC leaks, and is reported with its location.
    EXPECT_EQ(std::string("itsc"), feature_names(gap.leaked));
    bool found = false;
    for ( unsigned i = 0; i < gap.nr_words; ++i )
        if ( gap.words[i].leaked )
        {
            found = true;
            EXPECT_EQ(0x80000007u, raw(gap.words[i].leaf));
            EXPECT_TRUE(gap.words[i].reg == Reg::edx);
            EXPECT_TRUE(!gap.words[i].covered);
            EXPECT_EQ(1u << 8, gap.words[i].leaked);
        }
    EXPECT_TRUE(found);
    GuestCpuidOutcome o = run_cpuid(*m, d, 0, 0x80000007, 0, CpuidPath::native, 3, __LINE__);
    EXPECT_EQ(1u << 8, o.regs.d & (1u << 8));
    // SSE4.2 (leaf 1 ecx bit 20) is masked away.
    o = run_cpuid(*m, d, 0, 1, 0, CpuidPath::native, 3, __LINE__);
    EXPECT_EQ(0u, o.regs.c & (1u << 20));
    EXPECT_TRUE(m->cpu(0).cpuid_unmasked(1, 0).c & (1u << 20));
}

// The example: a CPU with leaf 7 features but only a leaf-1 mask and no faulting.
// No dump is one, so build it: Ivy Bridge-EP's CPUID with a Penryn signature (family 6
// model 0x17, whose only masking MSR is 0x478).  Leaf-1 features are levelled; every
// leaf-7 difference is reported with its leaf/subleaf/register, and leaks.
TEST(leaf7_on_a_leaf1_only_host_is_reported_with_location)
{
    SimConfig cfg;
    cfg.dump_path = dump_path(IVYBRIDGE);
    Regs l1{};
    {
        auto ivb = boot(IVYBRIDGE);
        if ( !ivb )
            return;
        l1 = ivb->cpu(0).cpuid_unmasked(1, 0);
    }
    cfg.cpuid_patch.push_back({1, 0, 0x00010676, l1.b, l1.c, l1.d});
    std::unique_ptr<SimMachine> m;
    std::string why;
    REQUIRE_RC(0, SimMachine::create(cfg, m, &why));
    EXPECT_TRUE(m->cpu(0).model().masks == MaskModel::intel_penryn);
    EXPECT_EQ(lcap::ecx | lcap::edx, m->hv().levelling_caps().caps);
    DomId d = create_domain(*m, DomainType::pv);
    Featureset fs = policy_to_featureset(domain_policy(*m, d));
    EXPECT_TRUE(fs.test(F("fsgsbase")) && fs.test(F("aesni")));
    fs.clear(F("fsgsbase"));
    fs.clear(F("aesni"));
    REQUIRE_RC(0, set_featureset(*m, d, fs));
    REQUIRE_RC(0, start(*m, d));
    const DomainLevelling *lev = m->hv().domain_levelling(d);
    if ( !lev )
        return;
    // 7:0.ebx of Ivy Bridge-EP is 0x281: FSGSBASE (bit 0), SMEP (7), ERMS (9).  The PV
    // policy has neither SMEP (HVM-only) nor, now, FSGSBASE: both leak, in 7:0.ebx.
    const LevellingGapWord *w5 = nullptr;
    for ( unsigned i = 0; i < lev->gap.nr_words; ++i )
        if ( lev->gap.words[i].word == 5 )
            w5 = &lev->gap.words[i];
    EXPECT_TRUE(w5 != nullptr);
    if ( w5 )
    {
        EXPECT_EQ(7u, raw(w5->leaf));
        EXPECT_EQ(0u, raw(w5->subleaf));
        EXPECT_TRUE(w5->reg == Reg::ebx && !w5->covered);
        EXPECT_EQ(0x81u, w5->leaked);  // fsgsbase | smep
    }
    GuestCpuidOutcome o = run_cpuid(*m, d, 0, 7, 0, CpuidPath::native, 3, __LINE__);
    EXPECT_EQ(0x281u, o.regs.b);
    // AES-NI (leaf 1 ecx bit 25) is hidden by the 0x478 mask.
    o = run_cpuid(*m, d, 0, 1, 0, CpuidPath::native, 3, __LINE__);
    EXPECT_EQ(0u, o.regs.c & (1u << 25));
    EXPECT_TRUE(!lev->gap.leaked.test(F("aesni")));
}

namespace {

// Registers guest CPUID fills from vCPU state rather than the policy (guest_cpuid.hpp).
Regs dynamic_mask(uint32_t leaf, uint32_t subleaf)
{
    Regs m{~0u, ~0u, ~0u, ~0u};
    switch ( leaf ) {
    case 1:
        m.b &= 0x00ffffffu;       // initial APIC ID
        m.c &= ~(1u << 27);       // OSXSAVE
        break;
    case 7:
        if ( subleaf == 0 )
            m.c &= ~(1u << 4);    // OSPKE
        break;
    case 0xb:
    case 0x1f:
        m.c &= ~0xffu;            // subleaf echo
        m.d = 0;                  // x2APIC ID
        break;
    case 0xd:
        if ( subleaf <= 1 )
            m.b = 0;              // xsave sizes for the current XCR0 / XSS
        break;
    case 0x80000001:
        m.d &= ~(1u << 9);        // AMD's APIC mirror
        break;
    default:
        break;
    }
    return m;
}

Regs masked(Regs r, Regs m) { return Regs{r.a & m.a, r.b & m.b, r.c & m.c, r.d & m.d}; }

} // namespace

// On every host with CPUID faulting (PLATFORM_INFO bit 31, or AMD CpuidUserDis) a PV
// guest's plain CPUID traps and sees exactly its policy, in every leaf and subleaf the
// policy holds (the vCPU-dependent fields aside), and zeros beyond the policy's range -
// where native CPUID on Intel would have repeated the highest basic leaf.
TEST(faulting_hosts_show_pv_guests_exactly_their_policy_everywhere)
{
    for ( const char *file : {HASWELL, BROADWELL, SAPPHIRE, GRANITE, EMERALD, GENOA, BERGAMO, TURIN} )
    {
        auto m = boot(file);
        if ( !m )
            continue;
        EXPECT_EQ(std::string(file) + " faulting", std::string(file) +
                  ((m->hv().levelling_caps().caps & lcap::faulting) ? " faulting" : " masking"));
        DomId d = create_domain(*m, DomainType::pv);
        REQUIRE_RC(0, set_featureset(*m, d, reduced(policy_to_featureset(domain_policy(*m, d)))));
        REQUIRE_RC(0, start(*m, d));
        const Policy p = domain_policy(*m, d);
        unsigned compared = 0, mismatches = 0;
        for ( uint32_t leaf = 0; leaf <= EXTD_LAST; leaf = leaf == BASIC_LAST ? EXTD_FIRST : leaf + 1 )
        {
            uint32_t nr = 0;
            LeafKind k = leaf_kind(Leaf{leaf}, &nr);
            for ( uint32_t s = 0; s < nr; ++s )
            {
                uint32_t sub = k == LeafKind::plain ? NO_SUBLEAF : s;
                GuestCpuidOutcome o = run_cpuid(*m, d, 0, leaf, k == LeafKind::plain ? 0 : s,
                                                CpuidPath::automatic, 3, __LINE__);
                if ( o.path != CpuidPath::faulting )
                {
                    report(__LINE__, std::string(file) + " path", "faulting", cpuid_path_name(o.path));
                    return;
                }
                Regs want = policy_in_range(p, Leaf{leaf}, Subleaf{sub}) ? p.slot[slot_exact(Leaf{leaf}, Subleaf{sub})] : Regs{};
                Regs dm = dynamic_mask(leaf, s);
                ++compared;
                if ( masked(want, dm) != masked(o.regs, dm) && mismatches++ < 5 )
                    report(__LINE__, std::string(file) + " leaf " + hex(leaf) + ":" + hex(s),
                           show(masked(want, dm)), show(masked(o.regs, dm)));
            }
        }
        EXPECT_TRUE(compared > 150);
        EXPECT_EQ(0u, mismatches);
        // Beyond the maximum basic leaf: zeros, where the hardware would repeat its highest.
        uint32_t beyond = basic_max_leaf(p) + 1;
        GuestCpuidOutcome o = run_cpuid(*m, d, 0, beyond, 0, CpuidPath::automatic, 3, __LINE__);
        EXPECT_EQ(Regs{}, o.regs);
    }
}

// The same Haswell CPUID with faulting forced off has nothing to level with (no masking
// MSRs on model 0x3f): the PV guest sees the host, and the gap statement says what leaks.
TEST(haswell_without_faulting_levels_nothing_and_says_so)
{
    auto m = boot(HASWELL, 1, "", MaskModel::automatic, FaultingModel::absent);
    if ( !m )
        return;
    EXPECT_EQ(0u, m->hv().levelling_caps().caps);
    DomId d = create_domain(*m, DomainType::pv);
    Featureset fs = policy_to_featureset(domain_policy(*m, d));
    fs.clear(F("avx2"));
    REQUIRE_RC(0, set_featureset(*m, d, fs));
    REQUIRE_RC(0, start(*m, d));
    const DomainLevelling *lev = m->hv().domain_levelling(d);
    EXPECT_TRUE(lev && lev->gap.leaked.test(F("avx2")));
    EXPECT_EQ(0x4ffffu, lev ? lev->gap.uncovered_words : 0);
    GuestCpuidOutcome o = run_cpuid(*m, d, 0, 7, 0, CpuidPath::automatic, 3, __LINE__);
    EXPECT_TRUE(o.path == CpuidPath::native);
    EXPECT_TRUE(o.regs.b & (1u << 5));  // AVX2 visible natively
}

// AMD overrides can show what an AND mask cannot: a PV guest on Zen (masking) sees the
// HYPERVISOR bit natively, and leaf 7:0 ebx exactly as its policy says.
TEST(amd_overrides_show_hypervisor_and_level_leaf7_ebx)
{
    auto m = boot(ZEN);
    if ( !m )
        return;
    DomId d = create_domain(*m, DomainType::pv);
    Featureset fs = policy_to_featureset(domain_policy(*m, d));
    EXPECT_TRUE(fs.test(F("bmi1")) && fs.test(F("hypervisor")));
    fs.clear(F("bmi1"));
    REQUIRE_RC(0, set_featureset(*m, d, fs));
    REQUIRE_RC(0, start(*m, d));
    const Policy p = domain_policy(*m, d);
    GuestCpuidOutcome o = run_cpuid(*m, d, 0, 1, 0, CpuidPath::native, 3, __LINE__);
    EXPECT_TRUE(o.regs.c & (1u << 31));
    o = run_cpuid(*m, d, 0, 7, 0, CpuidPath::native, 3, __LINE__);
    EXPECT_EQ(get(p, Leaf{7}, Subleaf{0}).b, o.regs.b);
    EXPECT_EQ(0u, o.regs.b & (1u << 3));  // BMI1 gone
    EXPECT_TRUE(m->cpu(0).cpuid_unmasked(7, 0).b & (1u << 3));
}

// A PV vCPU whose kernel has not set CR4.OSXSAVE does not see OSXSAVE natively; setting
// it reloads the leaf-1 mask (masking host), or changes guest_cpuid's answer (faulting).
TEST(osxsave_follows_the_vcpus_cr4_on_both_mechanisms)
{
    for ( const char *file : {SANDYBRIDGE, HASWELL} )
    {
        auto m = boot(file);
        if ( !m )
            continue;
        DomId d = create_domain(*m, DomainType::pv);
        REQUIRE_RC(0, start(*m, d));
        GuestCpuidOutcome o = run_cpuid(*m, d, 0, 1, 0, CpuidPath::automatic, 3, __LINE__);
        EXPECT_EQ(std::string(file) + " cr4=0: 0", std::string(file) + " cr4=0: " +
                                                         std::to_string((o.regs.c >> 27) & 1));
        REQUIRE_RC(0, m->exec_write_cr4(d, 0, CR4_OSXSAVE));
        o = run_cpuid(*m, d, 0, 1, 0, CpuidPath::automatic, 3, __LINE__);
        EXPECT_EQ(std::string(file) + " cr4.osxsave: 1", std::string(file) + " cr4.osxsave: " +
                                                               std::to_string((o.regs.c >> 27) & 1));
        // vCPU 1 still has CR4.OSXSAVE clear.
        o = run_cpuid(*m, d, 1, 1, 0, CpuidPath::automatic, 3, __LINE__);
        EXPECT_EQ(0u, o.regs.c & (1u << 27));
    }
}

// The lazy switch on a real masking host: two vCPUs of one domain on one CPU write
// nothing; a domain differing only in leaf 1 writes 0x132 only; idle restores the
// default leaf-1 and 0x80000001 masks; the write counts come from the simulated CPU.
TEST(context_switch_writes_only_differing_masks_on_sandybridge)
{
    auto m = boot(SANDYBRIDGE);
    if ( !m )
        return;
    DomId a = create_domain(*m, DomainType::pv), b = create_domain(*m, DomainType::pv);
    Featureset fs = policy_to_featureset(domain_policy(*m, a));
    fs.clear(F("aesni"));
    REQUIRE_RC(0, set_featureset(*m, b, fs));
    REQUIRE_RC(0, start(*m, a));
    REQUIRE_RC(0, start(*m, b));
    m->reset_counters();
    REQUIRE_RC(0, m->schedule(0, a, 0));
    EXPECT_EQ(1u, m->msr_writes(0x132));
    EXPECT_EQ(1u, m->msr_writes(0x133));
    EXPECT_EQ(0u, m->msr_writes(0x134));  // the PV default's 0xd:1 equals the host's
    REQUIRE_RC(0, m->schedule(0, a, 1));
    EXPECT_EQ(2u, m->counters().msr_writes);
    REQUIRE_RC(0, m->schedule(0, b, 0));
    EXPECT_EQ(2u, m->msr_writes(0x132));
    EXPECT_EQ(3u, m->counters().msr_writes);
    REQUIRE_RC(0, m->schedule_idle(0));
    EXPECT_EQ(3u, m->msr_writes(0x132));
    EXPECT_EQ(2u, m->msr_writes(0x133));
    EXPECT_EQ(5u, m->counters().msr_writes);
    EXPECT_EQ(4u, m->counters().context_switches);
    // The hardware now holds the defaults again.
    uint64_t v = 0;
    EXPECT_RC(0, m->cpu(0).rdmsr(0x132, v));
    EXPECT_EQ(m->hv().levelling_caps().defaults[mask_1cd], v);
}

// An HVM domain levels by exits: its gap statement does not apply, and switching to it
// on a masking host loads the host defaults (its CPUID never reaches the hardware).
TEST(hvm_domains_have_no_gap_and_run_with_default_masks)
{
    auto m = boot(SANDYBRIDGE);
    if ( !m )
        return;
    DomId h = create_domain(*m, DomainType::hvm);
    REQUIRE_RC(0, start(*m, h));
    LevellingGap gap{};
    REQUIRE_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_levelling(CONTROL_DOMID, h, gap); }));
    EXPECT_TRUE(!gap.applies);
    REQUIRE_RC(0, m->schedule(0, h, 0));
    uint64_t v = 0;
    EXPECT_RC(0, m->cpu(0).rdmsr(0x132, v));
    EXPECT_EQ(m->hv().levelling_caps().defaults[mask_1cd], v);
    GuestCpuidOutcome o = run_cpuid(*m, h, 0, 1, 0, CpuidPath::automatic, 0, __LINE__);
    EXPECT_TRUE(o.path == CpuidPath::hvm);
    EXPECT_TRUE(o.regs.c & (1u << 31));  // HYPERVISOR, from the policy
}

int main() { return run_all("test_masking.cpp"); }
