// SPDX-License-Identifier: MIT
// Small libxml2 helpers shared by the CPU-map reader and the model-file reader: parse a
// file with errors as "FILE:LINE: what", attributes as strings, strict attribute and
// number checks.
#pragma once

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/globals.h>

#include <initializer_list>
#include <memory>
#include <string>

#include "model.hpp"

namespace cpupolicy::models::xml {

struct DocFree {
    void operator()(xmlDoc *d) const { xmlFreeDoc(d); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;

// Parse `path` (no network, no entity expansion from outside).  0; -ENOENT / -EACCES
// when it cannot be read; -EINVAL malformed, *err = "FILE:LINE: libxml2's message".
int read_file(const std::string &path, DocPtr &doc, std::string *err);
// The same from memory; `name` stands for the file in messages.
int read_memory(const std::string &text, const std::string &name, DocPtr &doc, std::string *err);

inline bool is_element(const xmlNode *n) { return n && n->type == XML_ELEMENT_NODE; }
inline bool named(const xmlNode *n, const char *name)
{
    return is_element(n) && !xmlStrcmp(n->name, reinterpret_cast<const xmlChar *>(name));
}
inline std::string name_of(const xmlNode *n) { return reinterpret_cast<const char *>(n->name); }
inline long line_of(const xmlNode *n) { return xmlGetLineNo(n); }

// Attribute value; false when absent.
bool attr(const xmlNode *n, const char *name, std::string *out);
// -EINVAL with *err naming the attribute unless every attribute of n is in `allowed`.
int only_attrs(const xmlNode *n, std::initializer_list<const char *> allowed,
               const std::string &file, std::string *err);
// Required attribute: -EINVAL with *err "FILE:LINE: <elem> needs attribute 'x'".
int need_attr(const xmlNode *n, const char *name, const std::string &file, std::string *out,
              std::string *err);
// An unsigned number in C syntax (0x.. hex or decimal) that fits in 32/64 bits.
bool parse_u32(const std::string &s, uint32_t *v);
bool parse_u64(const std::string &s, uint64_t *v);
// Text content of an element, whitespace trimmed.
std::string text_of(const xmlNode *n);
// Characters escaped for an XML attribute value or text.
std::string escape(const std::string &s);

} // namespace cpupolicy::models::xml
