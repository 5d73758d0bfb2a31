// SPDX-License-Identifier: MIT
// The Hypervisor's hypercalls and guest entry points, on simulated hosts: Xen's featureset
// numbering and buffer semantics, system policies, permissions, the domain life cycle,
// verified and atomic policy setting, featureset application, virtual CPUID faulting for
// HVM guests and its saved state, the forced emulation prefix.
//
// Facts: featureset indices raw 0, host 1, pv-default 2, hvm-default 3, pv-max 4,
// hvm-max 5 (Xen's XEN_SYSCTL_cpu_featureset_*); policy indices raw 0, host 1, pv-max 2,
// hvm-max 3, pv-default 4, hvm-default 5 (XEN_SYSCTL_cpu_policy_*); FEP bytes
// 0f 0b 78 65 6e 0f a2 (ud2; "xen"; cpuid).
#include "hv_harness.hpp"

#include "cpupolicy/compat.hpp"

using namespace hvtest;

namespace {

constexpr DomId DOMU_CALLER = 1;  // the first guest domain, used as an unprivileged caller

int get_fs(SimMachine &m, unsigned idx, uint32_t *nr, uint32_t *fs, DomId caller = CONTROL_DOMID)
{
    return hc(m, [&](Hypervisor &hv) { return hv.get_featureset(caller, idx, nr, fs); });
}

int set_policy(SimMachine &m, DomId d, const Policy &p, ErrRecord *err, DomId caller = CONTROL_DOMID)
{
    return hc(m, [&](Hypervisor &hv) { return hv.set_domain_policy(caller, d, p, err); });
}

std::string show_err(const ErrRecord &e)
{
    return "leaf " + hex(e.leaf) + " subleaf " + hex(e.subleaf) + " msr " + hex(e.msr);
}

} // namespace

// --- Featuresets ----------------------------------------------------------------------

// A NULL buffer asks the size: 19 words, this build's featureset.
TEST(get_featureset_null_buffer_returns_word_count)
{
    auto m = boot(HASWELL);
    if ( !m )
        return;
    uint32_t nr = 0;
    EXPECT_RC(0, get_fs(*m, 0, &nr, nullptr));
    EXPECT_EQ(19u, nr);
}

// Featureset index n is the policy Xen's featureset order names, which is not the policy
// order: 2 is pv-default (policy index 4), 4 is pv-max (policy index 2).
TEST(get_featureset_uses_xens_featureset_order)
{
    auto m = boot(HASWELL);
    if ( !m )
        return;
    const unsigned policy_of[6] = {0, 1, 4, 5, 2, 3};
    for ( unsigned idx = 0; idx < 6; ++idx )
    {
        uint32_t fs[19] = {}, nr = 19;
        EXPECT_RC(0, get_fs(*m, idx, &nr, fs));
        EXPECT_EQ(19u, nr);
        Policy p{};
        EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) {
            return hv.get_system_policy(CONTROL_DOMID, policy_of[idx], p);
        }));
        Featureset want = policy_to_featureset(p), got;
        std::copy(fs, fs + 19, got.w);
        EXPECT_EQ("featureset " + std::to_string(idx) + ": " + feature_names(want),
                  "featureset " + std::to_string(idx) + ": " + feature_names(got));
    }
    // The premise that makes the order observable: pv-max and pv-default differ here.
    uint32_t a[19], b[19], nr = 19;
    EXPECT_RC(0, get_fs(*m, 2, &nr, a));
    EXPECT_RC(0, get_fs(*m, 4, &nr, b));
    EXPECT_TRUE(std::memcmp(a, b, sizeof(a)) != 0);
}

// A short buffer gets what fits and -ENOBUFS, and nothing past it is written.
TEST(get_featureset_short_buffer_copies_what_fits_and_enobufs)
{
    auto m = boot(HASWELL);
    if ( !m )
        return;
    uint32_t full[19], nr = 19;
    EXPECT_RC(0, get_fs(*m, 1, &nr, full));
    uint32_t part[19];
    for ( auto &w : part )
        w = 0xdeadbeef;
    nr = 5;
    EXPECT_RC(-ENOBUFS, get_fs(*m, 1, &nr, part));
    EXPECT_EQ(5u, nr);
    for ( unsigned i = 0; i < 5; ++i )
        EXPECT_EQ(full[i], part[i]);
    for ( unsigned i = 5; i < 19; ++i )
        EXPECT_EQ(0xdeadbeefu, part[i]);
    // A longer buffer is fine: 19 words written.
    uint32_t big[25];
    nr = 25;
    EXPECT_RC(0, get_fs(*m, 1, &nr, big));
    EXPECT_EQ(19u, nr);
}

TEST(get_featureset_bad_index_or_nr_is_einval)
{
    auto m = boot(HASWELL);
    if ( !m )
        return;
    uint32_t fs[19], nr = 19;
    EXPECT_RC(-EINVAL, get_fs(*m, 6, &nr, fs));
    EXPECT_RC(-EINVAL, get_fs(*m, ~0u, &nr, fs));
    EXPECT_RC(-EINVAL, get_fs(*m, 0, nullptr, fs));
}

// featureset_fits_max: a max set itself passes; a feature outside it is named; a feature
// whose prerequisite is missing is named (the lowest such); unknown extra words refused.
TEST(verify_featureset_names_the_first_feature_it_cannot_offer)
{
    auto m = boot(HASWELL);
    if ( !m )
        return;
    auto verify = [&](unsigned idx, const Featureset &fs, uint32_t *bad) {
        return hc(*m, [&](Hypervisor &hv) {
            return hv.featureset_fits_max(CONTROL_DOMID, idx, fs.w, NR_FEATUREWORDS, bad);
        });
    };
    uint32_t words[19], nr = 19;
    REQUIRE_RC(0, get_fs(*m, 4, &nr, words));  // pv-max
    Featureset pvmax;
    std::copy(words, words + 19, pvmax.w);
    uint32_t bad = ~0u;
    EXPECT_RC(0, verify(4, pvmax, &bad));
    EXPECT_EQ(~0u, bad);

    Featureset with_vmx = pvmax;  // VMX is HVM-only ('h')
    with_vmx.set(F("vmx"));
    EXPECT_RC(-EINVAL, verify(4, with_vmx, &bad));
    EXPECT_EQ(raw(F("vmx")), bad);
    uint32_t hv_words[19];
    REQUIRE_RC(0, get_fs(*m, 5, &nr, hv_words));  // hvm-max has it on Haswell
    Featureset hvmax;
    std::copy(hv_words, hv_words + 19, hvmax.w);
    EXPECT_TRUE(hvmax.test(F("vmx")));

    Featureset no_avx = pvmax;    // FMA (1.ecx[12]) is the lowest feature needing AVX
    EXPECT_TRUE(no_avx.test(F("avx")) && no_avx.test(F("fma")) && no_avx.test(F("avx2")));
    no_avx.clear(F("avx"));
    EXPECT_RC(-EINVAL, verify(4, no_avx, &bad));
    EXPECT_EQ(raw(F("fma")), bad);

    uint32_t longer[21] = {};
    std::copy(words, words + 19, longer);
    EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.featureset_fits_max(CONTROL_DOMID, 4, longer, 21, &bad); }));
    longer[20] = 1;
    EXPECT_RC(-EOPNOTSUPP, hc(*m, [&](Hypervisor &hv) { return hv.featureset_fits_max(CONTROL_DOMID, 4, longer, 21, &bad); }));
    EXPECT_RC(-EINVAL, verify(6, pvmax, &bad));
}

// --- System policies and caps ---------------------------------------------------------------

// Policy order: raw 0 is what the CPU says (Haswell-EP leaf 1: 0x306f2), raw keeps only
// PLATFORM_INFO's faulting bit, and the six are nested for features.
TEST(system_policies_in_policy_order)
{
    auto m = boot(HASWELL);
    if ( !m )
        return;
    Policy p[6];
    for ( unsigned i = 0; i < 6; ++i )
        EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_system_policy(CONTROL_DOMID, i, p[i]); }));
    Policy junk;
    EXPECT_RC(-EINVAL, hc(*m, [&](Hypervisor &hv) { return hv.get_system_policy(CONTROL_DOMID, 6, junk); }));
    EXPECT_EQ(0x000306f2u, get(p[0], Leaf{1}).a);
    EXPECT_EQ(m->cpu(0).cpuid_unmasked(7, 0), get(p[0], Leaf{7}, Subleaf{0}));
    EXPECT_EQ(0x80000000u, p[0].platform_info);
    // pv-default (4) within pv-max (2), hvm-default (5) within hvm-max (3), both max
    // within host (1) except what derivation synthesises for guests.
    auto fs = [&](unsigned i) { return policy_to_featureset(p[i]); };
    EXPECT_EQ(std::string("(none)"), feature_names(fs(4).and_not(fs(2))));
    EXPECT_EQ(std::string("(none)"), feature_names(fs(5).and_not(fs(3))));
    EXPECT_EQ(std::string("(none)"),
              feature_names(fs(2).and_not(fs(1)).and_not(derive_synthesised(PolicyIndex::pv_max))));
}

// Boot options reach the derivation: cpuid=no-avx takes AVX and everything needing it
// out of the host policy (closure) while raw keeps them.
TEST(boot_options_shape_the_system_policies)
{
    auto m = boot(HASWELL, 1, "cpuid=no-avx");
    if ( !m )
        return;
    Featureset raw_fs = policy_to_featureset(m->hv().system_policy(PolicyIndex::raw));
    Featureset host = policy_to_featureset(m->hv().system_policy(PolicyIndex::host));
    EXPECT_TRUE(raw_fs.test(F("avx")) && raw_fs.test(F("avx2")) && raw_fs.test(F("fma")));
    EXPECT_TRUE(!host.test(F("avx")) && !host.test(F("avx2")) && !host.test(F("fma")));
    // A second boot of one object is refused.
    EXPECT_RC(-EEXIST, hc(*m, [](Hypervisor &hv) { return hv.boot(nullptr); }));
}

// --- Permissions --------------------------------------------------------------------------

// Only the control domain may make system queries, create domains, or act on another
// domain; a domain may act on itself; a nonexistent caller is nobody.
TEST(only_the_control_domain_acts_on_others)
{
    auto m = boot(SANDYBRIDGE);
    if ( !m )
        return;
    DomId d1 = create_domain(*m, DomainType::pv), d2 = create_domain(*m, DomainType::pv);
    EXPECT_EQ(DOMU_CALLER, d1);
    uint32_t fs[19], nr = 19, caps = 0;
    Policy p{};
    ErrRecord err;
    LevellingGap gap;
    DomId out;
    EXPECT_RC(-EPERM, get_fs(*m, 0, &nr, fs, d1));
    EXPECT_RC(-EPERM, hc(*m, [&](Hypervisor &hv) { return hv.get_levelling_caps(d1, &caps); }));
    EXPECT_RC(-EPERM, hc(*m, [&](Hypervisor &hv) { return hv.get_system_policy(d1, 0, p); }));
    EXPECT_RC(-EPERM, hc(*m, [&](Hypervisor &hv) { return hv.domain_create(d1, DomainType::pv, &out); }));
    EXPECT_RC(-EPERM, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_policy(d1, d2, p); }));
    EXPECT_RC(-EPERM, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_policy(d1, CONTROL_DOMID, p); }));
    EXPECT_RC(-EPERM, set_policy(*m, d2, domain_policy(*m, d2), &err, d1));
    EXPECT_RC(-EPERM, hc(*m, [&](Hypervisor &hv) { return hv.domain_start(d1, d2); }));
    EXPECT_RC(-EPERM, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_levelling(d1, d2, gap); }));
    // Permission is judged before existence: no probing for domids.
    EXPECT_RC(-EPERM, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_policy(d1, 999, p); }));
    EXPECT_RC(-ESRCH, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_policy(CONTROL_DOMID, 999, p); }));
    // On itself: allowed.
    EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_policy(d1, d1, p); }));
    EXPECT_RC(0, set_policy(*m, d1, p, &err, d1));
    // A caller that does not exist.
    EXPECT_RC(-EPERM, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_policy(77, 77, p); }));
    // Destroy: never the control domain; never by a guest, even itself.
    EXPECT_RC(-EPERM, hc(*m, [&](Hypervisor &hv) { return hv.domain_destroy(CONTROL_DOMID, CONTROL_DOMID); }));
    EXPECT_RC(-EPERM, hc(*m, [&](Hypervisor &hv) { return hv.domain_destroy(d1, d1); }));
}

// --- Domain life cycle ------------------------------------------------------------------------

// A new domain has its type's default policy; the control domain exists from boot,
// started, PV.
TEST(domains_start_from_their_types_default_policy)
{
    auto m = boot(SKYLAKE);
    if ( !m )
        return;
    DomainInfo info{};
    EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_info(CONTROL_DOMID, CONTROL_DOMID, info); }));
    EXPECT_TRUE(info.started && info.type == DomainType::pv && info.nr_vcpus == 1);
    DomId pv = create_domain(*m, DomainType::pv), hvm = create_domain(*m, DomainType::hvm, 4);
    EXPECT_TRUE(domain_policy(*m, pv) == m->hv().system_policy(PolicyIndex::pv_default));
    EXPECT_TRUE(domain_policy(*m, hvm) == m->hv().system_policy(PolicyIndex::hvm_default));
    EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_info(CONTROL_DOMID, hvm, info); }));
    EXPECT_TRUE(!info.started && info.type == DomainType::hvm && info.nr_vcpus == 4);
    DomId out;
    EXPECT_RC(-EINVAL, hc(*m, [&](Hypervisor &hv) { return hv.domain_create(CONTROL_DOMID, static_cast<DomainType>(7), &out); }));
    EXPECT_RC(-EINVAL, hc(*m, [&](Hypervisor &hv) { return hv.domain_create(CONTROL_DOMID, DomainType::pv, &out, 0); }));
    EXPECT_RC(-EINVAL, hc(*m, [&](Hypervisor &hv) { return hv.domain_create(CONTROL_DOMID, DomainType::pv, &out, MAX_VCPUS + 1); }));
}

// Start once (-EEXIST again); after start the policy is fixed (-EEXIST) and unchanged.
TEST(policy_is_refused_once_started_with_eexist)
{
    auto m = boot(SANDYBRIDGE);
    if ( !m )
        return;
    DomId d = create_domain(*m, DomainType::pv);
    REQUIRE_RC(0, start(*m, d));
    EXPECT_RC(-EEXIST, start(*m, d));
    Policy before = domain_policy(*m, d), p = before;
    Featureset fs = policy_to_featureset(p);
    fs.clear(F("aesni"));
    policy_apply_featureset(p, fs);
    ErrRecord err;
    EXPECT_RC(-EEXIST, set_policy(*m, d, p, &err));
    EXPECT_RC(-EEXIST, set_featureset(*m, d, fs, &err));
    EXPECT_TRUE(domain_policy(*m, d) == before);
}

// Destroy: the domain is gone (-ESRCH), its id is not reused at once, and its memory goes
// back to the host.
TEST(destroy_frees_the_domain_but_not_the_id)
{
    auto m = boot(SANDYBRIDGE);
    if ( !m )
        return;
    size_t base = m->domain_memory();
    DomId first = create_domain(*m, DomainType::pv);
    size_t one = m->domain_memory() - base;
    REQUIRE_RC(0, start(*m, first));
    REQUIRE_RC(0, m->schedule(0, first, 0));
    EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.domain_destroy(CONTROL_DOMID, first); }));
    EXPECT_EQ(base, m->domain_memory());
    DomId cur = 0;
    EXPECT_TRUE(!m->on_cpu(0, [&](Hypervisor &hv) { return hv.current(&cur, nullptr); }));
    Policy p;
    EXPECT_RC(-ESRCH, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_policy(CONTROL_DOMID, first, p); }));
    EXPECT_RC(-ESRCH, hc(*m, [&](Hypervisor &hv) { return hv.domain_destroy(CONTROL_DOMID, first); }));
    std::vector<DomId> ids;
    for ( unsigned i = 0; i < 20; ++i )
        ids.push_back(create_domain(*m, DomainType::hvm, 1));
    for ( DomId id : ids )
        EXPECT_TRUE(id != first);
    // Memory per domain in use: 20 domains (one table page, the control domain's) cost 20
    // times one; a slot is the ~7.9 KiB of a domain's state, nothing reserved in advance.
    EXPECT_EQ(base + 20 * one, m->domain_memory());
    EXPECT_TRUE(one > 4096 && one < 8192);
    for ( DomId id : ids )
        EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.domain_destroy(CONTROL_DOMID, id); }));
    EXPECT_EQ(base, m->domain_memory());
    EXPECT_EQ(1u, m->hv().nr_domains());
}

// No fixed pool: a host holds as many domains as its memory allows (here a limit standing
// in for the host's memory), refuses the next with -ENOMEM, and takes one again after a
// destroy.  1000 domains in an unlimited host: far beyond the old 16-slot array.
TEST(a_host_holds_as_many_domains_as_its_memory_allows)
{
    auto probe = boot(SANDYBRIDGE);
    if ( !probe )
        return;
    size_t base = probe->domain_memory();
    create_domain(*probe, DomainType::pv);
    size_t one = probe->domain_memory() - base;

    SimConfig cfg;
    cfg.dump_path = dump_path(SANDYBRIDGE);
    cfg.domain_memory_limit = base + 40 * one + one / 2;  // room for 40 guests
    std::unique_ptr<SimMachine> m;
    std::string why;
    REQUIRE_RC(0, SimMachine::create(cfg, m, &why));
    std::vector<DomId> ids;
    DomId d = 0;
    int rc = 0;
    while ( (rc = hc(*m, [&](Hypervisor &hv) { return hv.domain_create(CONTROL_DOMID, DomainType::pv, &d); })) == 0 )
        ids.push_back(d);
    EXPECT_RC(-ENOMEM, rc);
    EXPECT_EQ(size_t(40), ids.size());
    EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.domain_destroy(CONTROL_DOMID, ids[7]); }));
    EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.domain_create(CONTROL_DOMID, DomainType::hvm, &d); }));
    EXPECT_EQ(ids.back() + 1, d);  // the refused create took no id; the destroyed id stays unused

    for ( unsigned i = 0; i < 1000; ++i )
        create_domain(*probe, i % 2 ? DomainType::hvm : DomainType::pv, 1);
    EXPECT_EQ(1002u, probe->hv().nr_domains());
    DomainInfo info{};
    EXPECT_RC(0, hc(*probe, [&](Hypervisor &hv) { return hv.get_domain_info(CONTROL_DOMID, 1001, info); }));
    EXPECT_EQ(1001u, info.domid);
}

// Every domid in use: the host holds Xen's whole range (domids 1..0x7fef beside the control
// domain), refuses the next create with -ENOSPC and changes nothing for it (no domain, no
// memory, no id consumed, the next domid where it was); a chosen id is -EEXIST.  After
// one destroy, the only free domid is found again.
TEST(every_domid_in_use_is_enospc_and_nothing_half_applied)
{
    auto m = boot(SANDYBRIDGE);
    if ( !m )
        return;
    DomId d = 0;
    unsigned created = 0;
    int rc;
    while ( (rc = hc(*m, [&](Hypervisor &hv) { return hv.domain_create(CONTROL_DOMID, DomainType::pv, &d, 1); })) == 0 )
        ++created;
    EXPECT_RC(-ENOSPC, rc);
    EXPECT_EQ(unsigned(DOMID_FIRST_RESERVED) - 1, created);  // 0x7fef = 32,751 guests
    EXPECT_EQ(unsigned(DOMID_FIRST_RESERVED), m->hv().nr_domains());

    const size_t memory = m->domain_memory();
    const DomId next = m->hv().next_domid();
    d = 12345;
    EXPECT_RC(-ENOSPC, hc(*m, [&](Hypervisor &hv) { return hv.domain_create(CONTROL_DOMID, DomainType::hvm, &d, 1); }));
    EXPECT_EQ(12345u, d);  // *out untouched
    EXPECT_RC(-EEXIST, hc(*m, [&](Hypervisor &hv) {
        return hv.domain_create_with_id(CONTROL_DOMID, DomainType::hvm, 777, 1);
    }));
    EXPECT_EQ(unsigned(DOMID_FIRST_RESERVED), m->hv().nr_domains());
    EXPECT_EQ(memory, m->domain_memory());
    EXPECT_EQ(next, m->hv().next_domid());

    EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.domain_destroy(CONTROL_DOMID, 777); }));
    EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.domain_create(CONTROL_DOMID, DomainType::hvm, &d, 1); }));
    EXPECT_EQ(777u, d);
    DomainInfo info{};
    EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_info(CONTROL_DOMID, 777, info); }));
    EXPECT_EQ(DomainType::hvm, info.type);
}

// Domids span Xen's whole range, found through the two-level table; list_domains walks it
// in domid order across table pages.
TEST(domids_span_xens_range_and_list_in_order)
{
    auto m = boot(SANDYBRIDGE);
    if ( !m )
        return;
    const DomId at[] = {1, 256, 255, 5000, DOMID_FIRST_RESERVED - 1};
    for ( DomId id : at )
        EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.domain_create_with_id(CONTROL_DOMID, DomainType::pv, id); }));
    EXPECT_RC(-EINVAL, hc(*m, [&](Hypervisor &hv) {
        return hv.domain_create_with_id(CONTROL_DOMID, DomainType::pv, DOMID_FIRST_RESERVED);
    }));
    DomainInfo list[8];
    unsigned n = m->hv().list_domains(list, 8);
    EXPECT_EQ(6u, n);
    const DomId want[] = {0, 1, 255, 256, 5000, DOMID_FIRST_RESERVED - 1};
    for ( unsigned i = 0; i < 6 && i < n; ++i )
        EXPECT_EQ(want[i], list[i].domid);
    // A short buffer gets the first ones; the count is still all of them.
    EXPECT_EQ(6u, m->hv().list_domains(list, 2));
    EXPECT_EQ(1u, list[1].domid);
    DomainInfo info{};
    EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_info(CONTROL_DOMID, DOMID_FIRST_RESERVED - 1, info); }));
    EXPECT_RC(-ESRCH, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_info(CONTROL_DOMID, 257, info); }));
    EXPECT_RC(-ESRCH, hc(*m, [&](Hypervisor &hv) { return hv.get_domain_info(CONTROL_DOMID, 0xffffffffu, info); }));
    // After the highest domid, automatic ids wrap to the lowest free one.
    DomId d = 0;
    EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.domain_create(CONTROL_DOMID, DomainType::pv, &d); }));
    EXPECT_EQ(2u, d);
}

// --- Setting policies -----------------------------------------------------------------------

// A valid policy (the default minus AES-NI) is accepted and read back; the levelling
// masks follow it.
TEST(set_domain_policy_accepts_a_policy_within_max)
{
    auto m = boot(SANDYBRIDGE);
    if ( !m )
        return;
    DomId d = create_domain(*m, DomainType::pv);
    Policy p = domain_policy(*m, d);
    Featureset fs = policy_to_featureset(p);
    fs.clear(F("aesni"));
    policy_apply_featureset(p, fs);
    ErrRecord err;
    EXPECT_RC(0, set_policy(*m, d, p, &err));
    EXPECT_EQ(show_err(ErrRecord{}), show_err(err));
    EXPECT_TRUE(domain_policy(*m, d) == p);
    const DomainLevelling *lev = m->hv().domain_levelling(d);
    EXPECT_EQ(0u, lev ? static_cast<uint32_t>(lev->masks[mask_1cd]) & (1u << 25) : 1u);
}

// Every refusal names where, and leaves the old policy, its masks and its guest CPUID
// answers exactly as they were.
TEST(set_domain_policy_is_atomic_and_reports_the_failing_location)
{
    auto m = boot(HASWELL);
    if ( !m )
        return;
    DomId d = create_domain(*m, DomainType::hvm);
    const Policy base = domain_policy(*m, d);
    const DomainLevelling lev_before = *m->hv().domain_levelling(d);

    struct Row {
        const char *what;
        std::function<void(Policy &)> edit;
        ErrRecord want;
    };
    auto rec = err_rec;
    const Row rows[] = {
        {"a feature beyond hvm-max (SMX)",
         [](Policy &p) { at(p, Leaf{1})->c |= 1u << 6; }, rec(1, NO_SUBLEAF, ~0u)},
        {"leaf 7 feature the host lacks (AVX512F)",
         [](Policy &p) { at(p, Leaf{7}, Subleaf{0})->b |= 1u << 16; }, rec(7, 0, ~0u)},
        {"another vendor",
         [](Policy &p) { *at(p, Leaf{0}) = Regs{get(p, Leaf{0}).a, 0x68747541, 0x444d4163, 0x69746e65}; },
         rec(0, NO_SUBLEAF, ~0u)},
        // hvm-max advertises the object's limit, 0x24 (as Xen's max policies do).
        {"max basic leaf above hvm-max's",
         [](Policy &p) { at(p, Leaf{0})->a = BASIC_LAST + 1; }, rec(0, NO_SUBLEAF, ~0u)},
        {"an ARCH_CAPS bit the host lacks",
         [](Policy &p) { p.arch_caps |= 1ull << 62; }, rec(~0u, ~0u, 0x10a)},
        {"a dependency broken: AVX2 without AVX",
         [](Policy &p) { at(p, Leaf{1})->c &= ~(1u << 28); }, rec(1, NO_SUBLEAF, ~0u)},
    };
    for ( const Row &r : rows )
    {
        Policy p = base;
        r.edit(p);
        ErrRecord err;
        int rc = set_policy(*m, d, p, &err);
        EXPECT_EQ(std::string(r.what) + ": " + show_errno(-EINVAL),
                  std::string(r.what) + ": " + show_errno(rc));
        EXPECT_EQ(std::string(r.what) + ": " + show_err(r.want), std::string(r.what) + ": " + show_err(err));
        EXPECT_TRUE(domain_policy(*m, d) == base);
        const DomainLevelling *lev = m->hv().domain_levelling(d);
        EXPECT_TRUE(lev && std::memcmp(lev, &lev_before, sizeof(lev_before)) == 0);
    }
    // The guest still answers from the old policy.
    REQUIRE_RC(0, start(*m, d));
    GuestCpuidOutcome o = run_cpuid(*m, d, 0, 0, 0, CpuidPath::hvm, 0, __LINE__);
    EXPECT_EQ(get(base, Leaf{0}), o.regs);
    EXPECT_RC(-ESRCH, set_policy(*m, 4242, base, nullptr));
}

// set_featureset: the closure of a cleared feature goes with it, leaf 0xd is recomputed
// (no AVX: no YMM state), unknown extra words are refused, and a featureset beyond max
// is refused with where.
TEST(set_featureset_applies_closure_and_recomputes_xstate)
{
    auto m = boot(HASWELL);
    if ( !m )
        return;
    DomId d = create_domain(*m, DomainType::pv);
    Featureset fs = policy_to_featureset(domain_policy(*m, d));
    EXPECT_TRUE(fs.test(F("avx2")) && fs.test(F("fma")));
    EXPECT_TRUE(xstate::policy_xcr0(domain_policy(*m, d)) & xstate::bit(xstate::YMM));
    fs.clear(F("avx"));
    ErrRecord err;
    EXPECT_RC(0, set_featureset(*m, d, fs, &err));
    const Policy p = domain_policy(*m, d);
    const Featureset got = policy_to_featureset(p);
    EXPECT_TRUE(!got.test(F("avx")) && !got.test(F("avx2")) && !got.test(F("fma")) &&
                !got.test(F("f16c")));
    EXPECT_TRUE(got.test(F("sse4-2")));
    EXPECT_EQ(0u, xstate::policy_xcr0(p) & xstate::bit(xstate::YMM));

    uint32_t longer[20] = {};
    std::copy(got.w, got.w + 19, longer);
    longer[19] = 4;
    EXPECT_RC(-EOPNOTSUPP, hc(*m, [&](Hypervisor &hv) {
        return hv.set_featureset(CONTROL_DOMID, d, longer, 20, &err);
    }));
    Featureset vmx = got;
    vmx.set(F("vmx"));
    EXPECT_RC(-EINVAL, set_featureset(*m, d, vmx, &err));
    EXPECT_EQ(show_err(err_rec(1, NO_SUBLEAF, ~0u)), show_err(err));
    EXPECT_TRUE(domain_policy(*m, d) == p);
}

// --- Guest entry points -----------------------------------------------------------------------

// HVM virtual CPUID faulting: allowed only when the policy's PLATFORM_INFO advertises
// it; once on, CPUID at CPL > 0 is #GP (also through the FEP) and CPL 0 is answered; the
// enable bit travels in the vCPU's saved state and is refused where the target policy
// has no faulting.
TEST(hvm_virtual_faulting_is_policy_gated_and_saved)
{
    auto m = boot(HASWELL);
    if ( !m )
        return;
    DomId a = create_domain(*m, DomainType::hvm), b = create_domain(*m, DomainType::hvm),
          c = create_domain(*m, DomainType::hvm);
    EXPECT_TRUE(domain_policy(*m, a).platform_info & PLATFORM_INFO_CPUID_FAULTING);
    // c: a policy without faulting.
    Policy nf = domain_policy(*m, c);
    nf.platform_info = 0;
    ErrRecord err;
    REQUIRE_RC(0, set_policy(*m, c, nf, &err));
    for ( DomId d : {a, b, c} )
        REQUIRE_RC(0, start(*m, d));

    GuestFault f = GuestFault::none;
    uint64_t v = 0;
    EXPECT_RC(0, m->exec_rdmsr(a, 0, 0xce, &v, &f));
    EXPECT_TRUE(f == GuestFault::none && (v & PLATFORM_INFO_CPUID_FAULTING));
    EXPECT_RC(0, m->exec_wrmsr(a, 0, 0x140, 2, &f));   // reserved bit
    EXPECT_TRUE(f == GuestFault::gp);
    EXPECT_RC(0, m->exec_wrmsr(a, 0, 0xce, 0, &f));    // read-only
    EXPECT_TRUE(f == GuestFault::gp);
    EXPECT_RC(0, m->exec_wrmsr(c, 0, 0x140, 1, &f));   // policy without faulting
    EXPECT_TRUE(f == GuestFault::gp);
    EXPECT_RC(0, m->exec_wrmsr(a, 0, 0x140, 1, &f));
    EXPECT_TRUE(f == GuestFault::none);

    GuestCpuidOutcome o = run_cpuid(*m, a, 0, 1, 0, CpuidPath::hvm, 3, __LINE__);
    EXPECT_TRUE(o.fault == GuestFault::gp);
    o = run_cpuid(*m, a, 0, 1, 0, CpuidPath::fep, 3, __LINE__);
    EXPECT_TRUE(o.fault == GuestFault::gp);
    o = run_cpuid(*m, a, 0, 1, 0, CpuidPath::hvm, 0, __LINE__);
    EXPECT_TRUE(o.fault == GuestFault::none && o.regs.a == 0x000306f2u);
    o = run_cpuid(*m, a, 1, 1, 0, CpuidPath::hvm, 3, __LINE__);  // vCPU 1 did not enable it
    EXPECT_TRUE(o.fault == GuestFault::none);

    // Saved state carries the bit; restoring it into b reproduces the #GP.
    VcpuContext ctx{};
    EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_vcpu_context(CONTROL_DOMID, a, 0, ctx); }));
    EXPECT_EQ(1u, ctx.misc_features_enables);
    EXPECT_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.set_vcpu_context(CONTROL_DOMID, b, 0, ctx); }));
    o = run_cpuid(*m, b, 0, 1, 0, CpuidPath::hvm, 3, __LINE__);
    EXPECT_TRUE(o.fault == GuestFault::gp);
    EXPECT_RC(-EINVAL, hc(*m, [&](Hypervisor &hv) { return hv.set_vcpu_context(CONTROL_DOMID, c, 0, ctx); }));
    VcpuContext bad = ctx;
    bad.misc_features_enables = 3;
    EXPECT_RC(-EINVAL, hc(*m, [&](Hypervisor &hv) { return hv.set_vcpu_context(CONTROL_DOMID, b, 0, bad); }));
    bad = ctx;
    bad.xcr0 = 0x2;  // x87 clear
    EXPECT_RC(-EINVAL, hc(*m, [&](Hypervisor &hv) { return hv.set_vcpu_context(CONTROL_DOMID, b, 0, bad); }));
}

// XSETBV from the guest (SDM vol. 2B XSETBV): #UD without CR4.OSXSAVE, #GP with x87
// clear or a component the policy does not offer - the write does not happen either
// way; a good write resizes leaf 0xd:0.ebx, the XSAVE area for the XCR0 in use (legacy
// area 512 + header 64 = 0x240 for x87|SSE, + the 256-byte AVX state = 0x340).
TEST(guest_xcr0_write_is_checked_against_the_policy_and_sizes_leaf_0xd)
{
    auto m = boot(HASWELL);
    if ( !m )
        return;
    DomId d = create_domain(*m, DomainType::hvm);
    REQUIRE_RC(0, start(*m, d));
    EXPECT_TRUE(xstate::policy_xcr0(domain_policy(*m, d)) & xstate::bit(xstate::YMM));
    EXPECT_EQ(0u, xstate::policy_xcr0(domain_policy(*m, d)) & xstate::bit(xstate::PKRU));
    VcpuContext before{}, after{};
    REQUIRE_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_vcpu_context(CONTROL_DOMID, d, 0, before); }));

    const uint64_t x87_sse = xstate::bit(xstate::X87) | xstate::bit(xstate::SSE);
    const uint64_t x87_sse_avx = x87_sse | xstate::bit(xstate::YMM);
    EXPECT_RC(-EINVAL, m->exec_write_xcr0(d, 0, x87_sse_avx));  // CR4.OSXSAVE clear: #UD
    REQUIRE_RC(0, m->exec_write_cr4(d, 0, CR4_OSXSAVE));
    EXPECT_RC(-EINVAL, m->exec_write_xcr0(d, 0, xstate::bit(xstate::SSE)));  // x87 clear
    EXPECT_RC(-EINVAL, m->exec_write_xcr0(d, 0, x87_sse | xstate::bit(xstate::PKRU)));
    EXPECT_RC(-ESRCH, m->exec_write_xcr0(99, 0, x87_sse));
    REQUIRE_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_vcpu_context(CONTROL_DOMID, d, 0, after); }));
    EXPECT_EQ(before.xcr0, after.xcr0);

    REQUIRE_RC(0, m->exec_write_xcr0(d, 0, x87_sse));
    EXPECT_EQ(0x240u, run_cpuid(*m, d, 0, 0xd, 0, CpuidPath::hvm, 0, __LINE__).regs.b);
    REQUIRE_RC(0, m->exec_write_xcr0(d, 0, x87_sse_avx));
    EXPECT_EQ(0x340u, run_cpuid(*m, d, 0, 0xd, 0, CpuidPath::hvm, 0, __LINE__).regs.b);
    REQUIRE_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_vcpu_context(CONTROL_DOMID, d, 0, after); }));
    EXPECT_EQ(x87_sse_avx, after.xcr0);
}

// IA32_XSS (MSR 0xda0; SDM vol. 4 table 2-2): it exists where the domain's policy has
// XSAVES - RDMSR gives the vCPU's value, WRMSR takes only the components the policy
// offers for it (Xen 4.17 offers none to HVM guests: only 0) - and without XSAVES both
// are #GP.  A refused write changes nothing; a saved context holding an XSS bit the
// policy does not offer is refused on restore.
TEST(guest_xss_msr_exists_with_xsaves_and_takes_only_offered_components)
{
    auto m = boot(GRANITE);
    if ( !m )
        return;
    DomId d = create_domain(*m, DomainType::hvm), n = create_domain(*m, DomainType::hvm);
    Featureset fs = policy_to_featureset(domain_policy(*m, n));
    fs.clear(F("xsaves"));
    ErrRecord err;
    REQUIRE_RC(0, set_featureset(*m, n, fs, &err));
    for ( DomId x : {d, n} )
        REQUIRE_RC(0, start(*m, x));
    EXPECT_TRUE(policy_to_featureset(domain_policy(*m, d)).test(F("xsaves")));
    EXPECT_EQ(0u, xstate::policy_xss(domain_policy(*m, d)));
    const uint64_t cet_u = xstate::bit(11);  // a supervisor component the host has

    GuestFault f = GuestFault::none;
    uint64_t v = 1;
    EXPECT_RC(0, m->exec_rdmsr(d, 0, 0xda0, &v, &f));
    EXPECT_TRUE(f == GuestFault::none);
    EXPECT_EQ(0u, v);
    EXPECT_RC(0, m->exec_wrmsr(d, 0, 0xda0, 0, &f));
    EXPECT_TRUE(f == GuestFault::none);
    EXPECT_RC(0, m->exec_wrmsr(d, 0, 0xda0, cet_u, &f));
    EXPECT_TRUE(f == GuestFault::gp);
    VcpuContext ctx{};
    REQUIRE_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_vcpu_context(CONTROL_DOMID, d, 0, ctx); }));
    EXPECT_EQ(0u, ctx.xss);

    // Without XSAVES there is no IA32_XSS.
    f = GuestFault::none;
    EXPECT_RC(0, m->exec_rdmsr(n, 0, 0xda0, &v, &f));
    EXPECT_TRUE(f == GuestFault::gp);
    f = GuestFault::none;
    EXPECT_RC(0, m->exec_wrmsr(n, 0, 0xda0, 0, &f));
    EXPECT_TRUE(f == GuestFault::gp);

    VcpuContext bad = ctx;
    bad.xss = cet_u;
    EXPECT_RC(-EINVAL, hc(*m, [&](Hypervisor &hv) { return hv.set_vcpu_context(CONTROL_DOMID, d, 0, bad); }));
}

// The vCPU's prepared CPUID answers (guest_cpuid.hpp VcpuCpuid) follow every path that
// changes what they depend on: a restored vCPU context (CR4, XCR0), CR4 and XCR0 writes
// from the guest, and a new domain policy - for each vCPU, which keeps its own APIC ID.
TEST(guest_cpuid_answers_follow_restored_state_and_a_new_policy)
{
    auto m = boot(HASWELL);
    if ( !m )
        return;
    DomId d = create_domain(*m, DomainType::hvm, 2);
    // A new policy before start: AVX gone (and AVX2 with it); vCPU 1 still has APIC ID 2.
    Featureset fs = policy_to_featureset(domain_policy(*m, d));
    fs.clear(F("avx"));
    REQUIRE_RC(0, set_featureset(*m, d, fs));
    REQUIRE_RC(0, start(*m, d));
    GuestCpuidOutcome o = run_cpuid(*m, d, 1, 7, 0, CpuidPath::hvm, 0, __LINE__);
    EXPECT_EQ(0u, o.regs.b & (1u << 5));  // AVX2
    o = run_cpuid(*m, d, 1, 1, 0, CpuidPath::hvm, 0, __LINE__);
    EXPECT_EQ(0u, o.regs.c & (1u << 28));  // AVX
    EXPECT_EQ(2u, o.regs.b >> 24);
    EXPECT_EQ(0u, o.regs.c & (1u << 27));  // OSXSAVE: CR4 still clear

    // A restored context: CR4.OSXSAVE and XCR0 x87|SSE show at once, on that vCPU only.
    VcpuContext ctx{};
    ctx.cr4 = CR4_OSXSAVE;
    ctx.xcr0 = 0x3;
    REQUIRE_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.set_vcpu_context(CONTROL_DOMID, d, 1, ctx); }));
    o = run_cpuid(*m, d, 1, 1, 0, CpuidPath::hvm, 0, __LINE__);
    EXPECT_TRUE(o.regs.c & (1u << 27));
    EXPECT_EQ(2u, o.regs.b >> 24);
    EXPECT_EQ(0x240u, run_cpuid(*m, d, 1, 0xd, 0, CpuidPath::hvm, 0, __LINE__).regs.b);
    EXPECT_EQ(0u, run_cpuid(*m, d, 0, 1, 0, CpuidPath::hvm, 0, __LINE__).regs.c & (1u << 27));
    // A refused context changes nothing.
    ctx.xcr0 = 0x7;  // AVX: no longer offered
    EXPECT_RC(-EINVAL, hc(*m, [&](Hypervisor &hv) { return hv.set_vcpu_context(CONTROL_DOMID, d, 1, ctx); }));
    EXPECT_EQ(0x240u, run_cpuid(*m, d, 1, 0xd, 0, CpuidPath::hvm, 0, __LINE__).regs.b);

    // The guest's own CR4 write: OSXSAVE clears on vCPU 1, sets on vCPU 0.
    REQUIRE_RC(0, m->exec_write_cr4(d, 1, 0));
    REQUIRE_RC(0, m->exec_write_cr4(d, 0, CR4_OSXSAVE));
    EXPECT_EQ(0u, run_cpuid(*m, d, 1, 1, 0, CpuidPath::hvm, 0, __LINE__).regs.c & (1u << 27));
    EXPECT_TRUE(run_cpuid(*m, d, 0, 1, 0, CpuidPath::hvm, 0, __LINE__).regs.c & (1u << 27));
}

// XSETBV refuses what the hardware refuses (SDM vol. 1 13.3, vol. 2B XSETBV): x87 always
// set, AVX only with SSE, opmask/ZMM_Hi256/Hi16_ZMM together and with AVX, TILECFG/
// TILEDATA together, nothing the policy does not offer.  An HVM guest on Sapphire Rapids
// is offered x87 SSE AVX opmask ZMM_Hi256 Hi16_ZMM PKRU (0x2e7; guests get no AMX, as
// with Xen 4.17, so the AMX and MPX rules are shown on the rule alone).  Before, 0x27
// (opmask without the ZMM state) was accepted and leaf 0xd:0 then answered 0xa80 - a size
// no CPU reports for any XCR0 it can load.  An accepted value sizes 0xd:0.ebx as the
// component walk does; a refused one leaves XCR0 (and the size) as they were.
TEST(xsetbv_refuses_every_xcr0_the_hardware_refuses)
{
    auto m = boot(SAPPHIRE);
    if ( !m )
        return;
    DomId d = create_domain(*m, DomainType::hvm);
    REQUIRE_RC(0, start(*m, d));
    const Policy &p = domain_policy(*m, d);
    EXPECT_EQ(0x2e7ull, xstate::policy_xcr0(p));
    REQUIRE_RC(0, m->exec_write_cr4(d, 0, CR4_OSXSAVE));
    xstate::Layout l;
    xstate::layout_of(l, p);

    struct Case {
        uint64_t xcr0;
        bool accepted;
        const char *why;
    };
    const Case cases[] = {
        {0x1, true, "x87 alone (the reset value)"},
        {0x3, true, "x87 SSE"},
        {0x7, true, "x87 SSE AVX"},
        {0xe7, true, "AVX-512 state, all three, with AVX"},
        {0x2e7, true, "AVX-512 and PKRU"},
        {0x2e7, true, "everything offered"},
        {0x0, false, "nothing: x87 clear"},
        {0x2, false, "SSE without x87"},
        {0x5, false, "AVX without SSE"},
        {0x27, false, "opmask without ZMM_Hi256 / Hi16_ZMM"},
        {0x67, false, "opmask ZMM_Hi256 without Hi16_ZMM"},
        {0xc7, false, "ZMM state without opmask"},
        {0xe3, false, "AVX-512 state without AVX"},
        {0xe5, false, "AVX-512 state and AVX without SSE"},
        {0x60003, false, "AMX: the policy does not offer it"},
        {0x1b, false, "MPX: the policy does not offer it"},
        {0x103, false, "PT: a supervisor component, never XCR0"},
        {0x80003, false, "APX: not offered"},
        {0x8000000000000003ull, false, "bit 63: reserved"},
    };
    uint64_t current = 0x1;
    REQUIRE_RC(0, m->exec_write_xcr0(d, 0, current));
    for ( const Case &c : cases )
    {
        int rc = m->exec_write_xcr0(d, 0, c.xcr0);
        if ( !EXPECT_EQ(c.accepted ? 0 : -EINVAL, rc) )
            std::printf("        xcr0 %#llx: %s\n", static_cast<unsigned long long>(c.xcr0), c.why);
        EXPECT_EQ(c.accepted, xstate::xcr0_valid(c.xcr0, xstate::policy_xcr0(p)));
        if ( c.accepted )
            current = c.xcr0;
        VcpuContext ctx{};
        REQUIRE_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_vcpu_context(CONTROL_DOMID, d, 0, ctx); }));
        EXPECT_EQ(current, ctx.xcr0);
        EXPECT_EQ(xstate::uncompressed_size(l, current),
                  run_cpuid(*m, d, 0, 0xd, 0, CpuidPath::hvm, 0, __LINE__).regs.b);
    }
    // Restoring a saved vCPU applies the same rules.
    VcpuContext ctx{};
    REQUIRE_RC(0, hc(*m, [&](Hypervisor &hv) { return hv.get_vcpu_context(CONTROL_DOMID, d, 0, ctx); }));
    ctx.xcr0 = 0x27;
    EXPECT_RC(-EINVAL, hc(*m, [&](Hypervisor &hv) { return hv.set_vcpu_context(CONTROL_DOMID, d, 0, ctx); }));
    // The rules this guest cannot show, on the rule alone, with the components offered.
    const Case rule_only[] = {
        {0x1f, true, "MPX: BNDREGS and BNDCSR"},
        {0xf, false, "BNDREGS without BNDCSR"},
        {0x17, false, "BNDCSR without BNDREGS"},
        {0x60003, true, "AMX tiles, both, without AVX"},
        {0x602e7, true, "AVX-512, PKRU, AMX"},
        {0x20003, false, "TILECFG without TILEDATA"},
        {0x40003, false, "TILEDATA without TILECFG"},
    };
    for ( const Case &c : rule_only )
        if ( !EXPECT_EQ(c.accepted, xstate::xcr0_valid(c.xcr0, 0x602ff)) )
            std::printf("        xcr0 %#llx: %s\n", static_cast<unsigned long long>(c.xcr0), c.why);
}

// The FEP is emulated from the policy on every host and guest type; anything else after
// a #UD is the guest's own #UD.  A PV guest without faulting thus reaches Xen's leaves
// only through the FEP: native CPUID there repeats the highest basic leaf (Intel).
TEST(forced_emulation_prefix_always_answers_from_the_policy)
{
    auto m = boot(SANDYBRIDGE);
    if ( !m )
        return;
    DomId d = create_domain(*m, DomainType::pv);
    REQUIRE_RC(0, start(*m, d));
    GuestCpuidOutcome fep = run_cpuid(*m, d, 0, 0x40000000, 0, CpuidPath::fep, 3, __LINE__);
    EXPECT_EQ(XEN_SIGNATURE_EBX, fep.regs.b);
    GuestCpuidOutcome nat = run_cpuid(*m, d, 0, 0x40000000, 0, CpuidPath::native, 3, __LINE__);
    EXPECT_TRUE(nat.regs.b != XEN_SIGNATURE_EBX);
    EXPECT_EQ(m->cpu(0).cpuid_unmasked(0xd, 0), nat.regs);

    GuestCpuidResult r{};
    const uint8_t not_fep[7] = {0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0x31};  // ...; rdtsc
    REQUIRE_RC(0, m->schedule(0, d, 0));
    EXPECT_RC(0, m->on_cpu(0, [&](Hypervisor &hv) { return hv.invalid_op(d, 0, 3, not_fep, 7, 0_leaf, 0_subleaf, r); }));
    EXPECT_TRUE(r.fault == GuestFault::ud && r.insn_len == 0);
    EXPECT_RC(0, m->on_cpu(0, [&](Hypervisor &hv) { return hv.invalid_op(d, 0, 3, FEP_CPUID, 6, 0_leaf, 0_subleaf, r); }));
    EXPECT_TRUE(r.fault == GuestFault::ud);
    EXPECT_RC(0, m->on_cpu(0, [&](Hypervisor &hv) { return hv.invalid_op(d, 0, 3, FEP_CPUID, 7, 0_leaf, 0_subleaf, r); }));
    EXPECT_TRUE(r.fault == GuestFault::none && r.insn_len == 7);
}

// The entry points check who is running: a #GP for a vCPU not on this CPU, an HVM exit
// for a PV domain, a PV #GP that is not CPUID, a #GP without faulting.
TEST(guest_entry_points_refuse_what_cannot_happen)
{
    auto m = boot(HASWELL);
    if ( !m )
        return;
    DomId pv = create_domain(*m, DomainType::pv), hvm = create_domain(*m, DomainType::hvm);
    REQUIRE_RC(0, start(*m, pv));
    REQUIRE_RC(0, start(*m, hvm));
    GuestCpuidResult r{};
    REQUIRE_RC(0, m->schedule(0, pv, 0));
    EXPECT_RC(-EINVAL, m->on_cpu(0, [&](Hypervisor &hv) { return hv.pv_gp_fault(pv, 1, INSN_CPUID, 2, 0_leaf, 0_subleaf, r); }));
    EXPECT_RC(-EINVAL, m->on_cpu(0, [&](Hypervisor &hv) { return hv.hvm_cpuid_exit(pv, 0, 0, 0_leaf, 0_subleaf, r); }));
    EXPECT_RC(-ESRCH, m->on_cpu(0, [&](Hypervisor &hv) { return hv.pv_gp_fault(99, 0, INSN_CPUID, 2, 0_leaf, 0_subleaf, r); }));
    const uint8_t wrmsr[2] = {0x0f, 0x30};
    EXPECT_RC(0, m->on_cpu(0, [&](Hypervisor &hv) { return hv.pv_gp_fault(pv, 0, wrmsr, 2, 0_leaf, 0_subleaf, r); }));
    EXPECT_TRUE(r.fault == GuestFault::gp);
    EXPECT_RC(0, m->on_cpu(0, [&](Hypervisor &hv) { return hv.pv_gp_fault(pv, 0, INSN_CPUID, 2, 0_leaf, 0_subleaf, r); }));
    EXPECT_TRUE(r.fault == GuestFault::none && r.insn_len == 2);

    // Paths that cannot happen for the guest / host are refused by the simulator.
    GuestCpuidOutcome o;
    EXPECT_RC(-EOPNOTSUPP, m->exec_cpuid(pv, 0, CpuidPath::native, 0, 0, 3, o));  // faulting host
    EXPECT_RC(-EOPNOTSUPP, m->exec_cpuid(pv, 0, CpuidPath::hvm, 0, 0, 3, o));
    EXPECT_RC(-EOPNOTSUPP, m->exec_cpuid(hvm, 0, CpuidPath::native, 0, 0, 3, o));
    EXPECT_RC(-EOPNOTSUPP, m->exec_cpuid(hvm, 0, CpuidPath::faulting, 0, 0, 3, o));
    EXPECT_RC(-EINVAL, m->exec_cpuid(pv, 7, CpuidPath::automatic, 0, 0, 3, o));
    DomId idle = create_domain(*m, DomainType::pv);
    EXPECT_RC(-EBUSY, m->exec_cpuid(idle, 0, CpuidPath::automatic, 0, 0, 3, o));
    auto snb = boot(SANDYBRIDGE);
    if ( !snb )
        return;
    DomId s = create_domain(*snb, DomainType::pv);
    REQUIRE_RC(0, start(*snb, s));
    EXPECT_RC(-EOPNOTSUPP, snb->exec_cpuid(s, 0, CpuidPath::faulting, 0, 0, 3, o));
}

// Counters of the paths taken.
TEST(simulator_counts_each_cpuid_path)
{
    auto m = boot(HASWELL);
    if ( !m )
        return;
    DomId pv = create_domain(*m, DomainType::pv), hvm = create_domain(*m, DomainType::hvm);
    REQUIRE_RC(0, start(*m, pv));
    REQUIRE_RC(0, start(*m, hvm));
    m->reset_counters();
    run_cpuid(*m, pv, 0, 1, 0, CpuidPath::automatic, 3, __LINE__);
    run_cpuid(*m, pv, 0, 1, 0, CpuidPath::fep, 3, __LINE__);
    run_cpuid(*m, hvm, 0, 1, 0, CpuidPath::automatic, 0, __LINE__);
    run_cpuid(*m, hvm, 0, 7, 0, CpuidPath::automatic, 0, __LINE__);
    SimCounters c = m->counters();
    EXPECT_EQ(1u, c.cpuid_faulting);
    EXPECT_EQ(1u, c.cpuid_fep);
    EXPECT_EQ(2u, c.cpuid_hvm);
    EXPECT_EQ(0u, c.cpuid_native);
    // PV (on), HVM (off) on the one CPU: two toggles of MISC_FEATURES_ENABLES.
    EXPECT_EQ(2u, m->msr_writes(0x140));
    EXPECT_EQ(2u, c.context_switches);
}

int main() { return run_all("test_hypervisor.cpp"); }
