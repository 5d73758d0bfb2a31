// SPDX-License-Identifier: MIT
#include "catalog.hpp"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cpupolicy/compat.hpp"
#include "cpupolicy/features.hpp"
#include "cpupolicy/xstate.hpp"

namespace cpupolicy::models {

std::string policy_vendor_string(const Policy &p)
{
    Regs l0 = get(p, Leaf{0});
    char vs[13];
    memcpy(vs, &l0.b, 4);
    memcpy(vs + 4, &l0.d, 4);
    memcpy(vs + 8, &l0.c, 4);
    vs[12] = '\0';
    return vs;
}

int load_catalog(Catalog &out, unsigned sources, const std::string &builtin_dir,
                 const std::string &cpu_map_dir, std::string *err)
{
    Catalog c;
    if ( sources & unsigned(Source::builtin) )
    {
        c.builtin_dir = builtin_dir;
        if ( int rc = load_model_dir(c.models, builtin_dir, err) )
            return rc;
    }
    if ( sources & unsigned(Source::libvirt) )
    {
        if ( int rc = load_cpu_map(c.map, cpu_map_dir, err) )
            return rc;
        c.has_map = true;
        for ( const auto &m : c.map.models )
            c.models.push_back(m);
    }
    out = std::move(c);
    return 0;
}

int find_model(const Catalog &c, const std::string &name, unsigned sources)
{
    for ( size_t i = 0; i < c.models.size(); ++i )
        if ( (unsigned(c.models[i].source) & sources) && c.models[i].name == name )
            return static_cast<int>(i);
    return -1;
}

namespace {

void feature_blockers(std::vector<Blocker> &out, const Model &m, const Featureset &level)
{
    Featureset missing = m.features.and_not(level).and_not(features::or_mask);
    for ( uint32_t f : each(missing) )
        out.push_back({Blocker::feature, f, features::name(Feature{f}), 1, 0, {}, {}});
}

} // namespace

std::vector<Blocker> check(const Model &m, const Policy &level)
{
    std::vector<Blocker> out;
    std::string lv = policy_vendor_string(level);
    if ( !m.vendor.empty() && m.vendor != lv )
        out.push_back({Blocker::vendor, ~0u, "vendor", 0, 0, m.vendor, lv});
    feature_blockers(out, m, policy_effective_featureset(level));
    uint64_t v[NR_FIELDS];
    policy_fields(level, v);
    for ( unsigned i = 0; i < NR_FIELDS; ++i )
    {
        if ( !m.has(i) )
            continue;
        bool bad = field_info[i].kind == FieldKind::le ? m.fields[i] > v[i] : (m.fields[i] & ~v[i]) != 0;
        if ( bad )
            out.push_back({Blocker::field, i, field_info[i].name, m.fields[i], v[i], {}, {}});
    }
    return out;
}

std::vector<Blocker> check_featureset(const Model &m, const Featureset &level)
{
    std::vector<Blocker> out;
    feature_blockers(out, m, level);
    return out;
}

int suggest(const Catalog &c, unsigned sources, const Policy &level, bool closest, Suggestion *out)
{
    Featureset lfs = policy_effective_featureset(level) & features::known;
    std::string lv = policy_vendor_string(level);
    Suggestion best;
    unsigned best_key1 = 0, best_key2 = 0;
    for ( size_t i = 0; i < c.models.size(); ++i )
    {
        const Model &m = c.models[i];
        if ( !(unsigned(m.source) & sources) || (!m.vendor.empty() && m.vendor != lv) )
            continue;
        Suggestion s;
        s.index = static_cast<int>(i);
        s.add = lfs.and_not(m.features);
        s.lacks = m.features.and_not(lfs).and_not(features::or_mask);
        s.nr_blockers = static_cast<uint32_t>(check(m, level).size());
        unsigned k1, k2;
        if ( closest )
        {
            // Smaller distance first, then fewer features the level lacks.
            k1 = ~0u - (s.add.count() + s.lacks.count());
            k2 = ~0u - s.lacks.count();
        }
        else
        {
            if ( s.nr_blockers )
                continue;
            k1 = m.features.count();
            k2 = static_cast<unsigned>(__builtin_popcount(m.field_mask));
        }
        // Ties go to the later model (a later version of the same model, or the later
        // entry of libvirt's index, which lists models oldest first).
        if ( best.index < 0 || k1 > best_key1 || (k1 == best_key1 && k2 >= best_key2) )
        {
            best = s;
            best_key1 = k1;
            best_key2 = k2;
        }
    }
    if ( best.index < 0 )
        return -ENOENT;
    *out = best;
    return 0;
}

int apply(const Model &m, Policy &p, std::string *why)
{
    std::string pv = policy_vendor_string(p);
    if ( !m.vendor.empty() && m.vendor != pv )
    {
        if ( why )
            *why = "model " + m.name + " is a " + m.vendor + " CPU, the policy's vendor is " + pv;
        return -EINVAL;
    }
    Policy q = p;
    Featureset fs = m.features.and_not(features::special) | (policy_to_featureset(p) & features::special);
    featureset_sanitise(fs);
    policy_apply_featureset(q, fs);
    if ( !m.signatures.empty() )
    {
        // Leaf 1 EAX encoding (SDM vol. 2A CPUID "Version Information").
        const Signature &s = m.signatures[0];
        Regs *l1 = at(q, Leaf{1});
        uint32_t fam = s.family >= 0xf ? 0xf : s.family, extf = s.family >= 0xf ? s.family - 0xf : 0;
        uint32_t a = l1->a & ~0x0fff0fffu;
        a |= (s.stepping_lo & 0xf) | ((s.model & 0xf) << 4) | (fam << 8) | ((s.model >> 4) << 16) |
             (extf << 20);
        l1->a = a;
    }
    if ( m.has(F_MAX_BASIC_LEAF) )
        at(q, Leaf{0})->a = static_cast<uint32_t>(m.fields[F_MAX_BASIC_LEAF]);
    if ( m.has(F_MAX_EXTD_LEAF) )
        at(q, Leaf{0x80000000u})->a = static_cast<uint32_t>(m.fields[F_MAX_EXTD_LEAF]);
    if ( m.has(F_LEAF7_MAX_SUBLEAF) )
        at(q, Leaf{7}, Subleaf{0})->a = static_cast<uint32_t>(m.fields[F_LEAF7_MAX_SUBLEAF]);
    Regs *e8 = at(q, Leaf{0x80000008u});
    if ( m.has(F_PHYS_ADDR_BITS) )
        e8->a = (e8->a & ~0xffu) | static_cast<uint32_t>(m.fields[F_PHYS_ADDR_BITS] & 0xff);
    if ( m.has(F_LIN_ADDR_BITS) )
        e8->a = (e8->a & ~0xff00u) | static_cast<uint32_t>((m.fields[F_LIN_ADDR_BITS] & 0xff) << 8);
    // The xsave components follow the features (Xen's recalculate_xstate), with the
    // sizes and offsets of p's layout.
    xstate::recalculate_xstate(q, p);
    policy_clear_out_of_range(q);
    p = q;
    return 0;
}

namespace {

// The libvirt model closest to m (same vendor), or nullptr.
const Model *closest_libvirt(const Catalog &c, const Model &m)
{
    if ( m.source == Source::libvirt )
        return &m;
    const Model *best = nullptr;
    unsigned best_d = ~0u;
    for ( const auto &b : c.map.models )
    {
        if ( b.vendor != m.vendor )
            continue;
        unsigned d = m.features.and_not(b.features).count() + b.features.and_not(m.features).count();
        if ( d <= best_d )  // ties: the later (newer) model
        {
            best = &b;
            best_d = d;
        }
    }
    return best;
}

std::string qemu_name(const LibvirtFeature &f)
{
    for ( size_t i = 0; i < f.aliases.size(); ++i )
        if ( f.alias_sources[i] == "qemu" )
            return f.aliases[i];
    return f.name;
}

// One xl cpuid= string per leaf/subleaf ("KEY:"), its registers comma separated.
void add_item(std::vector<std::string> &items, const std::string &key, const std::string &reg_bits)
{
    for ( auto &it : items )
        if ( it.rfind(key, 0) == 0 )
        {
            it += "," + reg_bits;
            return;
        }
    items.push_back(key + reg_bits);
}

std::string join(const std::vector<std::string> &v, const char *sep = " ")
{
    std::string s;
    for ( const auto &x : v )
        s += (s.empty() ? "" : sep) + x;
    return s;
}

} // namespace

int export_model(const Catalog &c, const Model &m, ExportFormat fmt, std::string *out, std::string *why)
{
    std::string s;
    if ( fmt == ExportFormat::xl )
    {
        // xl.cfg(5) cpuid= legacy form "LEAF[,SUBLEAF]:REG=BITS", bit 31 first: '1'/'0'
        // for a feature the model has / lacks, 'x' (the toolstack's safe default) for
        // bits the feature table does not name.  The hypervisor still computes its
        // special ('!') bits over what is asked (OSXSAVE follows the guest's CR4).
        std::vector<std::string> items;
        static const char *regnames[] = {"eax", "ebx", "ecx", "edx"};
        std::vector<std::string> msr_features;
        for ( uint32_t w = 0; w < NR_FEATUREWORDS; ++w )
        {
            const WordSource &src = table::words[w].src;
            if ( src.is_msr )
            {
                for ( uint32_t b = 0; b < 32; ++b )
                    if ( m.features.test(Feature{w * 32 + b}) )
                        msr_features.push_back(features::name(Feature{w * 32 + b}));
                continue;
            }
            std::string bits;
            for ( int b = 31; b >= 0; --b )
            {
                Feature f{w * 32 + static_cast<uint32_t>(b)};
                if ( !features::info(f) )
                    bits += 'x';
                else
                    bits += m.features.test(f) ? '1' : '0';
            }
            char key[32];
            if ( src.subleaf == kNoSubleaf )
                snprintf(key, sizeof(key), "0x%08x:", raw(src.leaf));
            else
                snprintf(key, sizeof(key), "0x%08x,0x%08x:", raw(src.leaf), raw(src.subleaf));
            add_item(items, key, std::string(regnames[unsigned(src.reg)]) + "=" + bits);
        }
        if ( m.has(F_PHYS_ADDR_BITS) || m.has(F_LIN_ADDR_BITS) )
        {
            std::string bits(32, 'x');
            for ( unsigned b = 0; b < 16; ++b )
            {
                unsigned fld = b < 8 ? F_PHYS_ADDR_BITS : F_LIN_ADDR_BITS;
                if ( m.has(fld) )
                    bits[31 - b] = (m.fields[fld] >> (b % 8)) & 1 ? '1' : '0';
            }
            add_item(items, "0x80000008:", "eax=" + bits);
        }
        s = "# cpupolicy model " + m.name + "\n";
        if ( !msr_features.empty() )
            s += "# not expressible in cpuid= (MSR_ARCH_CAPS): " + join(msr_features) + "\n";
        s += "cpuid = [\n";
        for ( size_t i = 0; i < items.size(); ++i )
            s += "    \"" + items[i] + "\"" + (i + 1 < items.size() ? ",\n" : "\n");
        s += "]\n";
        *out = s;
        return 0;
    }

    if ( !c.has_map )
    {
        if ( why )
            *why = "exporting to libvirt or QEMU needs libvirt's CPU map (load it with the libvirt source)";
        return -ENOENT;
    }
    const Model *base = closest_libvirt(c, m);
    if ( !base )
    {
        if ( why )
            *why = "libvirt's CPU map has no model of vendor '" + m.vendor + "'";
        return -ENOENT;
    }
    std::vector<const LibvirtFeature *> require, disable;
    std::vector<std::string> inexpressible;
    const Featureset extra = m.features.and_not(base->features),
                     fewer = base->features.and_not(m.features);
    for ( uint32_t f : each(extra) )
    {
        if ( const LibvirtFeature *lf = c.map.feature_for(f) )
            require.push_back(lf);
        else
            inexpressible.push_back(features::name(Feature{f}));
    }
    for ( uint32_t f : each(fewer) )
        disable.push_back(c.map.feature_for(f));
    // libvirt's expansion lists the features a model removes as policy='disable'.
    for ( const auto &r : base->removed )
        if ( base == &m )
            disable.push_back(c.map.feature(r));
    if ( fmt == ExportFormat::qemu )
    {
        s = "-cpu " + base->name;
        for ( const auto *f : require )
            s += ",+" + qemu_name(*f);
        for ( const auto *f : disable )
            s += ",-" + qemu_name(*f);
        if ( m.has(F_PHYS_ADDR_BITS) )
            s += ",phys-bits=" + std::to_string(m.fields[F_PHYS_ADDR_BITS]);
        s += "\n";
        if ( !inexpressible.empty() )
            s += "# not expressible in QEMU's feature names: " + join(inexpressible) + "\n";
        *out = s;
        return 0;
    }
    s = "<!-- cpupolicy model " + m.name + " over libvirt model " + base->name;
    if ( !inexpressible.empty() )
        s += "; no libvirt name for: " + join(inexpressible);
    if ( base != &m && !base->unmapped.empty() )
        s += "; kept as " + base->name + " defines them (no cpupolicy counterpart): " + join(base->unmapped);
    s += " -->\n";
    s += "<cpu mode='custom' match='exact' check='full'>\n";
    s += "  <model fallback='forbid'>" + base->name + "</model>\n";
    std::string vn = c.map.vendor_name(m.vendor);
    if ( !vn.empty() )
        s += "  <vendor>" + vn + "</vendor>\n";
    if ( m.has(F_PHYS_ADDR_BITS) )
        s += "  <maxphysaddr mode='emulate' bits='" + std::to_string(m.fields[F_PHYS_ADDR_BITS]) + "'/>\n";
    for ( const auto *f : require )
        s += "  <feature policy='require' name='" + f->name + "'/>\n";
    for ( const auto *f : disable )
        s += "  <feature policy='disable' name='" + f->name + "'/>\n";
    s += "</cpu>\n";
    *out = s;
    return 0;
}

} // namespace cpupolicy::models
