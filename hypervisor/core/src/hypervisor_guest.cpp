// SPDX-License-Identifier: MIT
// The guest-facing entry points of the Hypervisor (hypervisor.hpp): the traps a PV guest
// takes, the exits an HVM guest takes, and the guest's CR4/XCR0 writes.
#include "cpupolicy/hypervisor.hpp"

namespace cpupolicy {
namespace {

bool starts_with(const uint8_t *insn, size_t len, const uint8_t *pat, size_t n)
{
    if ( !insn || len < n )
        return false;
    for ( size_t i = 0; i < n; ++i )
        if ( insn[i] != pat[i] )
            return false;
    return true;
}

GuestCpuidResult fault(GuestFault f) { return GuestCpuidResult{Regs{}, f, 0}; }

} // namespace

Regs Hypervisor::cpuid_for(const Domain &dom, const Vcpu &v, Leaf leaf, Subleaf subleaf) const
{
    return guest_cpuid(dom.ctx, v.cpuid, leaf, subleaf);
}

int Hypervisor::pv_gp_fault(DomId d, unsigned vcpu, const uint8_t *insn, size_t len,
                            Leaf leaf, Subleaf subleaf, GuestCpuidResult &out)
{
    const Domain *dom = nullptr;
    if ( int rc = find_vcpu(d, vcpu, &dom) )
        return rc;
    if ( dom->type != DomainType::pv || !is_current(*dom, vcpu) )
        return -err::einval;
    // With faulting on, a CPUID at the guest's CPL 3 raises #GP; the hypervisor decodes it
    // and answers from the policy.  Every other #GP belongs to the guest.
    if ( dom->lev.faulting && starts_with(insn, len, INSN_CPUID, sizeof(INSN_CPUID)) )
    {
        out = GuestCpuidResult{cpuid_for(*dom, dom->vcpu[vcpu], leaf, subleaf), GuestFault::none,
                               sizeof(INSN_CPUID)};
        return 0;
    }
    out = fault(GuestFault::gp);
    return 0;
}

int Hypervisor::invalid_op(DomId d, unsigned vcpu, unsigned cpl, const uint8_t *insn, size_t len,
                           Leaf leaf, Subleaf subleaf, GuestCpuidResult &out)
{
    const Domain *dom = nullptr;
    if ( int rc = find_vcpu(d, vcpu, &dom) )
        return rc;
    if ( !is_current(*dom, vcpu) )
        return -err::einval;
    if ( !starts_with(insn, len, FEP_CPUID, sizeof(FEP_CPUID)) )
    {
        out = fault(GuestFault::ud);
        return 0;
    }
    const Vcpu &v = dom->vcpu[vcpu];
    // The emulated CPUID is still a CPUID: an HVM guest's own faulting applies to it.
    if ( dom->type == DomainType::hvm && cpl > 0 &&
         (v.misc_features_enables & msr::misc_features_cpuid_faulting) )
    {
        out = fault(GuestFault::gp);
        return 0;
    }
    out = GuestCpuidResult{cpuid_for(*dom, v, leaf, subleaf), GuestFault::none,
                           sizeof(FEP_CPUID)};
    return 0;
}

int Hypervisor::hvm_cpuid_exit(DomId d, unsigned vcpu, unsigned cpl, Leaf leaf,
                               Subleaf subleaf, GuestCpuidResult &out)
{
    const Domain *dom = nullptr;
    if ( int rc = find_vcpu(d, vcpu, &dom) )
        return rc;
    if ( dom->type != DomainType::hvm || !is_current(*dom, vcpu) )
        return -err::einval;
    const Vcpu &v = dom->vcpu[vcpu];
    // Virtual CPUID faulting (the guest set MSR 0x140 bit 0): CPUID outside ring 0 #GPs,
    // exactly as the hardware feature would (SDM vol. 3 "CPUID faulting").
    if ( cpl > 0 && (v.misc_features_enables & msr::misc_features_cpuid_faulting) )
    {
        out = fault(GuestFault::gp);
        return 0;
    }
    out = GuestCpuidResult{cpuid_for(*dom, v, leaf, subleaf), GuestFault::none,
                           sizeof(INSN_CPUID)};
    return 0;
}

int Hypervisor::hvm_rdmsr(DomId d, unsigned vcpu, MsrIndex idx, uint64_t *val, GuestFault *f)
{
    const Domain *dom = nullptr;
    if ( int rc = find_vcpu(d, vcpu, &dom) )
        return rc;
    if ( dom->type != DomainType::hvm || !val || !f )
        return -err::einval;
    *f = GuestFault::none;
    switch ( idx ) {
    case msr::platform_info:
        *val = dom->policy.platform_info;
        return 0;
    case msr::misc_features_enables:
        *val = dom->vcpu[vcpu].misc_features_enables;
        return 0;
    case msr::ia32_xss:
        // The MSR exists where the policy has XSAVES (SDM vol. 4 table 2-2).
        if ( !dom->ctx.xsaves )
            break;
        *val = dom->vcpu[vcpu].cpuid.state().xss;
        return 0;
    default:
        break;
    }
    *f = GuestFault::gp;
    return 0;
}

int Hypervisor::hvm_wrmsr(DomId d, unsigned vcpu, MsrIndex idx, uint64_t val, GuestFault *f)
{
    Domain *dom = nullptr;
    if ( int rc = find_vcpu(d, vcpu, &dom) )
        return rc;
    if ( dom->type != DomainType::hvm || !f )
        return -err::einval;
    *f = GuestFault::none;
    switch ( idx ) {
    case msr::misc_features_enables:
        // The faulting bit exists only where the policy advertises CPUID faulting; every
        // other bit is reserved.
        if ( (val & ~msr::misc_features_cpuid_faulting) ||
             ((val & msr::misc_features_cpuid_faulting) && !policy_has_faulting(*dom)) )
            break;
        dom->vcpu[vcpu].misc_features_enables = val;
        return 0;
    case msr::ia32_xss:
        // Only where the policy has XSAVES, and only components it offers for IA32_XSS
        // (VcpuCpuid::set_xss); a good write resizes leaf 0xd:1 EBX.
        if ( !dom->ctx.xsaves || dom->vcpu[vcpu].cpuid.set_xss(dom->ctx, val) )
            break;
        return 0;
    default:
        // PLATFORM_INFO is read-only; anything else is not virtualised here.
        break;
    }
    *f = GuestFault::gp;
    return 0;
}

int Hypervisor::guest_write_cr4(DomId d, unsigned vcpu, uint64_t cr4)
{
    Domain *dom = nullptr;
    if ( int rc = find_vcpu(d, vcpu, &dom) )
        return rc;
    Vcpu &v = dom->vcpu[vcpu];
    bool osxsave_changed = (v.cpuid.state().cr4 ^ cr4) & CR4_OSXSAVE;
    v.cpuid.set_cr4(dom->ctx, cr4);
    // The leaf-1 mask of a PV vCPU depends on its CR4.OSXSAVE (masking.hpp).
    if ( osxsave_changed && dom->type == DomainType::pv && is_current(*dom, vcpu) )
        switch_to(*dom, v);
    return 0;
}

int Hypervisor::guest_write_xcr0(DomId d, unsigned vcpu, uint64_t xcr0)
{
    Domain *dom = nullptr;
    if ( int rc = find_vcpu(d, vcpu, &dom) )
        return rc;
    // XSETBV: #UD without CR4.OSXSAVE, #GP for an XCR0 the hardware refuses or a
    // component the policy does not offer (VcpuCpuid::set_xcr0).  Either way the write
    // does not happen; otherwise the vCPU's leaf-0xd answers follow the new XCR0.
    return dom->vcpu[vcpu].cpuid.set_xcr0(dom->ctx, xcr0);
}

} // namespace cpupolicy
