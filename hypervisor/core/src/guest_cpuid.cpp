// SPDX-License-Identifier: MIT
#include "cpupolicy/guest_cpuid.hpp"
#include "cpupolicy/check.hpp"

namespace cpupolicy {

namespace {

constexpr Feature F_XSAVE = feature_named("xsave"), F_XSAVEC = feature_named("xsavec"),
                  F_XSAVES = feature_named("xsaves"), F_X2APIC = feature_named("x2apic"),
                  F_PKU = feature_named("pku");

// Bits the dynamic parts write (SDM vol. 2A CPUID; APM vol. 3 Fn8000_0001).
constexpr uint32_t L1_ECX_OSXSAVE = 1u << 27, L1_EDX_APIC = 1u << 9;
constexpr uint32_t L7_ECX_OSPKE = 1u << 4, E1_EDX_SYSCALL = 1u << 11;

// Xen's leaves sit in a 0x100-wide window at hv_base; the Viridian one (if any) below.
constexpr uint32_t HV_WINDOW = 0x100;

// The highest Xen leaf index from a policy's hv(2)_limit.  0 = the hypervisor's
// default for the guest type; otherwise a leaf number in the window (this project's
// form) or a bare index (Xen's wire form), clamped to [2, default] as Xen does.
uint32_t hv_last_index(uint32_t limit, uint32_t base, uint32_t dflt)
{
    uint32_t idx = dflt;
    if ( limit >= base && limit < base + HV_WINDOW )
        idx = limit - base;
    else if ( limit && limit < HV_WINDOW )
        idx = limit;
    if ( idx < 2 )
        idx = 2;
    return idx > dflt ? dflt : idx;
}

Regs xen_leaf(const GuestCpuidCtx &c, const VcpuState &v, uint32_t leaf, uint32_t sub)
{
    if ( leaf < c.hv_base )
        return Regs{};  // the Viridian window: not implemented here
    uint32_t idx = leaf - c.hv_base;
    if ( idx > c.hv_last )
        return Regs{};

    switch ( idx ) {
    case 0:
        return Regs{c.hv_base + c.hv_last, XEN_SIGNATURE_EBX, XEN_SIGNATURE_ECX,
                    XEN_SIGNATURE_EDX};
    case 1:
        return Regs{c.xen_version, 0, 0, 0};
    case 2:
        // One hypercall page; the MSR that installs it moves up with Viridian.
        return Regs{1, c.hv_base == HV2_LEAF ? XEN_HYPERCALL_MSR + 0x200 : XEN_HYPERCALL_MSR,
                    c.hvm ? 0 : XEN_FEAT1_MMU_PT_UPDATE_PRESERVE_AD, 0};
    case 4:
        if ( c.hvm && sub == 0 )
            return Regs{XEN_HVM_CPUID_IOMMU_MAPPINGS | XEN_HVM_CPUID_VCPU_ID_PRESENT |
                            XEN_HVM_CPUID_DOMID_PRESENT,
                        v.vcpu_id, c.domid, 0};
        return Regs{};
    case 5:
        if ( !c.hvm && sub == 0 )
            return Regs{0, c.machine_addr_bits, 0, 0};
        return Regs{};
    default:
        // 3: TSC information needs the platform's TSC state, which the core does not
        // hold; all zeros reads as "default TSC mode, frequency unknown".
        return Regs{};
    }
}

// Whether the guest is answered at all at (leaf, subleaf) of the basic or extended range
// (docs/policy.md "Guest CPUID", Ranges): not above the max basic or extended leaf, not
// above 7:0.EAX in leaf 7, not leaf 0xd without XSAVE.
bool answered(const GuestCpuidCtx &c, uint32_t l, uint32_t s)
{
    if ( l <= BASIC_LAST )
        return !(l > c.basic_max || (l == 7 && s > c.leaf7_max) || (l == 0xd && !c.xsave));
    return l >= EXTD_FIRST && l <= c.extd_max;
}

// The registers the vCPU's state writes into an answered leaf's answer `r`.
Regs vcpu_fixup(const GuestCpuidCtx &c, const VcpuState &v, uint32_t l, uint32_t s, Regs r)
{
    const uint32_t apic_id = v.vcpu_id * 2;  // Xen's layout: one thread per core
    switch ( l ) {
    case 0x1:
        r.b &= 0x00ffffffu;
        if ( c.hvm )
            r.b |= (apic_id & 0xff) << 24;
        if ( c.xsave && (v.cr4 & CR4_OSXSAVE) )
            r.c |= L1_ECX_OSXSAVE;
        if ( c.hvm && !v.apic_enabled )
            r.d &= ~L1_EDX_APIC;
        break;

    case 0x7:
        if ( s == 0 && c.pku && (v.cr4 & CR4_PKE) )
            r.c |= L7_ECX_OSPKE;
        break;

    case 0xb:
    case 0x1f:
        if ( c.x2apic )
        {
            r.c = (r.c & ~0xffu) | (s & 0xff);
            r.d = apic_id;
        }
        break;

    case 0xd:
        if ( s == 0 )
            r.b = xstate::table_uncompressed(c.sizes, v.xcr0);
        else if ( s == 1 )
            r.b = c.compacted ? xstate::table_compacted(c.sizes, v.xcr0, v.xss) : 0;
        break;

    case 0x80000001:
        if ( c.hvm && c.intel && !v.long_mode )
            r.d &= ~E1_EDX_SYSCALL;
        if ( c.hvm && !v.apic_enabled )
            r.d &= ~L1_EDX_APIC;
        break;
    }
    return r;
}

// guest_dyn.e[] indices of the answers each kind of state change affects.
constexpr unsigned dyn_index(uint32_t leaf, uint32_t sub)
{
    for ( unsigned k = 0; k < NR_GUEST_DYN; ++k )
        if ( guest_dyn.e[k].leaf == leaf && guest_dyn.e[k].subleaf == sub )
            return k;
    return NR_GUEST_DYN;
}
constexpr unsigned DYN_1 = dyn_index(0x1, 0), DYN_7 = dyn_index(0x7, 0),
                   DYN_XSAVE0 = dyn_index(0xd, 0), DYN_XSAVE1 = dyn_index(0xd, 1);
static_assert(DYN_1 < NR_GUEST_DYN && DYN_7 < NR_GUEST_DYN && DYN_XSAVE0 < NR_GUEST_DYN &&
              DYN_XSAVE1 < NR_GUEST_DYN);

} // namespace

int guest_cpuid_prepare(GuestCpuidCtx &ctx, const Policy &p, const GuestConfig &cfg)
{
    // Everything that can fail first, into locals: `ctx` is written only on success (a
    // domain's context is prepared in place, hypervisor.cpp install_policy).
    Featureset fs = policy_to_featureset(p);
    const uint32_t basic_max = min32(basic_max_leaf(p), BASIC_LAST);
    const bool xsave = fs.test(F_XSAVE) && basic_max >= 0xd;
    xstate::Layout l;
    xstate::layout_of(l, p);
    xstate::SizeTables sizes;
    if ( int rc = xstate::size_tables_build(sizes, l, xsave ? xstate::policy_xcr0(p) : 0,
                                            xsave && fs.test(F_XSAVES) ? xstate::policy_xss(p) : 0) )
        return rc;

    GuestCpuidCtx &c = ctx;
    Vendor vendor = policy_vendor(p);
    uint32_t nr7;
    leaf_kind(7_leaf, &nr7);

    c.policy = &p;
    c.basic_max = basic_max;
    c.extd_max = min32(policy_extd_limit(p), EXTD_LAST);
    c.leaf7_max = min32(field_get(p, field::leaf7_max_subleaf), nr7 - 1);
    c.hvm = cfg.hvm;
    c.intel = vendor == Vendor::intel;
    c.xsave = xsave;
    c.compacted = fs.test(F_XSAVEC) || fs.test(F_XSAVES);
    c.x2apic = fs.test(F_X2APIC);
    c.pku = fs.test(F_PKU);
    c.domid = cfg.domid;
    c.xen_version = cfg.xen_version;
    c.machine_addr_bits =
        c.extd_max >= 0x80000008 ? field_get(p, field::maxphysaddr) : 0;
    c.xcr0_offered = xstate::policy_xcr0(p);
    // As the size tables above: supervisor components only with XSAVES.
    c.xsaves = xsave && fs.test(F_XSAVES);
    c.xss_offered = c.xsaves ? xstate::policy_xss(p) : 0;

    bool viridian = cfg.hvm && p.hv2_limit;
    c.hv_base = viridian ? HV2_LEAF : HV_LEAF;
    c.hv_last = hv_last_index(viridian ? p.hv2_limit : p.hv_limit, c.hv_base,
                              cfg.hvm ? XEN_MAX_HVM_LEAF : XEN_MAX_PV_LEAF);
    c.sizes = sizes;

    // Every slot through the range rules, in layout order (policy.hpp); then the
    // vCPU-dependent ones that are answered point at the vCPU's entry.
    for ( uint32_t i = 0; i < NR_BASIC + NR_EXTD; ++i )
    {
        const uint32_t leaf = i < NR_BASIC ? BASIC_FIRST + i : EXTD_FIRST + (i - NR_BASIC);
        const GuestLeafIndex x = guest_leaf_index.e[i];
        for ( uint32_t s = 0; s < (x.nr ? x.nr : 1u); ++s )
            c.from[x.slot + s] = answered(c, leaf, s) ? GUEST_FROM_POLICY : GUEST_FROM_ZEROS;
    }
    for ( unsigned k = 0; k < NR_GUEST_DYN; ++k )
        if ( c.from[guest_dyn.e[k].slot] != GUEST_FROM_ZEROS )
            c.from[guest_dyn.e[k].slot] = static_cast<uint8_t>(GUEST_FROM_VCPU + k);
    return 0;
}

Regs guest_cpuid_compute(const GuestCpuidCtx &c, const Policy &p, const VcpuState &v, Leaf leaf,
                         Subleaf subleaf)
{
    const uint32_t l = raw(leaf), s = raw(subleaf);

    if ( &p != c.policy )
        return Regs{};

    if ( l >= HV_LEAF && l < HV2_LEAF + HV_WINDOW )
        return xen_leaf(c, v, l, s);
    if ( !answered(c, l, s) )
        return Regs{};

    // A subleaf the object does not hold is zero - except in the topology leaves,
    // where every subleaf reports its own number and the x2APIC ID (SDM leaf 0BH/1FH).
    // Indices clamped as in guest_cpuid() (nospec.hpp).
    const GuestLeafIndex x =
        guest_leaf_index.e[l <= BASIC_LAST ? array_index_nospec(l, NR_BASIC)
                                           : NR_BASIC + array_index_nospec(l - EXTD_FIRST, NR_EXTD)];
    Regs r{};
    if ( !x.nr )
        r = p.slot[x.slot];
    else if ( s < x.nr )
        r = p.slot[x.slot + array_index_nospec(s, x.nr)];
    else if ( l != 0xb && l != 0x1f )
        return Regs{};
    return vcpu_fixup(c, v, l, s, r);
}

Regs guest_cpuid_slow(const GuestCpuidCtx &c, const VcpuCpuid &vc, Leaf leaf, Subleaf subleaf)
{
    return guest_cpuid_compute(c, *c.policy, vc.state(), leaf, subleaf);
}

// Entry k from the vCPU's state: the fix-ups on the policy's registers, or zeros where the
// guest is not answered.
void VcpuCpuid::refresh(const GuestCpuidCtx &c, unsigned k)
{
    const GuestDynSlot &d = guest_dyn.e[k];
    answer_[GUEST_FROM_VCPU + k] =
        c.from[d.slot] != GUEST_FROM_ZEROS
            ? vcpu_fixup(c, state_, d.leaf, d.subleaf, c.policy->slot[d.slot])
            : Regs{};
}

void VcpuCpuid::load(const GuestCpuidCtx &c, const VcpuState &s)
{
    state_ = s;
    for ( unsigned k = 0; k < NR_GUEST_DYN; ++k )
        refresh(c, k);
}

void VcpuCpuid::set_cr4(const GuestCpuidCtx &c, uint64_t cr4)
{
    state_.cr4 = cr4;
    refresh(c, DYN_1);
    refresh(c, DYN_7);
}

int VcpuCpuid::set_xcr0(const GuestCpuidCtx &c, uint64_t xcr0)
{
    if ( !(state_.cr4 & CR4_OSXSAVE) || !xstate::xcr0_valid(xcr0, c.xcr0_offered) )
        return -err::einval;
    state_.xcr0 = xcr0;
    refresh(c, DYN_XSAVE0);
    refresh(c, DYN_XSAVE1);
    return 0;
}

int VcpuCpuid::set_xss(const GuestCpuidCtx &c, uint64_t xss)
{
    if ( xss & ~c.xss_offered )
        return -err::einval;
    state_.xss = xss;
    refresh(c, DYN_XSAVE1);
    return 0;
}

} // namespace cpupolicy
