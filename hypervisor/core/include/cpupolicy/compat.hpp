// SPDX-License-Identifier: MIT
// Deep compatibility: can a guest running with policy `guest` run on (be migrated to)
// a host whose policy is `host`?
//
// Xen's x86_cpu_policies_are_compatible() compares the two max-leaf values and CPUID
// faulting ("TODO: audit more").  This compares everything a running guest depends on,
// i.e. everything the hardware executes on the guest's behalf rather than the
// hypervisor answering from the policy: vendor, max leaf / subleaf values, every
// featureset word, the xstate components and their layout, the xsave area sizes,
// the AMX palette, AVX10, Processor Trace capabilities, the physical/linear address
// widths, and CPUID faulting.  What is deliberately not compared (cache and topology
// descriptors, family/model, brand string, ...) and why: docs/wire-format.md,
// "Compatibility".
#pragma once

#include "cpupolicy/policy_ranges.hpp"

namespace cpupolicy {

// How a numeric field compares: `le` guest value <= host value (a count, a size, a
// width, a version, a highest-subleaf number); `subset` guest bits within host bits.
enum class FieldKind : uint8_t { le, subset };

// A numeric (non-featureset) field of a leaf that compatibility compares and levelling
// combines (le: minimum; subset: AND).  One table drives both, so a levelled policy is
// compatible with every input by construction.
struct NumericField {
    Field field;              // where it lives (policy.hpp)
    FieldKind kind;
    const char *what;
};

inline constexpr NumericField numeric_fields[] = {
    // Leaf 0: highest basic leaf (Xen compares it too).
    {field::max_basic_leaf, FieldKind::le, "max basic leaf"},
    {field::leaf7_max_subleaf, FieldKind::le, "leaf 7 max subleaf"},
    // XSAVE (SDM vol. 1 ch. 13): the components the guest may enable in XCR0 / IA32_XSS
    // must exist on the host; the sizes the guest sized its buffers with must not be
    // exceeded by the host's (an incoming xsave image must fit the host's area).
    {field::xcr0_low, FieldKind::subset, "XCR0 components 31:0"},
    {field::xsave_size, FieldKind::le, "xsave size, XCR0 in use"},
    {field::xsave_size_max, FieldKind::le, "xsave size, all XCR0 components"},
    {field::xcr0_high, FieldKind::subset, "XCR0 components 63:32"},
    {field::xsave_size_compacted, FieldKind::le, "xsave size, XCR0|XSS in use"},
    {field::xss_low, FieldKind::subset, "XSS components 31:0"},
    {field::xss_high, FieldKind::subset, "XSS components 63:32"},
    // Processor Trace capabilities (SDM vol. 2A leaf 14H): packets and encodings the
    // hardware generates for the guest.
    {{0x14_leaf, 0_subleaf, Reg::eax, 0, ~0u}, FieldKind::le, "PT max subleaf"},
    {{0x14_leaf, 0_subleaf, Reg::ebx, 0, ~0u}, FieldKind::subset, "PT capabilities (EBX)"},
    {{0x14_leaf, 0_subleaf, Reg::ecx, 0, ~0u}, FieldKind::subset, "PT capabilities (ECX)"},
    {{0x14_leaf, 1_subleaf, Reg::eax, 0, 0x7}, FieldKind::le, "PT address ranges"},
    {{0x14_leaf, 1_subleaf, Reg::eax, 16, 0xffff}, FieldKind::subset, "PT MTC period encodings"},
    {{0x14_leaf, 1_subleaf, Reg::ebx, 0, 0xffff}, FieldKind::subset, "PT cycle threshold encodings"},
    {{0x14_leaf, 1_subleaf, Reg::ebx, 16, 0xffff}, FieldKind::subset, "PT PSB frequency encodings"},
    // AMX palette (SDM vol. 2A leaf 1DH) and TMUL (leaf 1EH): LDTILECFG is executed by
    // the hardware, which #GPs on a configuration beyond its own palette.
    {{0x1d_leaf, 0_subleaf, Reg::eax, 0, ~0u}, FieldKind::le, "AMX max palette"},
    {{0x1d_leaf, 1_subleaf, Reg::eax, 0, 0xffff}, FieldKind::le, "AMX total_tile_bytes"},
    {{0x1d_leaf, 1_subleaf, Reg::eax, 16, 0xffff}, FieldKind::le, "AMX bytes_per_tile"},
    {{0x1d_leaf, 1_subleaf, Reg::ebx, 0, 0xffff}, FieldKind::le, "AMX bytes_per_row"},
    {{0x1d_leaf, 1_subleaf, Reg::ebx, 16, 0xffff}, FieldKind::le, "AMX max_names"},
    {{0x1d_leaf, 1_subleaf, Reg::ecx, 0, 0xffff}, FieldKind::le, "AMX max_rows"},
    {{0x1e_leaf, 0_subleaf, Reg::eax, 0, ~0u}, FieldKind::le, "TMUL max subleaf"},
    {{0x1e_leaf, 0_subleaf, Reg::ebx, 0, 0xff}, FieldKind::le, "TMUL tmul_maxk"},
    {{0x1e_leaf, 0_subleaf, Reg::ebx, 8, 0xffff}, FieldKind::le, "TMUL tmul_maxn"},
    {{0x1e_leaf, 1_subleaf, Reg::eax, 0, ~0u}, FieldKind::subset, "AMX instruction bits (1EH.1)"},
    // AVX10 (SDM vol. 2A leaf 24H): converged vector ISA version and vector lengths.
    {{0x24_leaf, 0_subleaf, Reg::eax, 0, ~0u}, FieldKind::le, "AVX10 max subleaf"},
    {{0x24_leaf, 0_subleaf, Reg::ebx, 0, 0xff}, FieldKind::le, "AVX10 version"},
    {{0x24_leaf, 0_subleaf, Reg::ebx, 16, 0x7}, FieldKind::subset, "AVX10 vector lengths"},
    {{0x24_leaf, 1_subleaf, Reg::ecx, 0, ~0u}, FieldKind::subset, "AVX10 instruction bits (24H.1)"},
    // 0x80000000.eax is compared on its effective value (policy_extd_limit) in code.
    // Address widths (SDM vol. 2A 80000008H): a guest told it has more physical
    // address bits than the host would set bits the host's paging treats as reserved.
    {field::maxphysaddr, FieldKind::le, "maxphysaddr"},
    {field::maxlinaddr, FieldKind::le, "maxlinaddr"},
};

// Every numeric field as the policy answers it (r = policy_ranges(p)): v[i] is
// numeric_fields[i]'s bits, or 0 when its leaf/subleaf is out of range.
inline constexpr unsigned NR_NUMERIC_FIELDS = sizeof(numeric_fields) / sizeof(numeric_fields[0]);
void numeric_field_values(const Policy &p, const PolicyRanges &r, uint32_t (&v)[NR_NUMERIC_FIELDS]);

// The featureset a guest of `p` sees: like policy_to_featureset, but a word whose
// leaf/subleaf lies outside the policy's own ranges (policy_in_range) reads as zero.
Featureset policy_effective_featureset(const Policy &p);
// The same, with the policy's ranges already computed (r = policy_ranges(p)).
Featureset policy_effective_featureset(const Policy &p, const PolicyRanges &r);

// Whether two 0xd:n (n >= 2) subleaves describe the same component layout: EAX size,
// EBX standard-format offset, ECX[1:0] flags equal - or either is all zero, i.e. does
// not enumerate the component (dump tools skip subleaves), so states no layout.
bool xstate_layouts_agree(const Regs &x, const Regs &y);

// Registers of (leaf, subleaf) as the policy answers them: zeros when out of range.
Regs policy_effective(const Policy &p, Leaf leaf, Subleaf subleaf);

// 0 when `guest` can run on `host`, otherwise -EINVAL.  `err` (may be NULL) is always
// written: on failure it names the first failing leaf/subleaf in leaf order, or, when
// every CPUID leaf is fine, the failing MSR; fields that do not apply are ~0.  The
// checks (all of them, so `missing` is complete):
//   leaf 0        vendor equal (the 12-byte signature, policy_same_vendor); max basic
//                 leaf guest <= host
//   numeric_fields every row
//   0xd:n (n>=2)  each xstate component the guest has: same size, offset and flags on
//                 the host (XSAVE runs natively, so the layout the guest parsed from
//                 CPUID must be the one the hardware writes); xstate_layouts_agree
//   0x80000000    effective max extended leaf guest <= host
//   each featureset word, at its leaf/subleaf (or MSR 0x10a): the guest's named
//                 features within the host's, except features::pool_any (the '|'
//                 ones and RSBA/RRSBA)
//   MSR 0xce      CPUID faulting in the guest needs it on the host
// `missing` (may be NULL) receives policy_missing_features(host, guest).
CPUPOLICY_MUST_CHECK int policy_is_compatible(const Policy &host, const Policy &guest,
                                              ErrRecord *err, Featureset *missing);

// --- Prepared views ------------------------------------------------------------------
// Everything policy_is_compatible reads of one policy, worked out once: its ranges, the
// numeric fields and featureset as a guest sees them, the xstate components, the
// extended limit, the vendor and CPUID faulting.  A caller that checks one guest
// against many hosts (or a pool's hosts against each other) prepares each policy once
// and compares views; policy_is_compatible(Policy, Policy) prepares both on every call.
// A view is read-only and points at its policy (the xstate layouts are read from it):
// the policy must outlive the view and not change, or the view is prepared again.
struct CompatView {
    const Policy *policy;
    PolicyRanges ranges;
    uint32_t numeric[NR_NUMERIC_FIELDS];  // numeric_field_values()
    Featureset effective;                 // policy_effective_featureset()
    Featureset wanted;                    // as the guest: what the host must have (the
                                          // effective features policy_missing_features counts)
    uint64_t xstates;                     // effective XCR0 | XSS components
    uint32_t extd_limit;                  // policy_extd_limit()
    bool cpuid_faulting;                  // MSR 0xce bit 31
    uint32_t vendor_sig[3];               // leaf 0 EBX, ECX, EDX (policy_same_vendor)
};
void compat_view_prepare(CompatView &v, const Policy &p);

// policy_is_compatible on prepared views: the same checks, answer, `err` and `missing`.
CPUPOLICY_MUST_CHECK int policy_is_compatible(const CompatView &host, const CompatView &guest,
                                              ErrRecord *err, Featureset *missing);

// Guest features the host lacks: what a toolstack prints as "host lacks avx512f, ...".
// Excluded: features::pool_any (the '|' features and RSBA/RRSBA: not a reason for
// incompatibility) and bits the feature
// table does not name (no max policy offers them, so no guest can depend on them; a
// raw dump has plenty, e.g. AMD's 0x80000008.ebx bit 31).
Featureset policy_missing_features(const Policy &host, const Policy &guest);

} // namespace cpupolicy
