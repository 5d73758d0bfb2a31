// SPDX-License-Identifier: MIT
// The Hypervisor object: boot, system policies, domains, hypercalls (hypervisor.hpp).
// The guest-facing entry points are in hypervisor_guest.cpp.
#include "cpupolicy/hypervisor.hpp"
#include "cpupolicy/check.hpp"
#include "cpupolicy/compat.hpp"
#include "cpupolicy/features.hpp"
#include "cpupolicy/platform.hpp"

#include <new>  // placement new: domain memory comes from the platform seam

namespace cpupolicy {

PolicyIndex policy_index_of(FeaturesetIndex idx)
{
    switch ( idx ) {
    case FeaturesetIndex::raw:         return PolicyIndex::raw;
    case FeaturesetIndex::host:        return PolicyIndex::host;
    case FeaturesetIndex::pv_default:  return PolicyIndex::pv_default;
    case FeaturesetIndex::hvm_default: return PolicyIndex::hvm_default;
    case FeaturesetIndex::pv_max:      return PolicyIndex::pv_max;
    case FeaturesetIndex::hvm_max:     return PolicyIndex::hvm_max;
    }
    return PolicyIndex::raw;
}

void policy_apply_guest_featureset(Policy &p, Featureset fs, const Policy &max)
{
    Featureset unknown = fs.and_not(features::known);
    featureset_sanitise(fs);
    fs |= unknown;
    policy_apply_featureset(p, fs);
    xstate::recalculate_xstate(p, max);
}

namespace {

constexpr Feature F_ARCH_CAPS = feature_named("arch-caps");

void read_leaf(Policy &p, Leaf leaf)
{
    uint32_t nr = 0;
    switch ( leaf_kind(leaf, &nr) ) {
    case LeafKind::plain:
        p.slot[slot_exact(leaf, kNoSubleaf)] = plat_cpuid(leaf, 0_subleaf);
        break;
    case LeafKind::indexed:
        for ( uint32_t s = 0; s < nr; ++s )
            p.slot[slot_exact(leaf, Subleaf{s})] = plat_cpuid(leaf, Subleaf{s});
        break;
    case LeafKind::absent:
        break;
    }
}

// The raw policy of the current CPU: every leaf and subleaf the Policy object holds, up
// to the CPU's own maxima (beyond them an Intel CPU repeats its highest basic leaf, which
// is not data), and the two MSRs.  Xen keeps only the CPUID faulting bit of
// PLATFORM_INFO, and reads ARCH_CAPABILITIES only when CPUID enumerates it.
void read_raw_policy(Policy &raw)
{
    raw = Policy{};
    uint32_t max = plat_cpuid(0_leaf).a;
    for ( uint32_t l = 0; l <= max && l <= BASIC_LAST; ++l )
        read_leaf(raw, Leaf{l});
    uint32_t emax = plat_cpuid(Leaf{EXTD_FIRST}).a;
    if ( emax >= EXTD_FIRST && emax <= 0x8000ffffu )
        for ( uint32_t l = EXTD_FIRST; l <= emax && l <= EXTD_LAST; ++l )
            read_leaf(raw, Leaf{l});

    uint64_t v = 0;
    if ( cpupolicy_plat_rdmsr(MSR_PLATFORM_INFO, &v) == 0 )
        raw.platform_info = static_cast<uint32_t>(v) & PLATFORM_INFO_CPUID_FAULTING;
    if ( policy_to_featureset(raw).test(F_ARCH_CAPS) &&
         cpupolicy_plat_rdmsr(MSR_ARCH_CAPABILITIES, &v) == 0 )
        raw.arch_caps = v;
}

// Where featureset word `w` lives, for an error record.
void err_for_word(ErrRecord *err, unsigned w)
{
    if ( !err || w >= NR_FEATUREWORDS )
        return;
    const WordSource &src = table::words[w].src;
    *err = ErrRecord{};
    if ( src.is_msr )
        err->msr = src.msr;
    else
    {
        err->leaf = src.leaf;
        err->subleaf = src.subleaf;
    }
}

// The domid after `id` in allocation order: up to DOMID_FIRST_RESERVED, then from 1
// again (0 is the control domain's).
DomId domid_after(DomId id)
{
    return id + 1 >= DOMID_FIRST_RESERVED ? 1 : id + 1;
}

PolicyIndex max_of(DomainType t)
{
    return t == DomainType::pv ? PolicyIndex::pv_max : PolicyIndex::hvm_max;
}
PolicyIndex default_of(DomainType t)
{
    return t == DomainType::pv ? PolicyIndex::pv_default : PolicyIndex::hvm_default;
}

} // namespace

// --- Bookkeeping -------------------------------------------------------------------------
const Hypervisor::Domain *Hypervisor::find(DomId d) const
{
    if ( d >= DOMID_FIRST_RESERVED )
        return nullptr;
    const DomainPage *page = dom_page_[d >> DOMAIN_PAGE_SHIFT];
    return page ? page->slot[d & (DOMAIN_PAGE_SIZE - 1)] : nullptr;
}

int Hypervisor::add_domain(DomId id, DomainType type, unsigned nr_vcpus)
{
    CHECK(id < DOMID_FIRST_RESERVED && !find(id));
    unsigned pg = id >> DOMAIN_PAGE_SHIFT;
    bool new_page = !dom_page_[pg];
    if ( new_page )
    {
        void *mem = cpupolicy_plat_alloc(sizeof(DomainPage), alignof(DomainPage));
        if ( !mem )
            return -err::enomem;
        dom_page_[pg] = new (mem) DomainPage{};
    }
    void *mem = cpupolicy_plat_alloc(sizeof(Domain), alignof(Domain));
    Domain *dom = mem ? new (mem) Domain{} : nullptr;
    int rc = dom ? build_domain(*dom, id, type, nr_vcpus) : -err::enomem;
    if ( rc )
    {
        if ( dom )
            cpupolicy_plat_free(dom, sizeof(Domain));
        if ( new_page )
        {
            cpupolicy_plat_free(dom_page_[pg], sizeof(DomainPage));
            dom_page_[pg] = nullptr;
        }
        return rc;
    }
    dom_page_[pg]->slot[id & (DOMAIN_PAGE_SIZE - 1)] = dom;
    ++nr_in_page_[pg];
    ++nr_domains_;
    return 0;
}

void Hypervisor::remove_domain(DomId id)
{
    unsigned pg = id >> DOMAIN_PAGE_SHIFT;
    Domain *dom = find(id);
    CHECK(dom && nr_in_page_[pg] && nr_domains_);
    dom_page_[pg]->slot[id & (DOMAIN_PAGE_SIZE - 1)] = nullptr;
    cpupolicy_plat_free(dom, sizeof(Domain));
    --nr_domains_;
    if ( --nr_in_page_[pg] == 0 )
    {
        cpupolicy_plat_free(dom_page_[pg], sizeof(DomainPage));
        dom_page_[pg] = nullptr;
    }
}

Hypervisor::~Hypervisor()
{
    for ( unsigned pg = 0; pg < NR_DOMAIN_PAGES; ++pg )
        if ( DomainPage *page = dom_page_[pg] )
        {
            for ( Domain *dom : page->slot )
                if ( dom )
                    cpupolicy_plat_free(dom, sizeof(Domain));
            cpupolicy_plat_free(page, sizeof(DomainPage));
        }
}

// Xen's rule: the control domain may act on anyone, a domain on itself only.  Permission
// is judged before existence, so a guest cannot probe which domids exist.
int Hypervisor::lookup(DomId caller, DomId d, const Domain **out) const
{
    if ( !booted_ )
        return -err::enodev;
    if ( caller != CONTROL_DOMID && (caller != d || !find(caller)) )
        return -err::eperm;
    const Domain *dom = find(d);
    if ( !dom )
        return -err::esrch;
    *out = dom;
    return 0;
}

int Hypervisor::find_vcpu(DomId d, unsigned vcpu, const Domain **out) const
{
    const Domain *dom = find(d);
    if ( !dom )
        return -err::esrch;
    CHECK(dom->nr_vcpus <= MAX_VCPUS);  // build_domain refuses more
    if ( vcpu >= dom->nr_vcpus )
        return -err::einval;
    *out = dom;
    return 0;
}

const Hypervisor::Pcpu *Hypervisor::this_pcpu() const
{
    unsigned id = cpupolicy_plat_cpu_id();
    return id < MAX_PCPUS && pcpu_[id].online ? &pcpu_[id] : nullptr;
}

// The mutable twins of the const lookups above: what they find is this object's own, so
// handing it back without const is sound (and T * and const T * are similar types, so
// writing through the cast out-pointer is too).
Hypervisor::Domain *Hypervisor::find(DomId d)
{
    return const_cast<Domain *>(static_cast<const Hypervisor *>(this)->find(d));
}

Hypervisor::Pcpu *Hypervisor::this_pcpu()
{
    return const_cast<Pcpu *>(static_cast<const Hypervisor *>(this)->this_pcpu());
}

int Hypervisor::lookup(DomId caller, DomId d, Domain **out)
{
    return static_cast<const Hypervisor *>(this)->lookup(caller, d,
                                                         const_cast<const Domain **>(out));
}

int Hypervisor::find_vcpu(DomId d, unsigned vcpu, Domain **out)
{
    return static_cast<const Hypervisor *>(this)->find_vcpu(d, vcpu,
                                                            const_cast<const Domain **>(out));
}

bool Hypervisor::is_current(const Domain &dom, unsigned vcpu) const
{
    const Pcpu *p = this_pcpu();
    return p && p->running && p->dom == dom.id && p->vcpu == vcpu;
}

const DomainLevelling *Hypervisor::domain_levelling(DomId d) const
{
    const Domain *dom = find(d);
    return dom ? &dom->lev : nullptr;
}

unsigned Hypervisor::list_domains(DomainInfo *out, unsigned max) const
{
    // The table is in domid order already; empty pages are skipped whole.
    unsigned n = 0;
    for ( unsigned pg = 0; pg < NR_DOMAIN_PAGES; ++pg )
        if ( const DomainPage *page = dom_page_[pg] )
            for ( const Domain *dom : page->slot )
                if ( dom )
                {
                    if ( n < max && out )
                        out[n] = DomainInfo{dom->id, dom->type, dom->started, dom->nr_vcpus};
                    ++n;
                }
    return n;
}

bool Hypervisor::policy_has_faulting(const Domain &dom) const
{
    return dom.policy.platform_info & PLATFORM_INFO_CPUID_FAULTING;
}

// --- Bring-up ----------------------------------------------------------------------------
int Hypervisor::boot(const char *boot_options, BootOptionsError *bad)
{
    if ( booted_ )
        return -err::eexist;
    unsigned cpu = cpupolicy_plat_cpu_id();
    if ( cpu >= MAX_PCPUS )
        return -err::e2big;
    BootOptions opts;
    int rc = boot_options_parse(opts, boot_options, bad);
    if ( rc )
        return rc;

    Policy &raw = sys_[static_cast<unsigned>(PolicyIndex::raw)];
    read_raw_policy(raw);
    if ( basic_max_leaf(raw) == 0 && policy_vendor(raw) == Vendor::unknown )
        return -err::enodev;
    rc = levelling_detect(caps_);
    if ( rc )
        return rc;

    Policy &host = sys_[static_cast<unsigned>(PolicyIndex::host)];
    derive_host(host, raw, opts);
    for ( int i = 0; i < 2; ++i )
    {
        bool hvm = i == 1;
        Policy &max = sys_[static_cast<unsigned>(hvm ? PolicyIndex::hvm_max : PolicyIndex::pv_max)];
        Policy &def = sys_[static_cast<unsigned>(hvm ? PolicyIndex::hvm_default
                                                     : PolicyIndex::pv_default)];
        derive_max(max, host, raw, hvm, opts);
        derive_default(def, max, host, raw, hvm, opts);
    }
    opts_ = opts;

    rc = levelling_cpu_init(caps_);
    if ( rc )
        return rc;
    ctxt_switch_levelling(nullptr);
    pcpu_[cpu] = Pcpu{true, false, 0, 0};

    rc = add_domain(CONTROL_DOMID, DomainType::pv, 1);
    if ( rc )
        return rc;
    find(CONTROL_DOMID)->started = true;
    next_domid_ = 1;
    booted_ = true;
    cpupolicy_plat_log(log_info, "cpupolicy: booted on cpu %u, levelling caps %x", cpu,
                       caps_.caps);
    return 0;
}

int Hypervisor::cpu_up()
{
    if ( !booted_ )
        return -err::einval;
    unsigned cpu = cpupolicy_plat_cpu_id();
    if ( cpu >= MAX_PCPUS )
        return -err::e2big;
    LevellingCaps here{};
    int rc = levelling_detect(here);
    if ( rc )
        return rc;
    bool same = here.caps == caps_.caps && here.faulting == caps_.faulting;
    for ( unsigned i = 0; same && i < NR_MASK_MSRS; ++i )
        same = here.msr[i] == caps_.msr[i];
    if ( !same )
    {
        // Xen levels with what the boot CPU found; a CPU that differs is a firmware or
        // virtualisation problem worth a warning, not a reason to refuse the CPU.
        ++caps_mismatches_;
        cpupolicy_plat_log(log_warn, "cpupolicy: cpu %u levelling caps %x differ from boot cpu %x",
                           cpu, here.caps, caps_.caps);
    }
    rc = levelling_cpu_init(caps_);
    if ( rc )
        return rc;
    ctxt_switch_levelling(nullptr);
    pcpu_[cpu] = Pcpu{true, false, 0, 0};
    return 0;
}

// --- System queries ------------------------------------------------------------------------
int Hypervisor::get_featureset(DomId caller, unsigned idx, uint32_t *nr, uint32_t *fs) const
{
    if ( !booted_ )
        return -err::enodev;
    if ( caller != CONTROL_DOMID )
        return -err::eperm;
    if ( idx >= NR_FEATURESET_INDEX || !nr )
        return -err::einval;
    if ( !fs )
    {
        *nr = NR_FEATUREWORDS;
        return 0;
    }
    Featureset set = policy_to_featureset(
        system_policy(policy_index_of(static_cast<FeaturesetIndex>(idx))));
    uint32_t n = *nr < NR_FEATUREWORDS ? *nr : NR_FEATUREWORDS;
    for ( uint32_t i = 0; i < n; ++i )
        fs[i] = set.w[i];
    bool short_buf = *nr < NR_FEATUREWORDS;
    *nr = n;
    return short_buf ? -err::enobufs : 0;
}

int Hypervisor::get_system_policy(DomId caller, unsigned idx, Policy &out) const
{
    if ( !booted_ )
        return -err::enodev;
    if ( caller != CONTROL_DOMID )
        return -err::eperm;
    if ( idx >= NR_POLICY_INDEX )
        return -err::einval;
    out = sys_[idx];
    return 0;
}

int Hypervisor::get_levelling_caps(DomId caller, uint32_t *caps) const
{
    if ( !booted_ )
        return -err::enodev;
    if ( caller != CONTROL_DOMID )
        return -err::eperm;
    if ( !caps )
        return -err::einval;
    *caps = caps_.caps;
    return 0;
}

int Hypervisor::featureset_fits_max(DomId caller, unsigned idx, const uint32_t *words, uint32_t nr,
                                  uint32_t *bad_feature) const
{
    if ( !booted_ )
        return -err::enodev;
    if ( caller != CONTROL_DOMID )
        return -err::eperm;
    if ( idx >= NR_FEATURESET_INDEX || (!words && nr) )
        return -err::einval;
    Featureset fs;
    int rc = featureset_from_words(fs, words, nr);
    if ( rc )
        return rc;
    const Featureset offered =
        policy_to_featureset(system_policy(policy_index_of(static_cast<FeaturesetIndex>(idx))));
    return cpupolicy::featureset_fits_max(fs, offered, bad_feature);
}

// --- Domains --------------------------------------------------------------------------------
// `dom` is freshly value-initialised (add_domain's placement new): no zeroing copy here,
// which would put a whole Domain (~10 KiB) on the stack.
int Hypervisor::build_domain(Domain &dom, DomId id, DomainType type, unsigned nr_vcpus)
{
    dom.id = id;
    dom.type = type;
    dom.nr_vcpus = nr_vcpus;
    int rc = install_policy(dom, system_policy(default_of(type)));
    if ( rc )
        return rc;
    for ( unsigned v = 0; v < nr_vcpus; ++v )
    {
        VcpuState s;
        s.vcpu_id = v;
        dom.vcpu[v].cpuid.load(dom.ctx, s);
    }
    return 0;
}

// Make `p` the domain's policy together with everything derived from it, or change
// nothing.  The guest CPUID context points at dom.policy, so it is prepared in place (it
// is written only on success) and the old policy restored if that fails; then every
// vCPU's prepared answers are recomputed for the new policy.
int Hypervisor::install_policy(Domain &dom, const Policy &p)
{
    Policy old = dom.policy;
    dom.policy = p;
    GuestConfig cfg;
    cfg.hvm = dom.type == DomainType::hvm;
    cfg.domid = static_cast<uint16_t>(dom.id);
    int rc = guest_cpuid_prepare(dom.ctx, dom.policy, cfg);
    if ( rc )
    {
        dom.policy = old;
        return rc;
    }
    for ( unsigned v = 0; v < dom.nr_vcpus; ++v )
        dom.vcpu[v].cpuid.load(dom.ctx, dom.vcpu[v].cpuid.state());
    levelling_domain_compute(dom.lev, caps_, sys_[static_cast<unsigned>(PolicyIndex::raw)],
                             dom.policy, dom.type == DomainType::pv);
    return 0;
}

int Hypervisor::check_policy(const Domain &dom, const Policy &p, ErrRecord *err) const
{
    ErrRecord e;
    int rc = policy_is_compatible(system_policy(max_of(dom.type)), p, &e, nullptr);
    if ( rc )
    {
        if ( err )
            *err = e;
        return rc;
    }
    uint32_t bad = 0;
    if ( featureset_check_deps(policy_to_featureset(p), &bad) != 0 )
    {
        err_for_word(err, bad / 32);
        return -err::einval;
    }
    return 0;
}

int Hypervisor::domain_create(DomId caller, DomainType type, DomId *out, unsigned nr_vcpus)
{
    if ( !out )
        return -err::einval;
    // Domids are not reused at once (as Xen): a stale id held by a toolstack then names
    // no domain rather than a new one.
    if ( nr_domains_ >= DOMID_FIRST_RESERVED )
        return -err::enospc;  // every domid is taken (the loop below would not end)
    DomId id = next_domid_;
    while ( id == CONTROL_DOMID || find(id) )
        id = domid_after(id);
    int rc = domain_create_with_id(caller, type, id, nr_vcpus);
    if ( rc )
        return rc;
    next_domid_ = domid_after(id);
    *out = id;
    return 0;
}

int Hypervisor::domain_create_with_id(DomId caller, DomainType type, DomId id, unsigned nr_vcpus)
{
    if ( !booted_ )
        return -err::enodev;
    if ( caller != CONTROL_DOMID )
        return -err::eperm;
    if ( (type != DomainType::pv && type != DomainType::hvm) || nr_vcpus == 0 ||
         nr_vcpus > MAX_VCPUS || id == CONTROL_DOMID || id >= DOMID_FIRST_RESERVED )
        return -err::einval;
    if ( find(id) )
        return -err::eexist;
    if ( int rc = add_domain(id, type, nr_vcpus) )
        return rc;
    if ( id >= next_domid_ )
        next_domid_ = domid_after(id);
    return 0;
}

int Hypervisor::set_next_domid(DomId caller, DomId id)
{
    if ( !booted_ )
        return -err::enodev;
    if ( caller != CONTROL_DOMID )
        return -err::eperm;
    if ( id == CONTROL_DOMID || id >= DOMID_FIRST_RESERVED )
        return -err::einval;
    next_domid_ = id;
    return 0;
}

int Hypervisor::domain_start(DomId caller, DomId d)
{
    Domain *dom = nullptr;
    if ( int rc = lookup_unstarted(caller, d, &dom, nullptr) )
        return rc;
    dom->started = true;
    return 0;
}

int Hypervisor::domain_destroy(DomId caller, DomId d)
{
    Domain *dom = nullptr;
    if ( int rc = lookup(caller, d, &dom) )
        return rc;
    if ( d == CONTROL_DOMID || caller != CONTROL_DOMID )
        return -err::eperm;
    // A physical CPU still running one of its vCPUs goes idle.  Only the current CPU's
    // MSRs can be written from here; the others keep stale masks until their next switch,
    // which compares values, never domain identities, so nothing dangles.
    const Pcpu *here = this_pcpu();
    for ( auto &p : pcpu_ )
        if ( p.online && p.running && p.dom == d )
        {
            if ( &p == here )
                context_switch_idle();
            p.running = false;
        }
    remove_domain(d);
    return 0;
}

int Hypervisor::get_domain_info(DomId caller, DomId d, DomainInfo &out) const
{
    const Domain *dom = nullptr;
    if ( int rc = lookup(caller, d, &dom) )
        return rc;
    out = DomainInfo{dom->id, dom->type, dom->started, dom->nr_vcpus};
    return 0;
}

int Hypervisor::get_domain_policy(DomId caller, DomId d, Policy &out) const
{
    const Domain *dom = nullptr;
    if ( int rc = lookup(caller, d, &dom) )
        return rc;
    out = dom->policy;
    return 0;
}

int Hypervisor::lookup_unstarted(DomId caller, DomId d, Domain **out, ErrRecord *err)
{
    if ( err )
        *err = ErrRecord{};
    if ( int rc = lookup(caller, d, out) )
        return rc;
    return (*out)->started ? -err::eexist : 0;
}

int Hypervisor::set_domain_policy(DomId caller, DomId d, const Policy &p, ErrRecord *err)
{
    Domain *dom = nullptr;
    if ( int rc = lookup_unstarted(caller, d, &dom, err) )
        return rc;
    if ( int rc = check_policy(*dom, p, err) )
        return rc;
    int rc = install_policy(*dom, p);
    if ( rc && err )
    {
        *err = ErrRecord{};
        err->leaf = 0xd_leaf;  // only the xsave layout can fail to prepare
    }
    return rc;
}

int Hypervisor::set_featureset(DomId caller, DomId d, const uint32_t *words, uint32_t nr,
                               ErrRecord *err)
{
    Domain *dom = nullptr;
    if ( int rc = lookup_unstarted(caller, d, &dom, err) )
        return rc;
    if ( !words && nr )
        return -err::einval;
    Featureset fs;
    if ( int rc = featureset_from_words(fs, words, nr) )
        return rc;
    Policy p = dom->policy;
    policy_apply_guest_featureset(p, fs, system_policy(max_of(dom->type)));
    return set_domain_policy(caller, d, p, err);
}

int Hypervisor::get_domain_levelling(DomId caller, DomId d, LevellingGap &out) const
{
    const Domain *dom = nullptr;
    if ( int rc = lookup(caller, d, &dom) )
        return rc;
    out = dom->lev.gap;
    return 0;
}

int Hypervisor::get_vcpu_context(DomId caller, DomId d, unsigned vcpu, VcpuContext &out) const
{
    const Domain *dom = nullptr;
    if ( int rc = lookup(caller, d, &dom) )
        return rc;
    if ( vcpu >= dom->nr_vcpus )
        return -err::einval;
    const Vcpu &v = dom->vcpu[vcpu];
    const VcpuState &s = v.cpuid.state();
    out = VcpuContext{s.cr4, s.xcr0, s.xss, v.misc_features_enables};
    return 0;
}

int Hypervisor::set_vcpu_context(DomId caller, DomId d, unsigned vcpu, const VcpuContext &in)
{
    Domain *dom = nullptr;
    if ( int rc = lookup(caller, d, &dom) )
        return rc;
    if ( vcpu >= dom->nr_vcpus )
        return -err::einval;
    // The faulting enable bit is restored only where the policy offers faulting: an image
    // from a host with it cannot be loaded into a policy without it.
    if ( (in.misc_features_enables & ~msr::misc_features_cpuid_faulting) ||
         ((in.misc_features_enables & msr::misc_features_cpuid_faulting) &&
          !policy_has_faulting(*dom)) )
        return -err::einval;
    // An XCR0 XSETBV would refuse cannot be restored either (xstate::xcr0_valid), nor an
    // IA32_XSS the guest's WRMSR would get #GP for.
    if ( !xstate::xcr0_valid(in.xcr0, xstate::policy_xcr0(dom->policy)) ||
         (in.xss & ~dom->ctx.xss_offered) )
        return -err::einval;
    Vcpu &v = dom->vcpu[vcpu];
    VcpuState s = v.cpuid.state();
    s.cr4 = in.cr4;
    s.xcr0 = in.xcr0;
    s.xss = in.xss;
    v.cpuid.load(dom->ctx, s);
    v.misc_features_enables = in.misc_features_enables;
    if ( is_current(*dom, vcpu) )
        switch_to(*dom, v);
    return 0;
}

// --- Scheduling -------------------------------------------------------------------------------
void Hypervisor::switch_to(const Domain &dom, const Vcpu &v)
{
    VcpuLevelling vl;
    vl.cr4_osxsave = v.cpuid.state().cr4 & CR4_OSXSAVE;
    ctxt_switch_levelling(&dom.lev, &vl);
}

int Hypervisor::context_switch(DomId d, unsigned vcpu)
{
    if ( !booted_ )
        return -err::enodev;
    Pcpu *p = this_pcpu();
    if ( !p )
        return -err::einval;
    const Domain *dom = nullptr;
    int rc = find_vcpu(d, vcpu, &dom);
    if ( rc )
        return rc;
    if ( !dom->started )
        return -err::ebusy;
    if ( p->running && p->dom == d && p->vcpu == vcpu )
        return 0;
    switch_to(*dom, dom->vcpu[vcpu]);
    *p = Pcpu{true, true, d, static_cast<uint16_t>(vcpu)};
    ++nr_switches_;
    return 0;
}

void Hypervisor::context_switch_idle()
{
    Pcpu *p = this_pcpu();
    if ( !p || !p->running )
        return;
    ctxt_switch_levelling(nullptr);
    p->running = false;
    ++nr_switches_;
}

bool Hypervisor::current(DomId *d, unsigned *vcpu) const
{
    const Pcpu *p = this_pcpu();
    if ( !p || !p->running )
        return false;
    if ( d )
        *d = p->dom;
    if ( vcpu )
        *vcpu = p->vcpu;
    return true;
}

} // namespace cpupolicy
