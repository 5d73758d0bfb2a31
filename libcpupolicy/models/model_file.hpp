// SPDX-License-Identifier: MIT
// This project's own CPU model files: XML, one model per file named NAME-vN.xml, valid
// against config/cpu-models/cpu-model.rng (embedded in the library at build time and
// checked with libxml2's RelaxNG validator before anything is read).  docs/models.md.
#pragma once

#include <string>
#include <vector>

#include "model.hpp"

namespace cpupolicy::models {

// Read and validate one model file.  0; -ENOENT/-EACCES unreadable; -EINVAL malformed,
// invalid against the schema, an unknown feature name, a file not named NAME-vN.xml:
// *err = "FILE:LINE: what".
int read_model_file(Model &out, const std::string &path, std::string *err);
// The same for a document in memory (`name` stands for the file; no file-name check).
int read_model_text(Model &out, const std::string &text, const std::string &name, std::string *err);

// Every *.xml file of `dir`, in name order.  A name defined twice is an error.
int load_model_dir(std::vector<Model> &out, const std::string &dir, std::string *err);

// The model file text of m (deterministic: features in feature-number order).
std::string model_to_xml(const Model &m);

// A model of the CPU a policy describes: vendor, family/model/stepping from leaf 1, the
// policy's effective named features and every numeric field.
Model model_from_policy(const Policy &p, const std::string &base, unsigned version);

// Split "Base-vN" into its base name and version; false when it has no "-vN" suffix.
bool split_versioned(const std::string &name, std::string *base, unsigned *version);

// The schema text (config/cpu-models/cpu-model.rng).
const char *model_schema();

} // namespace cpupolicy::models
