// SPDX-License-Identifier: MIT
// The domain builder (cpupolicy_vm_build): a VM's policy from the pool level's default,
// xl.cfg(5) cpuid= strings and libvirt feature policies, with the dependency closure
// reported by name and every blocker listed before anything is created.
//
// xl.cfg(5), "CPUID masks" (Xen 4.17 docs/man/xl.cfg.5.pod.in): cpuid= takes either the
// libxl string "host,NAME=VALUE,..." ("host" = start from the host's default policy, a
// feature NAME = 0|1, multi-bit fields a number or a bit string) or the older list of
// "LEAF[,SUBLEAF]:REG=BITS,..." strings, BITS 32 characters from bit 31 down: '1' set,
// '0' clear, 'x' the default's value ("don't care"), 'k' the host's value, 's' as 'k'
// (kept across save/restore, which a policy set before start always is here).
// libvirt formatdomain.html, "CPU model and topology": feature policy force (on even if
// the host lacks it), require (on; the guest fails to start without it on the host),
// optional (on if the host has it), disable (off), forbid (off; fails if the host has it).
// Xen cannot give a guest a feature beyond the host's max policy, so `force` ends as a
// blocker exactly where `require` does.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.hpp"
#include "cpupolicy/compat.hpp"

using namespace cpupolicy;
using cpupolicy::abi::ErrnoGuard;

namespace cpupolicy::ts {

void BuildImpl::finish()
{
    version = CPUPOLICY_REPORT_VERSION;
    nr_changes = static_cast<uint32_t>(change_list.size());
    changes = change_list.data();
    blockers_.finish();
    nr_blockers = blockers_.nr_items;
    blockers = blockers_.items;
}

namespace {

constexpr uint32_t NONE = ~0u;

struct Ctx {
    cpupolicy_t *p;
    const cpupolicy_vm_spec_t &spec;
    BuildImpl &rep;
    cpupolicy_parse_error_t *err;
    uint32_t item;  // which input string, for parse errors
    // require:/force:/+ choices, checked once every choice is applied: a later choice
    // (or its closure) may have taken the feature away again.
    std::vector<std::pair<uint32_t, std::string>> required{};
    const uint32_t nr_fs = cpupolicy_featureset_size();

    int bad(size_t col0, const std::string &what)
    {
        if ( err )
        {
            err->item = item;
            err->line = 1;
            err->column = static_cast<uint32_t>(col0 + 1);
            snprintf(err->what, sizeof(err->what), "%s", what.c_str());
        }
        return -EINVAL;
    }

    bool has(const std::vector<uint32_t> &fs, uint32_t f) const
    {
        return f / 32 < fs.size() && (fs[f / 32] >> (f % 32) & 1);
    }
    static void put(std::vector<uint32_t> &fs, uint32_t f, bool on)
    {
        if ( on )
            fs[f / 32] |= 1u << (f % 32);
        else
            fs[f / 32] &= ~(1u << (f % 32));
    }

    void record(uint32_t f, bool set, bool named, const std::string &cause)
    {
        const char *n = cpupolicy_feature_name(f);
        rep.change_list.push_back(cpupolicy_build_change_t{
            f, n ? n : rep.blockers_.keep("<" + std::to_string(f) + ">"), set ? 1 : 0,
            named ? 1 : 0, rep.blockers_.keep(cause)});
    }

    // The features whose clearing clears f: f's prerequisites (transitively, since
    // cpupolicy_feature_deps is already the closure).
    std::vector<uint32_t> prerequisites(uint32_t f) const
    {
        std::vector<uint32_t> out, deps(nr_fs);
        for ( uint32_t g = 0; g < nr_fs * 32; ++g )
        {
            if ( g == f || !cpupolicy_feature_name(g) )
                continue;
            if ( cpupolicy_feature_deps(g, deps.data(), nr_fs) == 0 && has(deps, f) )
                out.push_back(g);
        }
        return out;
    }

    // Set or clear f with its closure, recording every change under `cause`.
    int apply(uint32_t f, bool on, const std::string &cause)
    {
        std::vector<uint32_t> fs = featureset_of(p), before = fs;
        put(fs, f, on);
        if ( on )
        {
            for ( uint32_t g : prerequisites(f) )
                put(fs, g, true);
        }
        else
        {
            std::vector<uint32_t> deps(nr_fs);
            if ( cpupolicy_feature_deps(f, deps.data(), nr_fs) == 0 )
                for ( uint32_t w = 0; w < nr_fs; ++w )
                    fs[w] &= ~deps[w];
        }
        return commit(before, fs, f, cause);
    }

    // Write fs into the policy and record the differences to `before`; `named` is the
    // feature the choice named (NONE: every change counts as named, as for raw bits).
    int commit(const std::vector<uint32_t> &before, const std::vector<uint32_t> &fs,
               uint32_t named, const std::string &cause)
    {
        if ( int rc = cpupolicy_policy_from_featureset(p, fs.data(), nr_fs) )
            return rc;
        const std::vector<uint32_t> after = featureset_of(p);
        for ( uint32_t g = 0; g < nr_fs * 32; ++g )
            if ( has(before, g) != has(after, g) )
                record(g, has(after, g), named == NONE || g == named, cause);
        return 0;
    }

    // After raw register edits: the featureset closure (dependants of what is clear go),
    // recorded under `cause` as not named.
    int close_over(const std::string &cause)
    {
        std::vector<uint32_t> fs = featureset_of(p), before = fs;
        cpupolicy_featureset_sanitise(fs.data(), nr_fs);
        // sanitise also drops unnamed bits; keep those as they were.
        for ( uint32_t g = 0; g < nr_fs * 32; ++g )
            if ( !cpupolicy_feature_name(g) )
                put(fs, g, has(before, g));
        if ( fs == before )
            return 0;
        if ( int rc = cpupolicy_policy_from_featureset(p, fs.data(), nr_fs) )
            return rc;
        for ( uint32_t g = 0; g < nr_fs * 32; ++g )
            if ( has(before, g) != has(fs, g) )
                record(g, has(fs, g), false, cause);
        return 0;
    }
};

bool parse_number(const std::string &s, uint64_t &v)
{
    if ( s.empty() )
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s.c_str(), &end, 0);
    if ( *end || errno )
        return false;
    v = x;
    return true;
}

int get_leaf(const cpupolicy_t *p, uint32_t leaf, uint32_t subleaf, cpupolicy_leaf_t &out)
{
    return cpupolicy_get_cpuid(p, leaf, subleaf, &out);
}

int set_leaf(cpupolicy_t *p, const cpupolicy_leaf_t &l)
{
    return cpupolicy_update_cpuid(p, &l, 1, nullptr);
}

// Numeric fields the libxl form names (xl.cfg(5) lists family, model, stepping; leaf
// limits as libxl's maxleaf / maxextleaf; maxphysaddr as 0x80000008 eax[7:0]).
int set_numeric(Ctx &c, const std::string &name, uint64_t v, size_t col)
{
    cpupolicy_leaf_t l{};
    if ( name == "family" || name == "model" || name == "stepping" )
    {
        if ( get_leaf(c.p, 1, NONE, l) )
            return c.bad(col, "the policy has no leaf 1");
        uint32_t fam = (l.a >> 8) & 0xf, efam = (l.a >> 20) & 0xff;
        uint32_t mod = (l.a >> 4) & 0xf, emod = (l.a >> 16) & 0xf;
        if ( name == "stepping" )
        {
            if ( v > 0xf )
                return c.bad(col, "stepping " + std::to_string(v) + " exceeds 15");
            l.a = (l.a & ~0xfu) | uint32_t(v);
        }
        else if ( name == "family" )
        {
            if ( v > 0xf + 0xff )
                return c.bad(col, "family " + std::to_string(v) + " exceeds 270");
            fam = v >= 0xf ? 0xf : uint32_t(v);
            efam = v >= 0xf ? uint32_t(v - 0xf) : 0;
        }
        else
        {
            if ( v > 0xff )
                return c.bad(col, "model " + std::to_string(v) + " exceeds 255");
            mod = uint32_t(v) & 0xf;
            emod = uint32_t(v) >> 4;
        }
        if ( name != "stepping" )
            l.a = (l.a & 0xf000f00fu) | fam << 8 | efam << 20 | mod << 4 | emod << 16;
        return set_leaf(c.p, l);
    }
    uint32_t leaf = name == "maxleaf" ? 0 : name == "maxextleaf" ? EXTD_FIRST : 0x80000008u;
    if ( get_leaf(c.p, leaf, NONE, l) )
        return c.bad(col, "the policy has no leaf " + std::to_string(leaf));
    if ( name == "maxphysaddr" )
    {
        if ( v > 0xff )
            return c.bad(col, "maxphysaddr " + std::to_string(v) + " exceeds 255");
        l.a = (l.a & ~0xffu) | uint32_t(v);
    }
    else
        l.a = uint32_t(v);
    if ( int rc = set_leaf(c.p, l) )
        return c.bad(col, name + "=" + std::to_string(v) + ": the policy cannot hold it (" +
                          strerror(-rc) + ")");
    return 0;
}

bool is_numeric_field(const std::string &n)
{
    return n == "family" || n == "model" || n == "stepping" || n == "maxleaf" ||
           n == "maxextleaf" || n == "maxphysaddr";
}

// libxl form: "host,NAME=VALUE,...".
int parse_libxl(Ctx &c, const std::string &s, const std::string &label)
{
    size_t i = 0;
    bool first = true;
    while ( i <= s.size() )
    {
        size_t comma = s.find(',', i);
        if ( comma == std::string::npos )
            comma = s.size();
        std::string tok = s.substr(i, comma - i);
        const size_t col = i;
        if ( tok.empty() )
            return c.bad(col, "empty item: expected NAME=VALUE");
        if ( tok == "host" )
        {
            if ( !first )
                return c.bad(col, "'host' must come first");
        }
        else
        {
            size_t eq = tok.find('=');
            if ( eq == std::string::npos )
                return c.bad(col, "'" + tok + "': expected NAME=VALUE (e.g. avx512f=0)");
            std::string name = tok.substr(0, eq), val = tok.substr(eq + 1);
            const size_t vcol = col + eq + 1;
            if ( is_numeric_field(name) )
            {
                uint64_t v;
                if ( !parse_number(val, v) )
                    return c.bad(vcol, "'" + val + "': expected a number for " + name);
                if ( int rc = set_numeric(c, name, v, vcol) )
                    return rc;
            }
            else
            {
                uint32_t f;
                if ( cpupolicy_feature_from_name(name.c_str(), &f) )
                    return c.bad(col, "unknown feature or field '" + name + "'");
                const std::string cause = label + " " + tok;
                if ( val == "1" || val == "0" )
                {
                    if ( int rc = c.apply(f, val == "1", cause) )
                        return c.bad(col, cause + ": " + strerror(-rc));
                }
                else if ( val == "k" || val == "s" )
                {
                    if ( !c.spec.host_max )
                        return c.bad(vcol, "'" + val + "' takes the host's value: no host given");
                    const bool on = c.has(featureset_of(c.spec.host_max), f);
                    if ( int rc = c.apply(f, on, cause) )
                        return c.bad(col, cause + ": " + strerror(-rc));
                }
                else if ( val == "x" )
                {
                    const bool on = c.has(featureset_of(c.spec.base), f);
                    if ( int rc = c.apply(f, on, cause) )
                        return c.bad(col, cause + ": " + strerror(-rc));
                }
                else
                    return c.bad(vcol, "'" + val + "': expected 0, 1, x, k or s for feature " + name);
            }
        }
        first = false;
        i = comma + 1;
    }
    return 0;
}

// Legacy form: "LEAF[,SUBLEAF]:REG=BITS[,REG=BITS]...".
int parse_legacy(Ctx &c, const std::string &s, const std::string &label)
{
    size_t colon = s.find(':');
    if ( colon == std::string::npos )
        return c.bad(s.size(), "expected ':' after LEAF[,SUBLEAF]");
    std::string head = s.substr(0, colon);
    size_t comma = head.find(',');
    uint64_t leaf, subleaf = NONE;
    if ( !parse_number(head.substr(0, comma), leaf) || leaf > 0xffffffffu )
        return c.bad(0, "'" + head.substr(0, comma) + "': expected a leaf number (e.g. 0x00000001)");
    if ( comma != std::string::npos &&
         (!parse_number(head.substr(comma + 1), subleaf) || subleaf > 0xffffffffu) )
        return c.bad(comma + 1, "'" + head.substr(comma + 1) + "': expected a subleaf number");
    cpupolicy_leaf_t cur{}, base{}, host{};
    uint32_t sl = uint32_t(subleaf);
    int rc = get_leaf(c.p, uint32_t(leaf), sl, cur);
    if ( rc == -ERANGE && comma == std::string::npos )
    {
        sl = 0;  // a leaf with subleaves, named without one: subleaf 0
        rc = get_leaf(c.p, uint32_t(leaf), sl, cur);
    }
    if ( rc )
        return c.bad(0, "leaf " + head + ": not a leaf/subleaf the policy holds");
    if ( get_leaf(c.spec.base, uint32_t(leaf), sl, base) )
        base = cur;
    if ( c.spec.host_max && get_leaf(c.spec.host_max, uint32_t(leaf), sl, host) )
        host = cur;

    const std::vector<uint32_t> before = featureset_of(c.p);
    size_t i = colon + 1;
    while ( i <= s.size() )
    {
        size_t end = s.find(',', i);
        if ( end == std::string::npos )
            end = s.size();
        std::string tok = s.substr(i, end - i);
        size_t eq = tok.find('=');
        std::string reg = tok.substr(0, eq);
        uint32_t cpupolicy_leaf_t::*r = reg == "eax" ? &cpupolicy_leaf_t::a
                                        : reg == "ebx" ? &cpupolicy_leaf_t::b
                                        : reg == "ecx" ? &cpupolicy_leaf_t::c
                                        : reg == "edx" ? &cpupolicy_leaf_t::d
                                                       : nullptr;
        if ( !r || eq == std::string::npos )
            return c.bad(i, "'" + tok.substr(0, eq) + "': expected eax=, ebx=, ecx= or edx=");
        std::string bits = tok.substr(eq + 1);
        if ( bits.size() != 32 )
            return c.bad(i + eq + 1, reg + ": expected 32 characters of 1 0 x k s, found " +
                                         std::to_string(bits.size()));
        uint32_t v = cur.*r;
        for ( unsigned k = 0; k < 32; ++k )
        {
            const uint32_t bit = 1u << (31 - k);
            uint32_t from;
            switch ( bits[k] ) {
            case '1': from = ~0u; break;
            case '0': from = 0; break;
            case 'x': from = base.*r; break;
            case 'k':
            case 's':
                if ( !c.spec.host_max )
                    return c.bad(i + eq + 1 + k, "'k'/'s' take the host's value: no host given");
                from = host.*r;
                break;
            default:
                return c.bad(i + eq + 1 + k, std::string("'") + bits[k] + "' (bit " +
                                                 std::to_string(31 - k) +
                                                 "): expected 1, 0, x, k or s");
            }
            v = (v & ~bit) | (from & bit);
        }
        cur.*r = v;
        i = end + 1;
    }
    if ( int e = set_leaf(c.p, cur) )
        return c.bad(0, label + ": the policy refused leaf " + head + " (" + strerror(-e) + ")");
    // Record what the raw bits changed (named), then the closure (not named).
    const std::vector<uint32_t> after = featureset_of(c.p);
    for ( uint32_t g = 0; g < c.nr_fs * 32; ++g )
        if ( c.has(before, g) != c.has(after, g) && cpupolicy_feature_name(g) )
            c.record(g, c.has(after, g), true, label + " " + head);
    // Prerequisites of what the bits set: pulled in.
    std::vector<uint32_t> fs = after;
    for ( uint32_t g = 0; g < c.nr_fs * 32; ++g )
        if ( !c.has(before, g) && c.has(after, g) && cpupolicy_feature_name(g) )
            for ( uint32_t pre : c.prerequisites(g) )
                Ctx::put(fs, pre, true);
    if ( fs != after )
        if ( int e = c.commit(after, fs, 0xfffffffe, label + " " + head) )
            return e;
    return c.close_over(label + " " + head);
}

int parse_features(Ctx &c, const std::string &s)
{
    size_t i = 0;
    while ( i <= s.size() )
    {
        size_t comma = s.find(',', i);
        if ( comma == std::string::npos )
            comma = s.size();
        std::string tok = s.substr(i, comma - i);
        const size_t col = i;
        if ( tok.empty() )
            return c.bad(col, "empty item: expected +f, -f or POLICY:f");
        std::string pol, name;
        if ( tok[0] == '+' || tok[0] == '-' )
        {
            pol = tok[0] == '+' ? "require" : "disable";
            name = tok.substr(1);
        }
        else
        {
            size_t colon = tok.find(':');
            if ( colon == std::string::npos )
                return c.bad(col, "'" + tok + "': expected +f, -f or POLICY:f "
                                  "(require, force, optional, disable, forbid)");
            pol = tok.substr(0, colon);
            name = tok.substr(colon + 1);
            if ( pol != "require" && pol != "force" && pol != "optional" && pol != "disable" &&
                 pol != "forbid" )
                return c.bad(col, "'" + pol + "': expected require, force, optional, disable "
                                  "or forbid");
        }
        uint32_t f;
        const size_t ncol = col + tok.size() - name.size();
        if ( name.empty() || cpupolicy_feature_from_name(name.c_str(), &f) )
            return c.bad(ncol, "unknown feature '" + name + "'");
        const bool host_has = c.spec.host_max && c.has(featureset_of(c.spec.host_max), f);
        int rc = 0;
        if ( pol == "require" || pol == "force" )
        {
            rc = c.apply(f, true, tok);
            c.required.emplace_back(f, tok);
        }
        else if ( pol == "optional" )
        {
            if ( host_has || !c.spec.host_max )
                rc = c.apply(f, true, tok);
        }
        else
        {
            rc = c.apply(f, false, tok);
            if ( pol == "forbid" && host_has )
            {
                const char *n = cpupolicy_feature_name(f);
                cpupolicy_report_item_t it{CPUPOLICY_ITEM_POLICY, f, n, NONE, NONE, NONE, 0, 1,
                                           c.rep.blockers_.keep(tok + ": the host has it")};
                c.rep.blockers_.list.push_back(it);
            }
        }
        if ( rc )
            return c.bad(col, tok + ": " + strerror(-rc));
        i = comma + 1;
    }
    return 0;
}

bool looks_legacy(const std::string &s)
{
    return !s.empty() && s[0] >= '0' && s[0] <= '9';
}

} // namespace

int vm_build(cpupolicy_t *out, const cpupolicy_vm_spec_t &spec, BuildImpl &rep,
             cpupolicy_parse_error_t *err)
{
    if ( err )
        *err = cpupolicy_parse_error_t{};
    if ( !spec.base || (spec.nr_cpuid && !spec.cpuid) )
        return -EINVAL;
    PolicyPtr work = new_policy();
    if ( !work )
        return -ENOMEM;
    *work = *spec.base;
    Ctx c{work.get(), spec, rep, err, 0};

    for ( uint32_t i = 0; i < spec.nr_cpuid; ++i )
    {
        c.item = i;
        const std::string s = spec.cpuid[i] ? spec.cpuid[i] : "";
        const std::string label = "cpuid[" + std::to_string(i) + "]";
        int rc = looks_legacy(s) ? parse_legacy(c, s, label) : parse_libxl(c, s, label);
        if ( rc )
            return rc;
    }
    c.item = spec.nr_cpuid;
    if ( spec.features && *spec.features )
        if ( int rc = parse_features(c, spec.features) )
            return rc;

    const std::vector<uint32_t> final_fs = featureset_of(work.get());
    for ( const auto &[f, tok] : c.required )
        if ( !c.has(final_fs, f) )
            rep.blockers_.list.push_back(cpupolicy_report_item_t{
                CPUPOLICY_ITEM_POLICY, f, cpupolicy_feature_name(f), NONE, NONE, NONE, 0, 1,
                rep.blockers_.keep(tok + ": taken away again by a later choice")});

    // Verify: every blocker against the host and against the pool level.
    auto against = [&](const cpupolicy_t *max, const char *what) {
        ReportImpl r;
        compat_items(max->p, work->p, r);
        for ( auto it : r.list )
        {
            it.name = rep.blockers_.keep(it.name ? it.name : "");
            it.detail = rep.blockers_.keep(std::string(what) + (it.detail ? std::string(": ") + it.detail : ""));
            rep.blockers_.list.push_back(it);
        }
    };
    if ( spec.host_max )
        against(spec.host_max, "host");
    if ( spec.level )
        against(spec.level, "pool level");
    uint32_t bad_feature = NONE;
    std::vector<uint32_t> fs = featureset_of(work.get());
    if ( cpupolicy_featureset_check_deps(fs.data(), uint32_t(fs.size()), &bad_feature) == -EINVAL )
    {
        const char *n = cpupolicy_feature_name(bad_feature);
        rep.blockers_.list.push_back(cpupolicy_report_item_t{
            CPUPOLICY_ITEM_POLICY, bad_feature, n, NONE, NONE, NONE, 1, 0,
            "a prerequisite of this feature is missing"});
    }
    rep.finish();
    if ( rep.nr_blockers )
        return -EPERM;
    *out = *work;
    return 0;
}

} // namespace cpupolicy::ts

using namespace cpupolicy::ts;

static int impl_cpupolicy_vm_build(cpupolicy_t *out, const cpupolicy_vm_spec_t *spec,
                                        cpupolicy_build_report_t **report,
                                        cpupolicy_parse_error_t *err)
{
    ErrnoGuard g;
    if ( report )
        *report = nullptr;
    if ( !out || !spec )
        return -EINVAL;
    std::unique_ptr<BuildImpl> rep(new (std::nothrow) BuildImpl);
    if ( !rep )
        return -ENOMEM;
    int rc = vm_build(out, *spec, *rep, err);
    if ( (rc == 0 || rc == -EPERM) && report )
        *report = rep.release();
    return rc;
}

static void impl_cpupolicy_build_report_free(cpupolicy_build_report_t *r)
{
    ErrnoGuard g;
    delete static_cast<BuildImpl *>(r);
}

// --- ABI boundary: noexcept, cpupolicy_last_error() (api.hpp, Call) ---------------------

CPUPOLICY_EXPORT int cpupolicy_vm_build(cpupolicy_t *out, const cpupolicy_vm_spec_t *spec,
                                        cpupolicy_build_report_t **report,
                                        cpupolicy_parse_error_t *err) noexcept
{
    abi::Call c("cpupolicy_vm_build");
    return c.done(impl_cpupolicy_vm_build(out, spec, report, err));
}

CPUPOLICY_EXPORT void cpupolicy_build_report_free(cpupolicy_build_report_t *r) noexcept
{
    impl_cpupolicy_build_report_free(r);
}
