// SPDX-License-Identifier: MIT
#include "cpumap.hpp"

#include <errno.h>

#include <algorithm>
#include <set>

#include "cpupolicy/feature-table.hpp"
#include "cpupolicy/features.hpp"
#include "xml_util.hpp"

namespace cpupolicy::models {

using xml::DocPtr;

uint32_t map_item(const LibvirtFeature::Item &it)
{
    if ( __builtin_popcount(it.mask) != 1 )
        return ~0u;
    uint32_t bit = static_cast<uint32_t>(__builtin_ctz(it.mask));
    for ( uint32_t w = 0; w < NR_FEATUREWORDS; ++w )
    {
        const WordSource &s = table::words[w].src;
        if ( s.is_msr != it.is_msr )
            continue;
        if ( s.is_msr ? (MsrIndex{it.leaf} != s.msr || it.subleaf != s.half)
                      : (Leaf{it.leaf} != s.leaf || Subleaf{it.subleaf} != s.subleaf || s.reg != it.reg) )
            continue;
        uint32_t f = w * 32 + bit;
        return features::info(Feature{f}) ? f : ~0u;
    }
    return ~0u;
}

const LibvirtFeature *CpuMap::feature(const std::string &name) const
{
    auto it = feature_index.find(name);
    return it == feature_index.end() ? nullptr : &features[it->second];
}

const LibvirtFeature *CpuMap::feature_for(uint32_t f) const
{
    if ( f >= by_feature.size() || by_feature[f] == ~0u )
        return nullptr;
    return &features[by_feature[f]];
}

std::string CpuMap::vendor_name(const std::string &cpuid_string) const
{
    for ( const auto &[name, str] : vendors )
        if ( str == cpuid_string )
            return name;
    return "";
}

namespace {

struct Loader {
    CpuMap &map;
    std::string *err;
    // Models as written (before expansion), with their own removed features.
    struct Raw {
        Model m;
        bool expanded = false, expanding = false;
        std::vector<std::string> own;  // own features, in file order
    };
    std::vector<Raw> raw;
    std::map<std::string, size_t> model_index;

    int fail(const std::string &file, const xmlNode *n, const std::string &what)
    {
        if ( err )
            *err = where(file, n ? xml::line_of(n) : 0, what);
        return -EINVAL;
    }

    int vendor(const std::string &file, const xmlNode *n)
    {
        std::string name, str;
        if ( int rc = xml::only_attrs(n, {"name", "string"}, file, err) )
            return rc;
        if ( int rc = xml::need_attr(n, "name", file, &name, err) )
            return rc;
        if ( int rc = xml::need_attr(n, "string", file, &str, err) )
            return rc;
        if ( str.size() != 12 )
            return fail(file, n, "vendor '" + name + "': string '" + str + "' is not 12 characters");
        if ( map.vendors.count(name) )
            return fail(file, n, "vendor '" + name + "' defined twice");
        map.vendors[name] = str;
        return 0;
    }

    int reg_mask(const std::string &file, const xmlNode *n, const char *a, uint32_t *v)
    {
        std::string s;
        *v = 0;
        if ( xml::attr(n, a, &s) && !xml::parse_u32(s, v) )
            return fail(file, n, std::string("bad number '") + s + "' in attribute '" + a + "'");
        return 0;
    }

    int feature(const std::string &file, const xmlNode *n)
    {
        LibvirtFeature f;
        f.file = file;
        f.line = xml::line_of(n);
        std::string mig;
        if ( int rc = xml::only_attrs(n, {"name", "migratable"}, file, err) )
            return rc;
        if ( int rc = xml::need_attr(n, "name", file, &f.name, err) )
            return rc;
        if ( xml::attr(n, "migratable", &mig) )
        {
            if ( mig != "yes" && mig != "no" )
                return fail(file, n, "feature '" + f.name + "': migratable must be 'yes' or 'no'");
            f.migratable = mig == "yes";
        }
        if ( map.feature_index.count(f.name) )
            return fail(file, n, "feature '" + f.name + "' defined twice");
        for ( const xmlNode *c = n->children; c; c = c->next )
        {
            if ( !xml::is_element(c) )
                continue;
            if ( xml::named(c, "cpuid") )
            {
                if ( int rc = xml::only_attrs(c, {"eax_in", "ecx_in", "eax", "ebx", "ecx", "edx"},
                                              file, err) )
                    return rc;
                std::string s;
                uint32_t leaf, subleaf = NO_SUBLEAF;
                if ( int rc = xml::need_attr(c, "eax_in", file, &s, err) )
                    return rc;
                if ( !xml::parse_u32(s, &leaf) )
                    return fail(file, c, "bad number '" + s + "' in attribute 'eax_in'");
                if ( xml::attr(c, "ecx_in", &s) && !xml::parse_u32(s, &subleaf) )
                    return fail(file, c, "bad number '" + s + "' in attribute 'ecx_in'");
                // libvirt reads CPUID with ECX = ecx_in (0 when absent); this project's
                // plain leaves ignore ECX and its indexed leaves are addressed by it.
                LeafKind k = leaf_kind(Leaf{leaf});
                if ( k == LeafKind::plain )
                    subleaf = NO_SUBLEAF;
                else if ( k == LeafKind::indexed && subleaf == NO_SUBLEAF )
                    subleaf = 0;
                static const struct { const char *a; Reg r; } regs[] = {
                    {"eax", Reg::eax}, {"ebx", Reg::ebx}, {"ecx", Reg::ecx}, {"edx", Reg::edx}};
                for ( const auto &r : regs )
                {
                    uint32_t m;
                    if ( int rc = reg_mask(file, c, r.a, &m) )
                        return rc;
                    if ( m )
                        f.items.push_back({false, leaf, subleaf, r.r, m});
                }
            }
            else if ( xml::named(c, "msr") )
            {
                if ( int rc = xml::only_attrs(c, {"index", "eax", "edx"}, file, err) )
                    return rc;
                std::string s;
                uint32_t idx, lo, hi;
                if ( int rc = xml::need_attr(c, "index", file, &s, err) )
                    return rc;
                if ( !xml::parse_u32(s, &idx) )
                    return fail(file, c, "bad number '" + s + "' in attribute 'index'");
                if ( int rc = reg_mask(file, c, "eax", &lo) )
                    return rc;
                if ( int rc = reg_mask(file, c, "edx", &hi) )
                    return rc;
                if ( lo )
                    f.items.push_back({true, idx, 0, Reg::eax, lo});
                if ( hi )
                    f.items.push_back({true, idx, 1, Reg::eax, hi});
            }
            else if ( xml::named(c, "alias") )
            {
                if ( int rc = xml::only_attrs(c, {"name", "source"}, file, err) )
                    return rc;
                std::string a, src;
                if ( int rc = xml::need_attr(c, "name", file, &a, err) )
                    return rc;
                xml::attr(c, "source", &src);
                f.aliases.push_back(a);
                f.alias_sources.push_back(src);
            }
            else
                return fail(file, c, "unknown element <" + xml::name_of(c) + "> in feature '" +
                                         f.name + "'");
        }
        if ( f.items.empty() )
            return fail(file, n, "feature '" + f.name + "' has no <cpuid> or <msr> definition");
        // A counterpart only for a definition of exactly one bit.
        if ( f.items.size() == 1 )
            f.feature = map_item(f.items[0]);
        map.feature_index[f.name] = map.features.size();
        map.features.push_back(std::move(f));
        return 0;
    }

    int model(const std::string &file, const xmlNode *n)
    {
        Raw r;
        r.m.source = Source::libvirt;
        r.m.file = file;
        r.m.line = xml::line_of(n);
        if ( int rc = xml::only_attrs(n, {"name"}, file, err) )
            return rc;
        if ( int rc = xml::need_attr(n, "name", file, &r.m.name, err) )
            return rc;
        r.m.base = r.m.name;
        if ( model_index.count(r.m.name) )
            return fail(file, n, "model '" + r.m.name + "' defined twice");
        std::set<std::string> seen;
        for ( const xmlNode *c = n->children; c; c = c->next )
        {
            if ( !xml::is_element(c) )
                continue;
            std::string v;
            if ( xml::named(c, "model") )
            {
                if ( int rc = xml::only_attrs(c, {"name"}, file, err) )
                    return rc;
                if ( int rc = xml::need_attr(c, "name", file, &r.m.parent, err) )
                    return rc;
                if ( !model_index.count(r.m.parent) )
                    return fail(file, c, "model '" + r.m.name + "': unknown ancestor model '" +
                                             r.m.parent + "' (ancestors come first)");
            }
            else if ( xml::named(c, "vendor") )
            {
                if ( int rc = xml::only_attrs(c, {"name"}, file, err) )
                    return rc;
                if ( int rc = xml::need_attr(c, "name", file, &v, err) )
                    return rc;
                auto it = map.vendors.find(v);
                if ( it == map.vendors.end() )
                    return fail(file, c, "model '" + r.m.name + "': unknown vendor '" + v + "'");
                r.m.vendor = it->second;
            }
            else if ( xml::named(c, "signature") )
            {
                if ( int rc = xml::only_attrs(c, {"family", "model", "stepping"}, file, err) )
                    return rc;
                Signature s{0, 0, 0, ~0u};
                if ( int rc = xml::need_attr(c, "family", file, &v, err) )
                    return rc;
                if ( !xml::parse_u32(v, &s.family) )
                    return fail(file, c, "bad family '" + v + "'");
                if ( int rc = xml::need_attr(c, "model", file, &v, err) )
                    return rc;
                if ( !xml::parse_u32(v, &s.model) )
                    return fail(file, c, "bad model '" + v + "'");
                if ( xml::attr(c, "stepping", &v) )
                {
                    // "N" or "LO-HI" (libvirt 9: x86ModelParseSignatures).
                    size_t dash = v.find('-');
                    std::string lo = v.substr(0, dash), hi = dash == std::string::npos ? lo : v.substr(dash + 1);
                    if ( !xml::parse_u32(lo, &s.stepping_lo) || !xml::parse_u32(hi, &s.stepping_hi) ||
                         s.stepping_lo > s.stepping_hi || s.stepping_hi > 15 )
                        return fail(file, c, "bad stepping '" + v + "'");
                }
                r.m.signatures.push_back(s);
            }
            else if ( xml::named(c, "decode") )
            {
                if ( int rc = xml::only_attrs(c, {"host", "guest"}, file, err) )
                    return rc;
                for ( const char *a : {"host", "guest"} )
                    if ( xml::attr(c, a, &v) && v != "on" && v != "off" )
                        return fail(file, c, std::string("decode ") + a + " must be 'on' or 'off'");
            }
            else if ( xml::named(c, "feature") )
            {
                if ( int rc = xml::only_attrs(c, {"name", "removed"}, file, err) )
                    return rc;
                if ( int rc = xml::need_attr(c, "name", file, &v, err) )
                    return rc;
                if ( !map.feature_index.count(v) )
                    return fail(file, c, "model '" + r.m.name + "': unknown feature '" + v + "'");
                if ( !seen.insert(v).second )
                    return fail(file, c, "model '" + r.m.name + "': feature '" + v + "' listed twice");
                std::string rem;
                if ( xml::attr(c, "removed", &rem) )
                {
                    if ( rem != "yes" && rem != "no" )
                        return fail(file, c, "removed must be 'yes' or 'no'");
                    if ( rem == "yes" )
                    {
                        r.m.removed.push_back(v);
                        continue;
                    }
                }
                r.own.push_back(v);
            }
            else
                return fail(file, c, "unknown element <" + xml::name_of(c) + "> in model '" +
                                         r.m.name + "'");
        }
        model_index[r.m.name] = raw.size();
        raw.push_back(std::move(r));
        return 0;
    }

    // One file's (or index.xml's inline) content of <cpus> / <arch name='x86'>.
    int content(const std::string &file, const xmlNode *parent)
    {
        for ( const xmlNode *c = parent->children; c; c = c->next )
        {
            if ( !xml::is_element(c) )
                continue;
            int rc;
            if ( xml::named(c, "vendor") )
                rc = vendor(file, c);
            else if ( xml::named(c, "feature") )
                rc = feature(file, c);
            else if ( xml::named(c, "model") )
                rc = model(file, c);
            else if ( xml::named(c, "include") )
            {
                std::string fn;
                if ( (rc = xml::only_attrs(c, {"filename"}, file, err)) ||
                     (rc = xml::need_attr(c, "filename", file, &fn, err)) )
                    return rc;
                if ( fn.find('/') != std::string::npos )
                    return fail(file, c, "include '" + fn + "' must name a file of the map directory");
                rc = include(map.dir + "/" + fn);
            }
            else
                return fail(file, c, "unknown element <" + xml::name_of(c) + ">");
            if ( rc )
                return rc;
        }
        return 0;
    }

    int include(const std::string &path)
    {
        DocPtr doc;
        if ( int rc = xml::read_file(path, doc, err) )
            return rc;
        const xmlNode *root = xmlDocGetRootElement(doc.get());
        if ( !xml::named(root, "cpus") )
            return fail(path, root, "root element must be <cpus>");
        if ( int rc = xml::only_attrs(root, {}, path, err) )
            return rc;
        return content(path, root);
    }

    int index()
    {
        std::string path = map.dir + "/index.xml";
        DocPtr doc;
        if ( int rc = xml::read_file(path, doc, err) )
            return rc;
        const xmlNode *root = xmlDocGetRootElement(doc.get());
        if ( !xml::named(root, "cpus") )
            return fail(path, root, "root element must be <cpus>");
        bool x86 = false;
        for ( const xmlNode *c = root->children; c; c = c->next )
        {
            if ( !xml::is_element(c) )
                continue;
            if ( !xml::named(c, "arch") )
                return fail(path, c, "unknown element <" + xml::name_of(c) + ">");
            std::string name;
            if ( int rc = xml::need_attr(c, "name", path, &name, err) )
                return rc;
            if ( name != "x86" )
                continue;  // other architectures are not this project's
            if ( x86 )
                return fail(path, c, "<arch name='x86'> appears twice");
            x86 = true;
            if ( int rc = content(path, c) )
                return rc;
        }
        if ( !x86 )
            return fail(path, root, "no <arch name='x86'>");
        return 0;
    }

    // libvirt's expansion of a model: its ancestor's features (x86ModelParseAncestor
    // copies them, with the vendor and signatures when the model gives none), plus its
    // own; removed='yes' features are not part of it.
    void expand(Raw &r)
    {
        if ( r.expanded )
            return;
        std::set<std::string> names;
        if ( !r.m.parent.empty() )
        {
            Raw &p = raw[model_index[r.m.parent]];
            expand(p);
            names.insert(p.m.libvirt_features.begin(), p.m.libvirt_features.end());
            if ( r.m.vendor.empty() )
                r.m.vendor = p.m.vendor;
            if ( r.m.signatures.empty() )
                r.m.signatures = p.m.signatures;
        }
        names.insert(r.own.begin(), r.own.end());
        for ( const auto &x : r.m.removed )
            names.erase(x);
        r.m.libvirt_features.assign(names.begin(), names.end());
        for ( const auto &n : r.m.libvirt_features )
        {
            const LibvirtFeature &f = map.features[map.feature_index[n]];
            if ( f.feature != ~0u )
                r.m.features.set(Feature{f.feature});
            else
                r.m.unmapped.push_back(n);
        }
        std::sort(r.m.removed.begin(), r.m.removed.end());
        r.expanded = true;
    }
};

} // namespace

int load_cpu_map(CpuMap &out, const std::string &dir, std::string *err)
{
    CpuMap map;
    map.dir = dir.empty() ? DEFAULT_CPU_MAP_DIR : dir;
    while ( map.dir.size() > 1 && map.dir.back() == '/' )
        map.dir.pop_back();
    Loader l{map, err, {}, {}};
    if ( int rc = l.index() )
        return rc;
    for ( auto &r : l.raw )
        l.expand(r);
    map.by_feature.assign(NR_FEATURE_BITS, ~0u);
    for ( size_t i = 0; i < map.features.size(); ++i )
        if ( map.features[i].feature != ~0u && map.by_feature[map.features[i].feature] == ~0u )
            map.by_feature[map.features[i].feature] = static_cast<uint32_t>(i);
    for ( auto &r : l.raw )
        map.models.push_back(std::move(r.m));
    out = std::move(map);
    return 0;
}

} // namespace cpupolicy::models
