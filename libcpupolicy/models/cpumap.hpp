// SPDX-License-Identifier: MIT
// libvirt's CPU map as Debian's libvirt0 installs it (/usr/share/libvirt/cpu_map/):
// index.xml includes, for <arch name='x86'>, x86_vendors.xml, x86_features.xml and one
// x86_<Model>.xml per model.  Read with libxml2.
//
// Features are matched to this project's features by their CPUID/MSR definition - leaf
// (eax_in), subleaf (ecx_in), register and bit, or MSR index and bit - against the
// word sources of the one feature table (feature-table.hpp, table::words), never by
// name.  A libvirt feature whose definition is not exactly one bit that the table
// names has no counterpart: it is kept by name in Model::unmapped, never guessed.
//
// The grammar accepted is the one libvirt's own parser (src/cpu/cpu_x86.c,
// x86VendorParse / x86FeatureParse / x86ModelParse, libvirt 9.0) reads; anything else
// - an unknown element or attribute, a bad number, a model naming an unknown feature,
// vendor or ancestor - is an error naming the file and line.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "model.hpp"

namespace cpupolicy::models {

inline constexpr const char *DEFAULT_CPU_MAP_DIR = "/usr/share/libvirt/cpu_map";

struct LibvirtFeature {
    std::string name;
    std::string file;
    long line = 0;
    bool migratable = true;
    // The definition: one (leaf, subleaf, register) or MSR per <cpuid>/<msr> element
    // with the mask libvirt gives it.
    struct Item {
        bool is_msr;
        uint32_t leaf;     // eax_in, or the MSR index
        uint32_t subleaf;  // ecx_in, NO_SUBLEAF when absent; for an MSR 0 (eax) / 1 (edx)
        Reg reg;           // CPUID register (eax for an MSR half)
        uint32_t mask;
    };
    std::vector<Item> items;
    // This project's feature number, or ~0u when there is no counterpart.
    uint32_t feature = ~0u;
    std::vector<std::string> aliases;       // <alias name=...>, with their source
    std::vector<std::string> alias_sources;
};

struct CpuMap {
    std::string dir;
    std::map<std::string, std::string> vendors;  // libvirt vendor name -> CPUID string
    std::vector<LibvirtFeature> features;        // in file order
    std::map<std::string, size_t> feature_index; // name -> features[]
    std::vector<Model> models;                   // expanded, in index.xml order

    const LibvirtFeature *feature(const std::string &name) const;
    // The libvirt feature whose definition is exactly our feature f, or nullptr.
    const LibvirtFeature *feature_for(uint32_t f) const;
    // The libvirt vendor name of a CPUID vendor string ("GenuineIntel" -> "Intel"), "".
    std::string vendor_name(const std::string &cpuid_string) const;

    std::vector<uint32_t> by_feature;  // our feature number -> features[] index, or ~0u
};

// Load the map in `dir` (DEFAULT_CPU_MAP_DIR when empty).  0, or -ENOENT (a file is
// missing or unreadable), -EINVAL (malformed: *err = "FILE:LINE: what").  `out` is
// written only on success.
int load_cpu_map(CpuMap &out, const std::string &dir, std::string *err);

// How a libvirt definition item maps onto this project's featureset: the feature number
// of a single-bit item in a featureset word, or ~0u.
uint32_t map_item(const LibvirtFeature::Item &it);

} // namespace cpupolicy::models
