// SPDX-License-Identifier: MIT
#include "cpupolicy/boot_options.hpp"
#include "cpupolicy/features.hpp"

namespace cpupolicy {

namespace {

// A bounded piece of the option string.
struct Span {
    const char *p;
    size_t len;

    bool is(const char *lit) const
    {
        size_t i = 0;
        for ( ; i < len; ++i )
            if ( !lit[i] || lit[i] != p[i] )
                return false;
        return lit[i] == '\0';
    }
    bool starts_with(const char *lit) const
    {
        size_t i = 0;
        for ( ; lit[i]; ++i )
            if ( i >= len || lit[i] != p[i] )
                return false;
        return true;
    }
    Span from(size_t n) const { return {p + n, len - n}; }
};

// Xen's parse_bool(): 1, 0, or -1 when the text is not a boolean.
int parse_bool(Span s)
{
    static const char *const yes[] = {"1", "yes", "on", "true", "enable"};
    static const char *const no[] = {"0", "no", "off", "false", "disable"};
    for ( const char *y : yes )
        if ( s.is(y) )
            return 1;
    for ( const char *n : no )
        if ( s.is(n) )
            return 0;
    return -1;
}

// What each refusal says (BootOptionsError::what): what is wrong with the offending
// text, and what would be accepted there.
constexpr const char not_bool[] =
    "is not a boolean (accepted: 1/0, yes/no, on/off, true/false, enable/disable)";
constexpr const char not_option[] =
    "is not an option (accepted: cpuid=LIST, tsx=<bool>, vpmu=<bool>, hap=<bool>, "
    "spec-ctrl=LIST)";
constexpr const char not_feature[] =
    "is not a feature name (xen-cpuid --list names them; cpuid= items are NAME, no-NAME "
    "or NAME=<bool>)";
constexpr const char empty_cpuid_item[] =
    "is an empty cpuid= item (accepted: NAME, no-NAME or NAME=<bool>, comma-separated)";
constexpr const char not_spec_ctrl[] =
    "is not a spec-ctrl= item (accepted: no/0/off/false/disable, msr-sc=<bool>, pv=<bool>, "
    "hvm=<bool>, bp-spec-reduce=<bool>)";

struct Parser {
    const char *base;
    Span token;  // the option being parsed
    BootOptionsError err;

    int fail(int rc, Span where, const char *what)
    {
        err.pos = static_cast<size_t>(where.p - base);
        err.len = where.len;
        err.item_pos = static_cast<size_t>(token.p - base);
        err.item_len = token.len;
        err.what = what;
        return rc;
    }

    // A boolean option: `name`, `no-name`, `name=<bool>`.  1/0 on a match, -1 when
    // `tok` is not this option, -2 when it is but the value is bad.
    static int boolean(Span tok, const char *name, Span *value)
    {
        *value = tok;
        if ( tok.is(name) )
            return 1;
        if ( tok.starts_with("no-") && tok.from(3).is(name) )
            return 0;
        size_t n = 0;
        while ( name[n] )
            ++n;
        if ( tok.starts_with(name) && tok.len > n && tok.p[n] == '=' )
        {
            *value = tok.from(n + 1);
            int v = parse_bool(*value);
            return v < 0 ? -2 : v;
        }
        return -1;
    }

    // One comma-separated item of cpuid=.
    int cpuid_item(Span item, BootOptions &o)
    {
        if ( item.len == 0 )
            return fail(-err::einval, item, empty_cpuid_item);

        Span name = item;
        int val = 1;
        for ( size_t i = 0; i < item.len; ++i )
            if ( item.p[i] == '=' )
            {
                name = {item.p, i};
                val = parse_bool(item.from(i + 1));
                if ( val < 0 )
                    return fail(-err::einval, item.from(i + 1), not_bool);
                break;
            }

        uint32_t f;
        // As written first: some canonical names begin with "no-" themselves.
        if ( name.len && features::lookup(name.p, name.len, &f) )
        {
            (val ? o.cpuid_force : o.cpuid_clear).set(Feature{f});
            return 0;
        }
        if ( name.starts_with("no-") && name.len > 3 &&
             features::lookup(name.p + 3, name.len - 3, &f) )
        {
            (val ? o.cpuid_clear : o.cpuid_force).set(Feature{f});
            return 0;
        }
        Span bad = name.starts_with("no-") && name.len > 3 ? name.from(3) : name;
        // An empty name ("=1") is malformed rather than an unknown feature.
        return bad.len ? fail(-err::enoent, bad, not_feature)
                       : fail(-err::einval, item, not_feature);
    }

    // One comma-separated item of spec-ctrl=.
    int spec_ctrl_item(Span item, BootOptions &o)
    {
        Span v;
        int b = parse_bool(item);
        if ( b == 0 )
        {
            o.msr_sc_pv = o.msr_sc_hvm = false;
            return 0;
        }
        if ( b == 1 )  // Xen: a bare positive is meaningless here
            return fail(-err::einval, item, not_spec_ctrl);
        static const char *const names[] = {"msr-sc", "pv", "hvm", "bp-spec-reduce"};
        for ( unsigned i = 0; i < 4; ++i )
        {
            int r = boolean(item, names[i], &v);
            if ( r == -1 )
                continue;
            if ( r == -2 )
                return fail(-err::einval, v, not_bool);
            switch ( i ) {
            case 0: o.msr_sc_pv = o.msr_sc_hvm = r; break;
            case 1: o.msr_sc_pv = r; break;
            case 2: o.msr_sc_hvm = r; break;
            default: o.bp_spec_reduce = r; break;
            }
            return 0;
        }
        return fail(-err::einval, item, not_spec_ctrl);
    }

    template <typename Fn>
    int each_item(Span list, Fn fn)
    {
        size_t start = 0;
        for ( size_t i = 0; i <= list.len; ++i )
            if ( i == list.len || list.p[i] == ',' )
            {
                if ( int rc = fn(Span{list.p + start, i - start}) )
                    return rc;
                start = i + 1;
            }
        return 0;
    }

    int option(Span tok, BootOptions &o)
    {
        Span v;
        if ( tok.starts_with("cpuid=") )
            return each_item(tok.from(6), [&](Span it) { return cpuid_item(it, o); });
        if ( tok.starts_with("spec-ctrl=") )
            return each_item(tok.from(10), [&](Span it) { return spec_ctrl_item(it, o); });
        if ( int r = boolean(tok, "tsx", &v); r != -1 )
        {
            if ( r == -2 )
                return fail(-err::einval, v, not_bool);
            o.tsx = static_cast<int8_t>(r);
            return 0;
        }
        if ( int r = boolean(tok, "vpmu", &v); r != -1 )
        {
            if ( r == -2 )
                return fail(-err::einval, v, not_bool);
            o.vpmu = r;
            return 0;
        }
        if ( int r = boolean(tok, "hap", &v); r != -1 )
        {
            if ( r == -2 )
                return fail(-err::einval, v, not_bool);
            o.hap = r;
            return 0;
        }
        return fail(-err::einval, tok, not_option);
    }
};

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

} // namespace

int boot_options_parse(BootOptions &out, const char *s, BootOptionsError *err)
{
    BootOptions o;
    Parser ps{s, {}, {}};

    if ( s )
        for ( size_t i = 0; s[i]; )
        {
            if ( blank(s[i]) )
            {
                ++i;
                continue;
            }
            size_t start = i;
            while ( s[i] && !blank(s[i]) )
                ++i;
            ps.token = Span{s + start, i - start};
            if ( int rc = ps.option(ps.token, o) )
            {
                if ( err )
                    *err = ps.err;
                return rc;
            }
        }

    out = o;
    return 0;
}

Featureset boot_options_cleared_closure(const BootOptions &o)
{
    Featureset r = o.cpuid_clear;
    for ( uint32_t f : each(o.cpuid_clear) )
        if ( const Featureset *d = features::deep_deps(Feature{f}) )
            r |= *d;
    return r;
}

} // namespace cpupolicy
