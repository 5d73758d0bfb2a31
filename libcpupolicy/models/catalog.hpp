// SPDX-License-Identifier: MIT
// A catalog of named CPU models - this project's own (model_file.hpp) and libvirt's
// CPU map (cpumap.hpp) - and what is done with a model against a level: a policy a
// guest would run under (a host's max policy, a pool level) or a bare featureset.
#pragma once

#include <string>
#include <vector>

#include "cpumap.hpp"
#include "model_file.hpp"

namespace cpupolicy::models {

struct Catalog {
    std::vector<Model> models;  // builtin ones first (name order), then libvirt's (index order)
    bool has_map = false;
    CpuMap map;
    std::string builtin_dir;
};

// Load the sources in `sources` (bits of Source).  Empty dirs mean the defaults
// (builtin: `default_builtin_dir`; libvirt: DEFAULT_CPU_MAP_DIR).  0 or the loader's
// negative errno with *err naming file and line.  `out` is written only on success.
int load_catalog(Catalog &out, unsigned sources, const std::string &builtin_dir,
                 const std::string &cpu_map_dir, std::string *err);

// Index of a model by name among `sources`, or -1.
int find_model(const Catalog &c, const std::string &name, unsigned sources);

// One reason a model cannot run at a level.
struct Blocker {
    enum Kind : uint8_t { vendor, feature, field } kind;
    uint32_t id;          // feature number / Field; ~0u for the vendor
    std::string name;     // feature name, field name, or "vendor"
    uint64_t model_value; // field: the model's value; feature: 1
    uint64_t level_value; // field: the level's value; feature: 0
    std::string model_text, level_text;  // vendor strings (vendor only)
};

// EVERY blocker of running m at `level`, in order: vendor, features (by number), numeric
// fields (by Field).  Features are compared on the level's effective featureset, except
// the '|' (OR-levelled) features, which never block (compat.hpp).  Empty: runnable.
std::vector<Blocker> check(const Model &m, const Policy &level);
// Features only, against a bare featureset (no vendor, no numeric fields).
std::vector<Blocker> check_featureset(const Model &m, const Featureset &level);

// The delta between a model and a level, for `suggest`.
struct Suggestion {
    int index = -1;
    Featureset add;    // the level has it, the model does not: what is left on the table
    Featureset lacks;  // the model has it, the level does not (empty for a runnable model)
    uint32_t nr_blockers = 0;  // all of check(), numeric fields included
};
// runnable: the most capable model in `sources` that check() passes at `level` (most
// features, then most numeric fields stated, then the later name).  closest: the model
// of the level's vendor with the smallest |add| + |lacks| (libvirt's baseline choice),
// runnable or not.  -ENOENT when none qualifies.
int suggest(const Catalog &c, unsigned sources, const Policy &level, bool closest, Suggestion *out);

// The domain builder's step "apply model m to policy p": p's features become the
// model's (special '!' bits stay p's, the dependency closure is applied), leaf 0xd is
// rebuilt from them, leaf 1's family/model/stepping and the numeric fields the model
// states are set to the model's.  -EINVAL (*why says it) when the vendors differ.  p is
// written only on success.  Verifying the result against a host is the caller's next
// step (check() names every blocker).
int apply(const Model &m, Policy &p, std::string *why);

// Exports.  libvirt: a <cpu mode='custom' match='exact'> element over the closest
// libvirt model of the same vendor (the model itself for a libvirt model), with
// <feature policy='require'|'disable'> children; qemu: "-cpu Model,+f,-g"; xl: an xl.cfg
// cpuid= list in the legacy per-register form.  What a format cannot express is said in
// a comment.  -ENOENT (libvirt/qemu) when no CPU map is loaded or it has no model of
// the vendor.
enum class ExportFormat : uint8_t { libvirt, qemu, xl };
int export_model(const Catalog &c, const Model &m, ExportFormat fmt, std::string *out, std::string *why);

} // namespace cpupolicy::models
