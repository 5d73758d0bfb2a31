// SPDX-License-Identifier: MIT
// The hypervisor side of CPU policies: one Hypervisor object owns everything a running
// hypervisor keeps about CPUID (Xen spreads it over global variables; the core keeps no
// global state, so one process can host several simulated machines):
//
//   * the six system policies, derived at boot from the raw policy read through the
//     platform seam (CPUID over every leaf the Policy holds, MSRs 0xce and 0x10a);
//   * the levelling capabilities of the boot CPU (masking.hpp), checked on every AP;
//   * the domains: type, policy, guest-CPUID context, levelling state, vCPUs with the
//     state guest CPUID and the context switch read.  As many as the host's memory
//     allows (domids 1..0x7fef as Xen): each domain's memory comes from the platform
//     seam (cpupolicy_plat_alloc) when it is created and goes back when it is destroyed,
//     and a two-level table finds a domain by domid in O(1);
//   * what runs on each physical CPU, for the lazy context switch;
//   * the hypercalls a toolstack makes (Xen's sysctl/domctl semantics and numbering) and
//     the guest-facing entry points (the #GP and #UD traps of PV guests, the CPUID and
//     MSR exits of HVM guests).
//
// Errors: 0 or a negative errno, as everywhere in the core (types.hpp); an optional
// ErrRecord names the failing leaf/subleaf/MSR.  Permissions follow Xen: the control
// domain (domid 0, built at boot) may act on any domain and is the only caller of the
// system-wide queries; any other caller may act only on itself (-EPERM otherwise).
//
// The object (a few dozen KiB: sizeof(Hypervisor) is static_assert'ed below) is
// constructed zeroed by its owner (static storage, or the hosted simulator's heap);
// boot() brings it up; destroying it frees its domains through the seam.
#pragma once

#include "cpupolicy/boot_options.hpp"
#include "cpupolicy/derive.hpp"
#include "cpupolicy/guest_cpuid.hpp"
#include "cpupolicy/masking.hpp"

namespace cpupolicy {

using DomId = uint32_t;
inline constexpr DomId CONTROL_DOMID = 0;      // Xen's dom0: built at boot, PV, started
inline constexpr DomId DOMID_FIRST_RESERVED = 0x7ff0;  // Xen's public limit
inline constexpr unsigned MAX_VCPUS = 8;       // per domain
inline constexpr unsigned MAX_PCPUS = 64;
inline constexpr unsigned DEFAULT_VCPUS = 2;   // domain_create() without a count

enum class DomainType : uint8_t { pv = 0, hvm = 1 };

// Xen's featureset index order (XEN_SYSCTL_cpu_featureset_*), which differs from the
// policy order (PolicyIndex, derive.hpp).
enum class FeaturesetIndex : uint8_t {
    raw = 0, host = 1, pv_default = 2, hvm_default = 3, pv_max = 4, hvm_max = 5,
};
inline constexpr unsigned NR_FEATURESET_INDEX = 6;
PolicyIndex policy_index_of(FeaturesetIndex idx);

// The set-featureset rule (Hypervisor::set_featureset; the xen: backend applies it to
// policies read from Xen): fs onto `p`, where a feature whose prerequisite fs lacks goes
// too (featureset_sanitise), bits the feature table does not know are kept for the max
// check to judge, and leaf 0xd is recomputed from the features left, with component
// sizes from `max` (xstate::recalculate_xstate).
void policy_apply_guest_featureset(Policy &p, Featureset fs, const Policy &max);

// The part of a vCPU's saved state (Xen: HVM context records / vcpu_guest_context) this
// subsystem owns.  Restoring it checks it against the domain's policy.
struct VcpuContext {
    uint64_t cr4;                     // OSXSAVE and PKE feed guest CPUID and the masks
    uint64_t xcr0;                    // leaf 0xd sizes
    uint64_t xss;
    uint64_t misc_features_enables;   // MSR 0x140 as the guest wrote it (bit 0: faulting)
};

struct DomainInfo {
    DomId domid;
    DomainType type;
    bool started;
    uint32_t nr_vcpus;
};

// How a guest instruction the hypervisor handled ends for the guest.
enum class GuestFault : uint8_t { none, gp, ud };

struct GuestCpuidResult {
    Regs regs;         // valid when fault == none
    GuestFault fault;  // an exception to inject instead
    uint8_t insn_len;  // bytes the guest's RIP advances by (0 when a fault is injected)
};

// The forced emulation prefix: ud2; .ascii "xen"; cpuid.  Xen emulates the CPUID that
// follows from the policy, whatever the hardware could do (docs/hypervisor.md).
inline constexpr uint8_t FEP_CPUID[7] = {0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2};
inline constexpr uint8_t INSN_CPUID[2] = {0x0f, 0xa2};

class Hypervisor {
public:
    Hypervisor() = default;  // value-initialise it (Hypervisor{}): zero state, not booted
    ~Hypervisor();
    Hypervisor(const Hypervisor &) = delete;  // domains' guest CPUID contexts point inside
    Hypervisor &operator=(const Hypervisor &) = delete;

    // --- Bring-up ---------------------------------------------------------------------
    // On the boot CPU (the platform's current CPU): parse `boot_options` (Xen command line
    // fragment, boot_options.hpp; NULL = none), read the raw policy, detect levelling,
    // derive host/max/default, load the host-default levelling state on this CPU and
    // build the control domain (PV, 1 vCPU, started).  0, or -EINVAL/-ENOENT for a bad
    // option (`bad` locates it), -ENODEV when CPUID reports nothing, -EEXIST when
    // already booted.
    CPUPOLICY_MUST_CHECK int boot(const char *boot_options, BootOptionsError *bad = nullptr);
    // On every other physical CPU, once, with the platform's current CPU set to it:
    // detect levelling there (a CPU that differs from the boot CPU is logged and
    // counted), and load the host-default state.  -EINVAL before boot(), -E2BIG beyond
    // MAX_PCPUS, or the error of levelling_cpu_init().
    CPUPOLICY_MUST_CHECK int cpu_up();
    bool booted() const { return booted_; }
    unsigned nr_caps_mismatches() const { return caps_mismatches_; }

    // --- System queries (sysctl; control domain only) -----------------------------------
    // Featureset `idx` (FeaturesetIndex).  fs == NULL: *nr = words available, 0.
    // Otherwise copy min(*nr, NR_FEATUREWORDS) words; a short buffer gets what fits and
    // -ENOBUFS; *nr = words written.  -EINVAL for a bad idx or NULL nr.
    CPUPOLICY_MUST_CHECK int get_featureset(DomId caller, unsigned idx, uint32_t *nr,
                                            uint32_t *fs) const;
    // System policy `idx` in policy order (PolicyIndex).  -EINVAL for a bad idx.
    CPUPOLICY_MUST_CHECK int get_system_policy(DomId caller, unsigned idx, Policy &out) const;
    // The lcap:: bitmap (masking.hpp).
    CPUPOLICY_MUST_CHECK int get_levelling_caps(DomId caller, uint32_t *caps) const;
    // Could a guest of featureset `idx` be offered fs[0..nr)?  0, or -EINVAL with
    // *bad_feature = the lowest-numbered feature that the set lacks or whose prerequisite
    // is absent from fs; -EOPNOTSUPP for non-zero words beyond this build's featureset.
    CPUPOLICY_MUST_CHECK int featureset_fits_max(DomId caller, unsigned idx, const uint32_t *fs,
                                               uint32_t nr, uint32_t *bad_feature) const;

    // --- Domains (domctl) ---------------------------------------------------------------
    // Create a domain from its type's default policy, with the next free domid (ids are
    // not reused at once, as in Xen).  -EPERM unless the caller is the control domain,
    // -EINVAL for a bad type or vCPU count or a NULL out, -ENOMEM when the platform has no
    // memory for another domain, -ENOSPC when every domid below DOMID_FIRST_RESERVED is
    // in use.
    CPUPOLICY_MUST_CHECK int domain_create(DomId caller, DomainType type, DomId *out,
                                           unsigned nr_vcpus = DEFAULT_VCPUS);
    // The same with a chosen domid (Xen's XEN_DOMCTL_createdomain with a non-zero domid),
    // for a toolstack that restores saved domains (cpupolicyd --state-dir).  -EINVAL for
    // the control domain's id or one at/above DOMID_FIRST_RESERVED, -EEXIST when in use;
    // later automatic ids continue above it.
    CPUPOLICY_MUST_CHECK int domain_create_with_id(DomId caller, DomainType type, DomId id,
                                                   unsigned nr_vcpus = DEFAULT_VCPUS);
    // The domid domain_create() tries next, and setting it (a toolstack that restores
    // saved domains also restores this, so that a restart reuses no id: cpupolicyd).
    // -ENODEV before boot, -EPERM unless the control domain, -EINVAL for the control
    // domain's id or one at/above DOMID_FIRST_RESERVED.
    DomId next_domid() const { return next_domid_; }
    CPUPOLICY_MUST_CHECK int set_next_domid(DomId caller, DomId id);
    // Start it: its policy is fixed from now on.  -EEXIST when already started.
    CPUPOLICY_MUST_CHECK int domain_start(DomId caller, DomId d);
    // -EPERM for the control domain itself or a non-control caller.
    CPUPOLICY_MUST_CHECK int domain_destroy(DomId caller, DomId d);
    CPUPOLICY_MUST_CHECK int get_domain_info(DomId caller, DomId d, DomainInfo &out) const;
    CPUPOLICY_MUST_CHECK int get_domain_policy(DomId caller, DomId d, Policy &out) const;
    // Replace the domain's policy.  Checked against the type's max policy with the deep
    // compatibility check (compat.hpp) and the dependency rules (featureset_check_deps);
    // refused once started (-EEXIST); atomic: on any error the old policy, its guest
    // CPUID context and its levelling state stand.  -EINVAL with `err` naming the first
    // failing leaf/subleaf/MSR (for a dependency error: where the offending feature's word
    // lives).  -ESRCH for no such domain, -EPERM as above.
    CPUPOLICY_MUST_CHECK int set_domain_policy(DomId caller, DomId d, const Policy &p,
                                               ErrRecord *err);
    // Apply fs[0..nr) onto the domain's current policy (missing prerequisites take their
    // dependents with them; leaf 0xd recomputed from the result) and set it through
    // set_domain_policy's checks.  -EOPNOTSUPP as featureset_fits_max.
    CPUPOLICY_MUST_CHECK int set_featureset(DomId caller, DomId d, const uint32_t *fs,
                                            uint32_t nr, ErrRecord *err);
    // What native CPUID would show this domain's PV guests that its policy does not say
    // (masking.hpp, LevellingGap), for the toolstack to display.
    CPUPOLICY_MUST_CHECK int get_domain_levelling(DomId caller, DomId d, LevellingGap &out) const;
    // Saved state of one vCPU.  Restoring checks misc_features_enables (only bit 0, and
    // only when the policy advertises faulting in PLATFORM_INFO) and xcr0 (x87 set, no
    // component the policy lacks): -EINVAL otherwise.
    CPUPOLICY_MUST_CHECK int get_vcpu_context(DomId caller, DomId d, unsigned vcpu,
                                              VcpuContext &out) const;
    CPUPOLICY_MUST_CHECK int set_vcpu_context(DomId caller, DomId d, unsigned vcpu,
                                              const VcpuContext &in);

    // --- Scheduling (on the platform's current physical CPU) ----------------------------
    // Switch to vCPU `vcpu` of domain `d`: calls ctxt_switch_levelling() when it is not
    // already the running vCPU.  -ESRCH / -EINVAL for a bad domain / vCPU, -EBUSY when
    // the domain is not started.
    CPUPOLICY_MUST_CHECK int context_switch(DomId d, unsigned vcpu);
    // Switch to idle: host defaults (ctxt_switch_levelling(nullptr)).
    void context_switch_idle();
    // What runs on the current physical CPU: false when idle.
    bool current(DomId *d, unsigned *vcpu) const;
    uint64_t nr_context_switches() const { return nr_switches_; }

    // --- Guest entry points ---------------------------------------------------------------
    // The vCPU must be the one running on the current physical CPU (-EINVAL otherwise):
    // its levelling state is the one loaded.
    // A PV guest's #GP at `insn`: a CPUID (0f a2) that faulted because CPUID faulting is
    // on is emulated from the policy; anything else is reflected as #GP.
    CPUPOLICY_MUST_CHECK int pv_gp_fault(DomId d, unsigned vcpu, const uint8_t *insn,
                                         size_t len, Leaf leaf, Subleaf subleaf,
                                         GuestCpuidResult &out);
    // A #UD: the forced emulation prefix followed by CPUID is emulated from the policy,
    // for PV and HVM guests alike (an HVM guest with virtual faulting on at CPL > 0 gets
    // #GP instead, as for a plain CPUID); anything else is reflected as #UD.
    CPUPOLICY_MUST_CHECK int invalid_op(DomId d, unsigned vcpu, unsigned cpl,
                                        const uint8_t *insn, size_t len, Leaf leaf,
                                        Subleaf subleaf, GuestCpuidResult &out);
    // An HVM guest's CPUID exit: #GP when the guest enabled virtual CPUID faulting and runs
    // at CPL > 0, otherwise the policy's answer.
    CPUPOLICY_MUST_CHECK int hvm_cpuid_exit(DomId d, unsigned vcpu, unsigned cpl,
                                            Leaf leaf, Subleaf subleaf,
                                            GuestCpuidResult &out);
    // An HVM guest's RDMSR/WRMSR exit for the MSRs this subsystem virtualises
    // (PLATFORM_INFO 0xce read-only, MISC_FEATURES_ENABLES 0x140, IA32_XSS 0xda0 where
    // the policy has XSAVES: a write resizes leaf 0xd:1 EBX); *fault = gp for anything
    // refused.  0, or -ESRCH/-EINVAL for a bad domain/vCPU.
    CPUPOLICY_MUST_CHECK int hvm_rdmsr(DomId d, unsigned vcpu, MsrIndex msr, uint64_t *val,
                                       GuestFault *fault);
    CPUPOLICY_MUST_CHECK int hvm_wrmsr(DomId d, unsigned vcpu, MsrIndex msr, uint64_t val,
                                       GuestFault *fault);
    // The guest kernel writes CR4 / XCR0 (a PV guest traps on both; an HVM guest exits).
    // A change of CR4.OSXSAVE on the running PV vCPU reloads its leaf-1 mask.
    // -EINVAL for an XCR0 the policy does not allow (the guest would get #GP).
    CPUPOLICY_MUST_CHECK int guest_write_cr4(DomId d, unsigned vcpu, uint64_t cr4);
    CPUPOLICY_MUST_CHECK int guest_write_xcr0(DomId d, unsigned vcpu, uint64_t xcr0);

    // --- Direct read access (the simulator and white-box tests) ------------------------
    const LevellingCaps &levelling_caps() const { return caps_; }
    const Policy &system_policy(PolicyIndex idx) const { return sys_[static_cast<unsigned>(idx)]; }
    const BootOptions &boot_options() const { return opts_; }
    // nullptr when no such domain.
    const DomainLevelling *domain_levelling(DomId d) const;
    // Up to `max` existing domains in domid order into out[]; returns how many exist.
    unsigned list_domains(DomainInfo *out, unsigned max) const;
    unsigned nr_domains() const { return nr_domains_; }  // the control domain included

private:
    struct Vcpu {
        VcpuCpuid cpuid;  // its CPUID state and prepared answers (guest_cpuid.hpp)
        uint64_t misc_features_enables;
    };
    struct Domain {
        bool started;
        DomId id;
        DomainType type;
        uint32_t nr_vcpus;
        Policy policy;
        GuestCpuidCtx ctx;
        DomainLevelling lev;
        Vcpu vcpu[MAX_VCPUS];
    };
    struct Pcpu {
        bool online;
        bool running;     // false: idle
        DomId dom;
        uint16_t vcpu;
    };

    // Domains by domid: NR_DOMAIN_PAGES pointers here, each to a page of
    // DOMAIN_PAGE_SIZE domain pointers allocated while any of its domids is in use.
    static constexpr unsigned DOMAIN_PAGE_SHIFT = 8;
    static constexpr unsigned DOMAIN_PAGE_SIZE = 1u << DOMAIN_PAGE_SHIFT;
    static constexpr unsigned NR_DOMAIN_PAGES =
        (DOMID_FIRST_RESERVED + DOMAIN_PAGE_SIZE - 1) / DOMAIN_PAGE_SIZE;
    struct DomainPage {
        Domain *slot[DOMAIN_PAGE_SIZE];
    };

    Domain *find(DomId d);
    const Domain *find(DomId d) const;
    // Allocate, build and enter domain `id` (free below DOMID_FIRST_RESERVED): 0, -ENOMEM,
    // or build_domain's error with nothing allocated.  remove_domain undoes it.
    CPUPOLICY_MUST_CHECK int add_domain(DomId id, DomainType type, unsigned nr_vcpus);
    void remove_domain(DomId id);
    // Domain `d` as `caller` may see it: -ENODEV before boot, -EPERM, -ESRCH.
    CPUPOLICY_MUST_CHECK int lookup(DomId caller, DomId d, Domain **out);
    CPUPOLICY_MUST_CHECK int lookup(DomId caller, DomId d, const Domain **out) const;
    // The same for a call that needs the domain not yet started (setting its policy,
    // starting it): -EEXIST once it has.  `err`, when given, is reset first.
    CPUPOLICY_MUST_CHECK int lookup_unstarted(DomId caller, DomId d, Domain **out, ErrRecord *err);
    // The domain of a guest entry point or scheduling call (the guest itself is the
    // caller, so no permission check): -ESRCH for no such domain, -EINVAL for a vCPU
    // beyond its count.
    CPUPOLICY_MUST_CHECK int find_vcpu(DomId d, unsigned vcpu, Domain **out);
    CPUPOLICY_MUST_CHECK int find_vcpu(DomId d, unsigned vcpu, const Domain **out) const;
    Pcpu *this_pcpu();
    const Pcpu *this_pcpu() const;
    bool is_current(const Domain &dom, unsigned vcpu) const;
    CPUPOLICY_MUST_CHECK int build_domain(Domain &dom, DomId id, DomainType type,
                                          unsigned nr_vcpus);
    CPUPOLICY_MUST_CHECK int install_policy(Domain &dom, const Policy &p);
    CPUPOLICY_MUST_CHECK int check_policy(const Domain &dom, const Policy &p,
                                          ErrRecord *err) const;
    Regs cpuid_for(const Domain &dom, const Vcpu &v, Leaf leaf, Subleaf subleaf) const;
    void switch_to(const Domain &dom, const Vcpu &v);
    bool policy_has_faulting(const Domain &dom) const;

    bool booted_;
    unsigned caps_mismatches_;
    DomId next_domid_;
    uint64_t nr_switches_;
    BootOptions opts_;
    LevellingCaps caps_;
    Policy sys_[NR_POLICY_INDEX];
    unsigned nr_domains_;
    DomainPage *dom_page_[NR_DOMAIN_PAGES];
    uint16_t nr_in_page_[NR_DOMAIN_PAGES];
    Pcpu pcpu_[MAX_PCPUS];
};

// Domains live outside it: the object no longer grows with the number of domains.
static_assert(sizeof(Hypervisor) < 32 * 1024, "keep the Hypervisor object bounded");

} // namespace cpupolicy
