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

// Slot of (leaf, subleaf) as the CPUID instruction addresses it (slot_cpuid), for a
// leaf and subleaf the guest chose: every array index is clamped with
// array_index_nospec after its bounds check, so a mispredicted check cannot make the
// CPU read beyond policy_layout or the leaf's subleaves (Spectre v1).  -1 when the
// object holds no such slot.
int guest_slot(uint32_t l, uint32_t s)
{
    uint32_t base, nr;
    if ( l <= BASIC_LAST )
    {
        uint32_t i = array_index_nospec(l, NR_BASIC);
        base = policy_layout.basic_base[i];
        nr = policy_layout.basic_nr[i];
    }
    else if ( l >= EXTD_FIRST && l <= EXTD_LAST )
    {
        uint32_t i = array_index_nospec(l - EXTD_FIRST, NR_EXTD);
        base = policy_layout.extd_base[i];
        nr = policy_layout.extd_nr[i];
    }
    else
        return -1;
    if ( nr == 0 )
        return static_cast<int>(base);
    if ( s >= nr )
        return -1;
    return static_cast<int>(base + array_index_nospec(s, nr));
}

} // namespace

int guest_cpuid_prepare(GuestCpuidCtx &ctx, const Policy &p, const GuestConfig &cfg)
{
    GuestCpuidCtx c{};
    Featureset fs = policy_to_featureset(p);
    Vendor vendor = policy_vendor(p);
    uint32_t nr7;
    leaf_kind(7, &nr7);

    c.policy = &p;
    c.basic_max = min32(basic_max_leaf(p), BASIC_LAST);
    c.extd_max = min32(policy_extd_limit(p), EXTD_LAST);
    c.leaf7_max = min32(field_get(p, field::leaf7_max_subleaf), nr7 - 1);
    c.hvm = cfg.hvm;
    c.intel = vendor == Vendor::intel;
    c.xsave = fs.test(F_XSAVE) && c.basic_max >= 0xd;
    c.compacted = fs.test(F_XSAVEC) || fs.test(F_XSAVES);
    c.x2apic = fs.test(F_X2APIC);
    c.pku = fs.test(F_PKU);
    c.domid = cfg.domid;
    c.xen_version = cfg.xen_version;
    c.machine_addr_bits =
        c.extd_max >= 0x80000008 ? field_get(p, field::maxphysaddr) : 0;

    bool viridian = cfg.hvm && p.hv2_limit;
    c.hv_base = viridian ? HV2_LEAF : HV_LEAF;
    c.hv_last = hv_last_index(viridian ? p.hv2_limit : p.hv_limit, c.hv_base,
                              cfg.hvm ? XEN_MAX_HVM_LEAF : XEN_MAX_PV_LEAF);

    xstate::Layout l;
    xstate::layout_of(l, p);
    uint64_t xcr0 = c.xsave ? xstate::policy_xcr0(p) : 0;
    uint64_t xss = c.xsave && fs.test(F_XSAVES) ? xstate::policy_xss(p) : 0;
    if ( int rc = xstate::size_tables_build(c.sizes, l, xcr0, xss) )
        return rc;

    ctx = c;
    return 0;
}

Regs guest_cpuid(const GuestCpuidCtx &c, const Policy &p, const VcpuState &v, Leaf leaf,
                 Subleaf subleaf)
{
    const uint32_t l = raw(leaf), s = raw(subleaf);
    Regs r;

    if ( &p != c.policy )
        return Regs{};

    if ( l <= BASIC_LAST )
    {
        if ( l > c.basic_max || (l == 7 && s > c.leaf7_max) || (l == 0xd && !c.xsave) )
            return Regs{};
    }
    else if ( l >= HV_LEAF && l < HV2_LEAF + HV_WINDOW )
        return xen_leaf(c, v, l, s);
    else if ( l < EXTD_FIRST || l > c.extd_max )
        return Regs{};

    // A subleaf the object does not hold is zero - except in the topology leaves,
    // where every subleaf reports its own number and the x2APIC ID (SDM leaf 0BH/1FH).
    int sl = guest_slot(l, s);
    if ( sl < 0 && l != 0xb && l != 0x1f )
        return Regs{};
    r = sl < 0 ? Regs{} : p.slot[sl];

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

} // namespace cpupolicy
