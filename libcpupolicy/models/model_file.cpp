// SPDX-License-Identifier: MIT
#include "model_file.hpp"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <libxml/relaxng.h>

#include <algorithm>
#include <map>

#include "cpupolicy/compat.hpp"
#include "cpupolicy/derive.hpp"
#include "cpupolicy/features.hpp"
#include "cpupolicy/xstate.hpp"
#include "xml_util.hpp"

namespace cpupolicy::models {

namespace {

// config/cpu-models/cpu-model.rng, made a string literal by the build (models/module.mk).
const char schema_text[] =
#include "cpu_model_rng.inc"
    ;

// The first validity error's message, at the first line any of the errors names
// (libxml2 reports an interleave mismatch without a node, then its element with one).
struct FirstError {
    std::string file, msg;
    long line = 0;
    static void handler(void *data, xmlErrorPtr e)
    {
        auto *self = static_cast<FirstError *>(data);
        if ( !e )
            return;
        long line = e->line;
        if ( line <= 0 && e->node )
            line = xmlGetLineNo(static_cast<xmlNode *>(e->node));
        if ( self->msg.empty() )
        {
            self->msg = e->message ? e->message : "invalid";
            while ( !self->msg.empty() && (self->msg.back() == '\n' || self->msg.back() == ' ') )
                self->msg.pop_back();
        }
        if ( self->file.empty() && e->file )
            self->file = e->file;
        if ( self->line <= 0 && line > 0 )
            self->line = line;
    }
    std::string text(const std::string &name) const
    {
        // Our own name for the document: libxml2's is URI-escaped ("a%20b.xml").
        return where(name, line, msg);
    }
};

// The compiled schema, built once per process (libxml2's RelaxNG structures are
// read-only once compiled; validation contexts are per call).
xmlRelaxNGPtr compiled_schema(std::string *err)
{
    static xmlRelaxNGPtr schema = [] {
        xmlRelaxNGParserCtxtPtr pc = xmlRelaxNGNewMemParserCtxt(schema_text, sizeof(schema_text) - 1);
        FirstError fe;
        xmlRelaxNGSetParserStructuredErrors(pc, FirstError::handler, &fe);
        xmlRelaxNGPtr s = xmlRelaxNGParse(pc);
        xmlRelaxNGFreeParserCtxt(pc);
        return s;
    }();
    if ( !schema && err )
        *err = "cpu-model.rng: the embedded schema does not compile";
    return schema;
}

int validate(xmlDoc *doc, const std::string &name, std::string *err)
{
    xmlRelaxNGPtr s = compiled_schema(err);
    if ( !s )
        return -EINVAL;
    xmlRelaxNGValidCtxtPtr vc = xmlRelaxNGNewValidCtxt(s);
    if ( !vc )
        return -ENOMEM;
    FirstError fe;
    xmlRelaxNGSetValidStructuredErrors(vc, FirstError::handler, &fe);
    int rc = xmlRelaxNGValidateDoc(vc, doc);
    xmlRelaxNGFreeValidCtxt(vc);
    if ( rc == 0 )
        return 0;
    if ( err )
    {
        *err = fe.msg.empty() ? where(name, 0, "does not match cpu-model.rng") : fe.text(name);
    }
    return -EINVAL;
}

int fail(const std::string &file, const xmlNode *n, const std::string &what, std::string *err)
{
    if ( err )
        *err = where(file, n ? xml::line_of(n) : 0, what);
    return -EINVAL;
}

int parse_doc(Model &m, xmlDoc *doc, const std::string &file, std::string *err)
{
    if ( int rc = validate(doc, file, err) )
        return rc;
    const xmlNode *root = xmlDocGetRootElement(doc);
    Model r;
    r.source = Source::builtin;
    r.file = file;
    r.line = xml::line_of(root);
    std::string v;
    xml::attr(root, "name", &r.base);
    xml::attr(root, "version", &v);
    uint32_t ver;
    if ( !xml::parse_u32(v, &ver) || ver == 0 )
        return fail(file, root, "bad version '" + v + "'", err);
    r.version = ver;
    r.name = r.base + "-v" + std::to_string(ver);
    for ( const xmlNode *c = root->children; c; c = c->next )
    {
        if ( !xml::is_element(c) )
            continue;
        if ( xml::named(c, "origin") )
        {
            xml::attr(c, "dump", &r.origin_dump);
            xml::attr(c, "policy", &r.origin_policy);
            xml::attr(c, "boot-options", &r.origin_boot);
        }
        else if ( xml::named(c, "supersedes") )
        {
            std::string sv, why;
            xml::attr(c, "version", &sv);
            xml::attr(c, "reason", &why);
            uint32_t n;
            if ( !xml::parse_u32(sv, &n) || n >= r.version )
                return fail(file, c, "supersedes version " + sv + ", not older than " +
                                         std::to_string(r.version), err);
            r.supersedes = n;
            r.supersedes_reason = why;
        }
        else if ( xml::named(c, "vendor") )
            r.vendor = xml::text_of(c);
        else if ( xml::named(c, "signature") )
        {
            Signature s{};
            std::string a;
            xml::attr(c, "family", &a);
            bool ok = xml::parse_u32(a, &s.family);
            xml::attr(c, "model", &a);
            ok = ok && xml::parse_u32(a, &s.model);
            xml::attr(c, "stepping", &a);
            ok = ok && xml::parse_u32(a, &s.stepping_lo);
            if ( !ok || s.stepping_lo > 15 || s.model > 255 || s.family > 0x10e )
                return fail(file, c, "signature out of range", err);
            s.stepping_hi = s.stepping_lo;
            r.signatures.push_back(s);
        }
        else if ( xml::named(c, "numeric") )
        {
            for ( const xmlNode *f = c->children; f; f = f->next )
            {
                if ( !xml::is_element(f) )
                    continue;
                std::string fname, fval;
                xml::attr(f, "name", &fname);
                xml::attr(f, "value", &fval);
                unsigned i = field_by_name(fname.c_str());
                uint64_t x;
                if ( !xml::parse_u64(fval, &x) )
                    return fail(file, f, "field '" + fname + "': bad value '" + fval + "'", err);
                if ( r.has(i) )
                    return fail(file, f, "field '" + fname + "' given twice", err);
                if ( field_info[i].kind == FieldKind::le && x > 0xffffffffu )
                    return fail(file, f, "field '" + fname + "': value beyond 32 bits", err);
                r.field_mask |= 1u << i;
                r.fields[i] = x;
            }
        }
        else if ( xml::named(c, "features") )
        {
            for ( const xmlNode *f = c->children; f; f = f->next )
            {
                if ( !xml::is_element(f) )
                    continue;
                std::string fname;
                xml::attr(f, "name", &fname);
                uint32_t num;
                if ( !features::lookup(fname.c_str(), fname.size(), &num) )
                    return fail(file, f, "unknown feature '" + fname + "'", err);
                if ( r.features.test(Feature{num}) )
                    return fail(file, f, "feature '" + fname + "' listed twice", err);
                r.features.set(Feature{num});
            }
        }
    }
    m = std::move(r);
    return 0;
}

} // namespace

const char *model_schema() { return schema_text; }

bool split_versioned(const std::string &name, std::string *base, unsigned *version)
{
    size_t p = name.rfind("-v");
    if ( p == std::string::npos || p == 0 || p + 2 >= name.size() )
        return false;
    uint32_t v = 0;
    for ( size_t i = p + 2; i < name.size(); ++i )
    {
        if ( name[i] < '0' || name[i] > '9' || v > 100000 )
            return false;
        v = v * 10 + static_cast<uint32_t>(name[i] - '0');
    }
    if ( v == 0 || name[p + 2] == '0' )
        return false;
    *base = name.substr(0, p);
    *version = v;
    return true;
}

int read_model_text(Model &out, const std::string &text, const std::string &name, std::string *err)
{
    xml::DocPtr doc;
    if ( int rc = xml::read_memory(text, name, doc, err) )
        return rc;
    return parse_doc(out, doc.get(), name, err);
}

int read_model_file(Model &out, const std::string &path, std::string *err)
{
    xml::DocPtr doc;
    if ( int rc = xml::read_file(path, doc, err) )
        return rc;
    Model m;
    if ( int rc = parse_doc(m, doc.get(), path, err) )
        return rc;
    std::string fn = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
    if ( fn != m.name + ".xml" )
        return fail(path, xmlDocGetRootElement(doc.get()),
                    "model " + m.name + " must be in a file named " + m.name + ".xml", err);
    out = std::move(m);
    return 0;
}

int load_model_dir(std::vector<Model> &out, const std::string &dir, std::string *err)
{
    DIR *d = opendir(dir.c_str());
    if ( !d )
    {
        if ( err )
            *err = where(dir, 0, "cannot open the model directory");
        return -ENOENT;
    }
    std::vector<std::string> names;
    while ( dirent *e = readdir(d) )
    {
        std::string n = e->d_name;
        if ( n.size() > 4 && n.compare(n.size() - 4, 4, ".xml") == 0 )
            names.push_back(n);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    std::vector<Model> v;
    for ( const auto &n : names )
    {
        Model m;
        if ( int rc = read_model_file(m, dir + "/" + n, err) )
            return rc;
        v.push_back(std::move(m));
    }
    out = std::move(v);
    return 0;
}

unsigned field_by_name(const char *name)
{
    for ( unsigned i = 0; i < NR_FIELDS; ++i )
        if ( !strcmp(field_info[i].name, name) )
            return i;
    return NR_FIELDS;
}

void policy_fields(const Policy &p, uint64_t (&v)[NR_FIELDS])
{
    Regs l7 = policy_effective(p, 0x7_leaf, 0_subleaf), x0 = policy_effective(p, 0xd_leaf, 0_subleaf),
         x1 = policy_effective(p, 0xd_leaf, 1_subleaf),
         e8 = policy_effective(p, 0x80000008_leaf, kNoSubleaf);
    v[F_MAX_BASIC_LEAF] = basic_max_leaf(p);
    v[F_MAX_EXTD_LEAF] = policy_extd_limit(p);
    v[F_LEAF7_MAX_SUBLEAF] = l7.a;
    v[F_PHYS_ADDR_BITS] = e8.a & 0xff;
    v[F_LIN_ADDR_BITS] = (e8.a >> 8) & 0xff;
    v[F_XCR0] = (uint64_t{x0.d} << 32) | x0.a;
    v[F_XSS] = (uint64_t{x1.d} << 32) | x1.c;
}

Model model_from_policy(const Policy &p, const std::string &base, unsigned version)
{
    Model m;
    m.source = Source::builtin;
    m.base = base;
    m.version = version;
    m.name = base + "-v" + std::to_string(version);
    m.vendor = policy_vendor_string(p);
    // Family and model as the SDM and APM define the extended fields (the core's
    // reading of leaf 1 EAX).
    FamilyModel fm = policy_family_model(p);
    uint32_t a = get(p, Leaf{1}).a;
    m.signatures.push_back({fm.family, fm.model, a & 0xf, a & 0xf});
    m.features = policy_effective_featureset(p) & features::known;
    policy_fields(p, m.fields);
    m.field_mask = (1u << NR_FIELDS) - 1;
    return m;
}

std::string model_to_xml(const Model &m)
{
    std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    if ( !m.origin_dump.empty() )
    {
        // XML comments may not contain "--".
        std::string what = "Generated by `cpupolicy model from-dump` from " + m.origin_dump + ", " +
                           m.origin_policy + " policy" +
                           (m.origin_boot.empty() ? "" : ", boot options '" + m.origin_boot + "'") +
                           ".  Published: never edit it; write a new version instead.";
        for ( size_t i; (i = what.find("--")) != std::string::npos; )
            what.replace(i, 2, "- -");
        s += "<!-- " + what + " -->\n";
    }
    s += "<cpu-model name=\"" + xml::escape(m.base) + "\" version=\"" + std::to_string(m.version) + "\">\n";
    if ( !m.origin_dump.empty() )
    {
        s += "  <origin dump=\"" + xml::escape(m.origin_dump) + "\" policy=\"" +
             xml::escape(m.origin_policy) + "\"";
        if ( !m.origin_boot.empty() )
            s += " boot-options=\"" + xml::escape(m.origin_boot) + "\"";
        s += "/>\n";
    }
    if ( m.supersedes )
        s += "  <supersedes version=\"" + std::to_string(m.supersedes) + "\" reason=\"" +
             xml::escape(m.supersedes_reason) + "\"/>\n";
    s += "  <vendor>" + xml::escape(m.vendor) + "</vendor>\n";
    if ( !m.signatures.empty() )
        s += "  <signature family=\"" + std::to_string(m.signatures[0].family) + "\" model=\"" +
             std::to_string(m.signatures[0].model) + "\" stepping=\"" +
             std::to_string(m.signatures[0].stepping_lo) + "\"/>\n";
    if ( m.field_mask )
    {
        s += "  <numeric>\n";
        for ( unsigned i = 0; i < NR_FIELDS; ++i )
            if ( m.has(i) )
            {
                char b[32];
                snprintf(b, sizeof(b), field_info[i].kind == FieldKind::subset || i == F_MAX_BASIC_LEAF ||
                                               i == F_MAX_EXTD_LEAF ? "0x%" PRIx64 : "%" PRIu64,
                         m.fields[i]);
                s += "    <field name=\"" + std::string(field_info[i].name) + "\" value=\"" + b + "\"/>\n";
            }
        s += "  </numeric>\n";
    }
    s += "  <features>\n";
    for ( uint32_t f : each(m.features) )
        s += "    <feature name=\"" + std::string(features::name(Feature{f})) + "\"/>\n";
    s += "  </features>\n</cpu-model>\n";
    return s;
}

} // namespace cpupolicy::models
