// SPDX-License-Identifier: MIT
// Named CPU models (issue 10): one in-memory form for the two sources a model comes
// from - libvirt's CPU map as installed (cpumap.hpp) and this project's own versioned
// model files under config/cpu-models/ (model_file.hpp) - and what is done with a model:
// check it against a level (a host's max policy or a pool level), suggest the most
// capable one a level runs, apply it to a policy (the domain builder), export it
// (catalog.hpp).
//
// L1 userspace module: hosted C++20 (-fno-exceptions), uses only the core.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

#include "cpupolicy/featureset.hpp"
#include "cpupolicy/policy.hpp"

namespace cpupolicy::models {

enum class Source : uint8_t { builtin = 1, libvirt = 2 };
inline constexpr unsigned SOURCE_ALL = 3;

// The numeric fields a migration check compares (compat.hpp numeric_fields and the
// effective max extended leaf), in the form a model states them.  A model states only
// the ones it knows: libvirt's models state none.
enum Field : unsigned {
    F_MAX_BASIC_LEAF,     // 0x0.eax
    F_MAX_EXTD_LEAF,      // 0x80000000.eax (effective)
    F_LEAF7_MAX_SUBLEAF,  // 0x7:0.eax
    F_PHYS_ADDR_BITS,     // 0x80000008.eax[7:0]
    F_LIN_ADDR_BITS,      // 0x80000008.eax[15:8]
    F_XCR0,               // 0xd:0 edx:eax, the XCR0 components
    F_XSS,                // 0xd:1 edx:ecx, the IA32_XSS components
    NR_FIELDS
};
enum class FieldKind : uint8_t { le, subset };
struct FieldInfo {
    const char *name;  // as written in model files and printed
    FieldKind kind;    // le: model <= level; subset: model bits within the level's
};
inline constexpr FieldInfo field_info[NR_FIELDS] = {
    {"max-basic-leaf", FieldKind::le},   {"max-extended-leaf", FieldKind::le},
    {"leaf7-max-subleaf", FieldKind::le}, {"phys-addr-bits", FieldKind::le},
    {"lin-addr-bits", FieldKind::le},    {"xcr0", FieldKind::subset},
    {"xss", FieldKind::subset},
};
// Field number of a name, or NR_FIELDS.
unsigned field_by_name(const char *name);
// Every field as a policy answers it (effective values: out-of-range leaves read 0).
void policy_fields(const Policy &p, uint64_t (&v)[NR_FIELDS]);

struct Signature {
    uint32_t family, model;
    uint32_t stepping_lo, stepping_hi;  // inclusive; 0..~0u when the map gives none
};

struct Model {
    std::string name;       // builtin: "Base-vN"; libvirt: its name ("Haswell")
    std::string base;       // builtin: "Base"; libvirt: = name
    unsigned version = 0;   // builtin: N; libvirt: 0
    Source source = Source::builtin;
    std::string file;       // the file it was read from
    long line = 0;          // and the line of its root / <model> element
    std::string vendor;     // CPUID vendor string ("GenuineIntel"), "" when none
    std::string parent;     // libvirt: the ancestor model (<model name=.../>), ""
    // builtin: the dump and policy it was generated from ("" when not generated) and
    // the version it replaces (0 = none) with the reason.
    std::string origin_dump, origin_policy, origin_boot;
    unsigned supersedes = 0;
    std::string supersedes_reason;
    std::vector<Signature> signatures;
    Featureset features;    // this project's features the model has
    // libvirt only: the expanded feature list by libvirt name (sorted), those of them
    // with no counterpart in this project's featureset (listed, never guessed), and
    // the features the model removes (removed='yes'; libvirt expands them as
    // policy='disable').
    std::vector<std::string> libvirt_features, unmapped, removed;
    uint32_t field_mask = 0;  // bit i: fields[i] is stated
    uint64_t fields[NR_FIELDS] = {};

    bool has(unsigned f) const { return field_mask & (1u << f); }
};

// The vendor string of a policy (leaf 0 EBX:EDX:ECX).
std::string policy_vendor_string(const Policy &p);

// "FILE:LINE: what" (or "FILE: what" without a line) for every input error.
std::string where(const std::string &file, long line, const std::string &what);

} // namespace cpupolicy::models
