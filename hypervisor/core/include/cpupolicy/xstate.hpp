// SPDX-License-Identifier: MIT
// XSAVE state components and CPUID leaf 0xd.
//
// Facts: Intel SDM vol. 1 ch. 13 ("Managing state using the XSAVE feature set"),
// 13.4.3 (compacted format) and vol. 2A CPUID leaf 0DH; AMD APM vol. 2 §11.5 and
// vol. 3 CPUID Fn0000_000D.  The standard-format offsets of user components are
// architectural per vendor (AMD has no MPX, so its AVX-512 state follows YMM
// directly); the sizes of supervisor components are model specific, so the table
// gives the values current server parts report and a policy's own subleaves win.
//
// Three users:
//  - derive.cpp recomputes leaf 0xd of every derived policy from the features left
//    (recalculate_xstate), as Xen's recalculate_xstate() does;
//  - guest_cpuid.cpp answers CPUID.(0xd,0).EBX and (0xd,1).EBX for a vCPU's current
//    XCR0 / XCR0|XSS from SizeTables, built once per policy, in constant time;
//  - tests compare both against the SDM's worked sizes and against real dumps.
#pragma once

#include "cpupolicy/features.hpp"
#include "cpupolicy/policy.hpp"

namespace cpupolicy {

namespace xstate {

// Leaf 0xd subleaves 0..62 describe components 0..62 (bit 63 of XCR0/XSS is reserved).
inline constexpr unsigned NR_COMPONENTS = 63;
// Legacy region (512) + XSAVE header (64): every XSAVE area is at least this big, and
// in the compacted format the first extended component starts here (SDM 13.4.3).
inline constexpr uint32_t AREA_MIN_SIZE = 576;

// Component numbers (SDM vol. 1 table 13-1; APM vol. 2 §11.5.2 for LWP).
enum Component : uint8_t {
    X87 = 0, SSE = 1, YMM = 2, BNDREGS = 3, BNDCSR = 4, OPMASK = 5, ZMM_HI256 = 6,
    HI16_ZMM = 7, PT = 8, PKRU = 9, PASID = 10, CET_U = 11, CET_S = 12, HDC = 13,
    UINTR = 14, LBR = 15, HWP = 16, TILECFG = 17, TILEDATA = 18, APX = 19, LWP = 62,
};
constexpr uint64_t bit(unsigned c) { return uint64_t{1} << c; }
inline constexpr uint64_t FP_SSE = bit(X87) | bit(SSE);

// CPUID.(0xd, i>=2).ECX attribute bits (SDM vol. 2A, CPUID leaf 0DH).
inline constexpr uint32_t ECX_SUPERVISOR = 1u << 0;  // IA32_XSS, not XCR0
inline constexpr uint32_t ECX_ALIGN64 = 1u << 1;     // 64-byte aligned when compacted
inline constexpr uint32_t ECX_XFD = 1u << 2;         // XFD supported for it

struct ArchComponent {
    uint8_t nr;
    const char *name;
    bool supervisor;
    uint32_t size;
    uint32_t intel_offset;  // standard format; 0 = not an Intel component / supervisor
    uint32_t amd_offset;    // standard format; 0 = not an AMD component / supervisor
    bool align64;
};

// The architectural table.  Supervisor sizes: what Sapphire/Granite Rapids and
// Genoa/Turin report (PT 128, PASID 8, CET_U 16, CET_S 24, UINTR 48, LBR 808 for a
// 32-deep LBR, HWP 8); HDC 8 per the SDM.
inline constexpr ArchComponent arch_components[] = {
    {YMM,       "YMM_Hi128", false,  256,  576,  576, false},
    {BNDREGS,   "BNDREGS",   false,   64,  960,    0, false},
    {BNDCSR,    "BNDCSR",    false,   64, 1024,    0, false},
    {OPMASK,    "opmask",    false,   64, 1088,  832, false},
    {ZMM_HI256, "ZMM_Hi256", false,  512, 1152,  896, false},
    {HI16_ZMM,  "Hi16_ZMM",  false, 1024, 1664, 1408, false},
    {PT,        "PT",        true,   128,    0,    0, false},
    {PKRU,      "PKRU",      false,    8, 2688, 2432, false},
    {PASID,     "PASID",     true,     8,    0,    0, false},
    {CET_U,     "CET_U",     true,    16,    0,    0, false},
    {CET_S,     "CET_S",     true,    24,    0,    0, false},
    {HDC,       "HDC",       true,     8,    0,    0, false},
    {UINTR,     "UINTR",     true,    48,    0,    0, false},
    {LBR,       "LBR",       true,   808,    0,    0, false},
    {HWP,       "HWP",       true,     8,    0,    0, false},
    {TILECFG,   "TILECFG",   false,   64, 2752,    0, true},
    {TILEDATA,  "TILEDATA",  false, 8192, 2816,    0, true},
    {APX,       "APX",       false,  128,  960,    0, false},
    {LWP,       "LWP",       false,  128,    0,  832, false},
};
constexpr const ArchComponent *arch_component(unsigned c)
{
    for ( const auto &a : arch_components )
        if ( a.nr == c )
            return &a;
    return nullptr;
}

// Which feature enables which components (SDM vol. 1 13.1 table 13-1; APM vol. 2 for
// LWP): the one map.  derive turns a policy's features into the components it offers
// (recalculate_xstate); levelling drops the features of a component it must drop.  A
// component shared by two features (CET_U/CET_S: shadow stacks and IBT) needs both
// gone before it goes, and goes with both.  HDC and HWP are enumerated by leaf 6 and
// APX by a 7:1.EDX bit that are not featureset bits, so no policy derived here can
// enable them.
struct Enabler {
    uint64_t components;
    Feature feature;
    bool supervisor;  // IA32_XSS rather than XCR0
};
inline constexpr Enabler enablers[] = {
    {bit(YMM), feature_named("avx"), false},
    {bit(BNDREGS) | bit(BNDCSR), feature_named("mpx"), false},
    {bit(OPMASK) | bit(ZMM_HI256) | bit(HI16_ZMM), feature_named("avx512f"), false},
    {bit(PKRU), feature_named("pku"), false},
    {bit(TILECFG) | bit(TILEDATA), feature_named("amx-tile"), false},
    {bit(LWP), feature_named("lwp"), false},
    {bit(PT), feature_named("proc-trace"), true},
    {bit(PASID), feature_named("enqcmd"), true},
    {bit(CET_U) | bit(CET_S), feature_named("cet-ss"), true},
    {bit(CET_U) | bit(CET_S), feature_named("cet-ibt"), true},
    {bit(UINTR), feature_named("uintr"), true},
    {bit(LBR), feature_named("arch-lbr"), true},
};

constexpr bool enablers_agree_with_the_components()
{
    uint64_t enabled = 0;
    for ( const Enabler &e : enablers )
    {
        enabled |= e.components;
        // Rows compared by value, not arch_component(c) against nullptr: under GCC's
        // -fsanitize=null a pointer to a global is no constant against nullptr
        // (docs/robustness.md, "UBSan and the compile-time tables").
        for ( unsigned c = 0; c < NR_COMPONENTS; ++c )
        {
            if ( !(e.components & bit(c)) )
                continue;
            bool same_kind = false;
            for ( const ArchComponent &a : arch_components )
                same_kind |= a.nr == c && a.supervisor == e.supervisor;
            if ( !same_kind )
                return false;
        }
    }
    for ( const ArchComponent &a : arch_components )
        if ( a.nr != HDC && a.nr != HWP && a.nr != APX && !(enabled & bit(a.nr)) )
            return false;
    return true;
}
static_assert(enablers_agree_with_the_components(),
              "every component but HDC/HWP/APX has an enabling feature, of its own kind");

// The features that need any of `components`.
constexpr Featureset features_using(uint64_t components)
{
    Featureset r;
    for ( const Enabler &e : enablers )
        if ( e.components & components )
            r.set(e.feature);
    return r;
}

// --- What XSETBV accepts ------------------------------------------------------------------
// XCR0 values the hardware refuses with #GP (SDM vol. 1 13.3 "Enabling the XSAVE feature
// set and XSAVE-enabled features"; vol. 2B XSETBV): one row per rule - when any bit of
// `when` is set (every XCR0, for when == 0), all of `needs` must be.  Xen's
// valid_xcr0() (xen/arch/x86/xstate.c) and KVM's __kvm_set_xcr() apply the same rules.
struct Xcr0Rule {
    uint64_t when, needs;
    const char *why;
};
inline constexpr uint64_t AVX512_STATE = bit(OPMASK) | bit(ZMM_HI256) | bit(HI16_ZMM);
inline constexpr Xcr0Rule xcr0_rules[] = {
    {0, bit(X87), "x87 state is always enabled (XCR0[0] = 1)"},
    {bit(YMM), bit(SSE), "AVX state needs SSE state (XCR0[2:1] != 10b)"},
    {AVX512_STATE, AVX512_STATE | bit(YMM) | bit(SSE),
     "opmask, ZMM_Hi256 and Hi16_ZMM go together, with AVX (XCR0[7:5] = 111b needs XCR0[2:1] = 11b)"},
    {bit(BNDREGS) | bit(BNDCSR), bit(BNDREGS) | bit(BNDCSR), "MPX: BNDREGS and BNDCSR together"},
    {bit(TILECFG) | bit(TILEDATA), bit(TILECFG) | bit(TILEDATA), "AMX: TILECFG and TILEDATA together"},
};

// Whether XSETBV would load `xcr0` on a CPU whose XCR0-supported bitmap (CPUID.(0xd,0)
// EDX:EAX, policy_xcr0) is `offered`: every rule holds and nothing outside `offered`
// (x87 aside, which is always supported) is set.
constexpr bool xcr0_valid(uint64_t xcr0, uint64_t offered)
{
    if ( xcr0 & ~(offered | bit(X87)) )
        return false;
    for ( const Xcr0Rule &r : xcr0_rules )
        if ( (!r.when || (xcr0 & r.when)) && (xcr0 & r.needs) != r.needs )
            return false;
    return true;
}
static_assert(xcr0_valid(0x7, 0x7) && !xcr0_valid(0x6, 0x7) && !xcr0_valid(0x5, 0x7) &&
              !xcr0_valid(0x27, 0xe7) && xcr0_valid(0xe7, 0xe7) && !xcr0_valid(0xe3, 0xe7));

// Size, standard-format offset and attribute bits of every component, as one
// policy describes them.
struct Layout {
    uint32_t size[NR_COMPONENTS];
    uint32_t offset[NR_COMPONENTS];
    uint8_t ecx[NR_COMPONENTS];
};

// Layout from p's leaf 0xd subleaves; a component p does not describe (size 0) takes
// the architectural values for p's vendor.
void layout_of(Layout &l, const Policy &p);

// XCR0 / IA32_XSS bits a policy enumerates (policy.hpp).
using cpupolicy::policy_xcr0;
using cpupolicy::policy_xss;

// XSAVE area sizes, by walking the components (the reference the tables are tested
// against; derive uses these, guest CPUID uses SizeTables).
//   standard format, the CPUID.(0xd,0).EBX/ECX meaning: max over enabled user
//   components of offset + size, at least AREA_MIN_SIZE;
uint32_t uncompressed_size(const Layout &l, uint64_t xcr0);
//   compacted format (XSAVEC/XSAVES), the CPUID.(0xd,1).EBX meaning: from
//   AREA_MIN_SIZE, each enabled component in ascending order, 64-byte aligned first
//   when its ECX_ALIGN64 bit is set (SDM 13.4.3).
uint32_t compacted_size(const Layout &l, uint64_t xcr0_xss);

// Rebuild leaf 0xd of `p` from p's own features (Xen's recalculate_xstate): the
// components its features enable and that `src` (the policy p was derived from)
// enumerates; sizes and offsets from src's layout; attribute bits only as far as p
// offers XSAVEC/XFD; IA32_XSS bits only with XSAVES.  The dynamic EBX fields (sizes
// for the XCR0 / XCR0|XSS in use) hold the value with every offered component enabled,
// the largest a vCPU can see; guest CPUID answers the real one.  Without XSAVE the
// whole leaf is zero.
void recalculate_xstate(Policy &p, const Policy &src);

// --- Constant-time sizes for guest CPUID ------------------------------------------------
// The components of a policy are grouped into units that XSETBV/WRMSR only enable
// together (SDM 13.3: BNDREGS=BNDCSR, opmask=ZMM_Hi256=Hi16_ZMM, TILECFG=TILEDATA; every
// other component is a unit of its own), at most MAX_UNITS, in ascending order, and the
// units into segments of four.  Per segment and subset of its units the tables hold
//   umax:   the largest standard-format end offset (uncompressed size);
//   cdelta: how far the compacted area grows, for each entry offset modulo 64 in steps
//           of 8 - the only state alignment depends on, given component sizes that are
//           multiples of 8 (all architectural ones are; build() refuses others).
// A query is at most four table reads per size (one for a guest with <= 4 units).
inline constexpr unsigned MAX_UNITS = 16;
inline constexpr unsigned UNITS_PER_SEGMENT = 4;
inline constexpr unsigned MAX_SEGMENTS = MAX_UNITS / UNITS_PER_SEGMENT;

struct SizeTables {
    uint64_t xcr0_mask;                 // bits the tables cover
    uint64_t xss_mask;
    uint8_t nr_units, nr_segments;
    uint8_t lead[MAX_UNITS];            // the component bit that stands for each unit
    uint16_t umax[MAX_SEGMENTS][1u << UNITS_PER_SEGMENT];
    uint16_t cdelta[MAX_SEGMENTS][1u << UNITS_PER_SEGMENT][8];
};

// 0, or -E2BIG (more than MAX_UNITS units, or a size beyond 16 bits), -EINVAL (a
// component size that is not a multiple of 8).
CPUPOLICY_MUST_CHECK int size_tables_build(SizeTables &t, const Layout &l, uint64_t xcr0_mask,
                                           uint64_t xss_mask);

constexpr unsigned segment_subset(const SizeTables &t, uint64_t v, unsigned seg)
{
    unsigned m = 0;
#pragma GCC unroll 4  // four shifts and ORs: XSETBV's refresh of leaf 0xd runs this per segment
    for ( unsigned k = 0; k < UNITS_PER_SEGMENT; ++k )
        m |= static_cast<unsigned>((v >> t.lead[seg * UNITS_PER_SEGMENT + k]) & 1) << k;
    return m;
}

// CPUID.(0xd,0).EBX for this XCR0.  Bits outside the policy are ignored; a unit
// counts as enabled by its lead bit (a vCPU cannot load an XCR0 that splits a unit:
// XSETBV raises #GP).
constexpr uint32_t table_uncompressed(const SizeTables &t, uint64_t xcr0)
{
    uint64_t v = xcr0 & t.xcr0_mask;
    uint32_t r = AREA_MIN_SIZE;
    for ( unsigned s = 0; s < t.nr_segments; ++s )
    {
        uint32_t u = t.umax[s][segment_subset(t, v, s)];
        r = u > r ? u : r;
    }
    return r;
}

// CPUID.(0xd,1).EBX for this XCR0 | IA32_XSS.
constexpr uint32_t table_compacted(const SizeTables &t, uint64_t xcr0, uint64_t xss)
{
    uint64_t v = (xcr0 & t.xcr0_mask) | (xss & t.xss_mask);
    uint32_t o = AREA_MIN_SIZE;
    for ( unsigned s = 0; s < t.nr_segments; ++s )
        o += t.cdelta[s][segment_subset(t, v, s)][(o >> 3) & 7];
    return o;
}

} // namespace xstate
} // namespace cpupolicy
