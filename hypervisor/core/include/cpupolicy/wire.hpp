// SPDX-License-Identifier: MIT
// The wire format of a policy: Xen's serialised form, byte for byte.
//
// A policy crosses every boundary (hypercall, toolstack, migration stream, the C ABI's
// cpupolicy_leaf_t / cpupolicy_msr_t) as two flat arrays: CPUID leaves and MSR entries.
// The element layouts are Xen's xen_cpuid_leaf_t and xen_msr_entry_t (public header
// xen/arch-x86/xen.h), so a buffer can be handed to or taken from Xen unchanged;
// tests/unit/test_wire.cpp pins every size and offset against the installed Xen header.
//
// What is serialised, the error rules and the places where this deliberately differs
// from Xen are in docs/wire-format.md.
#pragma once

#include "cpupolicy/policy.hpp"

namespace cpupolicy {

// xen_cpuid_leaf_t: one CPUID answer.  `subleaf` is NO_SUBLEAF for a leaf that has none.
struct WireLeaf {
    uint32_t leaf, subleaf;
    uint32_t a, b, c, d;
};
// xen_msr_entry_t: one MSR value.  `flags` is reserved and must be zero.
struct WireMsr {
    uint32_t idx;
    uint32_t flags;
    uint64_t val;
};

static_assert(sizeof(WireLeaf) == 24 && alignof(WireLeaf) == 4, "xen_cpuid_leaf_t is 6 x u32");
static_assert(offsetof(WireLeaf, leaf) == 0 && offsetof(WireLeaf, subleaf) == 4 &&
              offsetof(WireLeaf, a) == 8 && offsetof(WireLeaf, b) == 12 &&
              offsetof(WireLeaf, c) == 16 && offsetof(WireLeaf, d) == 20);
static_assert(sizeof(WireMsr) == 16 && alignof(WireMsr) == 8, "xen_msr_entry_t is u32,u32,u64");
static_assert(offsetof(WireMsr, idx) == 0 && offsetof(WireMsr, flags) == 4 &&
              offsetof(WireMsr, val) == 8);

// Most entries a policy can hold, hence the most a deserialise call accepts (Xen's
// CPUID_MAX_SERIALISED_LEAVES / MSR_MAX_SERIALISED_ENTRIES): every slot plus the two
// hypervisor-limit leaves; PLATFORM_INFO and ARCH_CAPABILITIES.
inline constexpr uint32_t MAX_SERIALISED_LEAVES = NR_POLICY_SLOTS + 2;
inline constexpr uint32_t MAX_SERIALISED_MSRS = 2;

// Serialise `p`, sorted by (leaf, subleaf), MSRs by index.  Emitted: basic leaves
// 0..min(max leaf, BASIC_LAST); 0x40000000 / 0x40000100 {eax = limit} when the limit is
// non-zero; 0x80000000 always and 0x80000001..min(max extended leaf, EXTD_LAST) when the
// extended range is valid; a plain leaf once with NO_SUBLEAF; an indexed leaf as
// subleaves 0..its last non-zero subleaf (at least 0); MSRs 0xce and 0x10a always.
//
// For each of the two arrays independently: a NULL buffer sets *nr to the required
// count; a buffer whose *nr is smaller than required gives -ENOBUFS with *nr set to
// the required count and nothing written to either array; otherwise *nr becomes the
// number written.  A NULL nr pointer skips that array.  Returns 0 or -ENOBUFS.
// Cost: the same for any buffer size: the trailing zero subleaves are found first (the
// count, so that nothing is written on -ENOBUFS), then every entry is written without a
// test.
CPUPOLICY_MUST_CHECK int policy_serialise(const Policy &p, WireLeaf *leaves, uint32_t *nr_leaves,
                                          WireMsr *msrs, uint32_t *nr_msrs);

// Update `p` with the given entries (Xen's x86_cpuid_copy_from_buffer and
// x86_msr_copy_from_buffer: entries not given keep their value; order is free).
// All-or-nothing: every entry is validated before `p` changes, so on any error `p` is
// exactly as it was.  Entries in (leaf, subleaf) order - serialise's output - are the
// fast case: checked a run of consecutive entries at a time (the hypervisor limits,
// between the basic and extended leaves, run on from the one and into the other).
// Errors, for the first offending entry (leaves before MSRs):
//   -E2BIG      more leaves than MAX_SERIALISED_LEAVES or MSRs than MAX_SERIALISED_MSRS
//   -EINVAL     a NULL array with a non-zero count
//   -ERANGE     a leaf, or a subleaf, the object does not hold; a plain leaf given a
//               subleaf other than NO_SUBLEAF; an indexed leaf given NO_SUBLEAF
//               (err->leaf/subleaf name it); an unknown MSR (err->msr)
//   -EINVAL     MSR flags not zero (err->msr)
//   -EOVERFLOW  a value wider than the object holds for that MSR (err->msr)
//   -EINVAL     the same (leaf, subleaf) or MSR given twice (beyond Xen; named in err)
// `err` may be NULL; when given it is written on every return, ~0 in the fields that
// do not apply.
CPUPOLICY_MUST_CHECK int policy_deserialise(Policy &p, const WireLeaf *leaves, uint32_t nr_leaves,
                                            const WireMsr *msrs, uint32_t nr_msrs,
                                            ErrRecord *err);

} // namespace cpupolicy
