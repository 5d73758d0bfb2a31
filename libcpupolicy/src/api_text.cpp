// SPDX-License-Identifier: MIT
// Text forms of cpupolicy_toolstack.h: featuresets in xen-cpuid form, and the policy
// text that round-trips exactly (what the store keeps).
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cpupolicy/featureset.hpp"
#include "tool_print.hpp"
#include "toolstack.hpp"

using namespace cpupolicy;
using cpupolicy::abi::ErrnoGuard;

namespace cpupolicy::ts {

namespace {

void set_err(cpupolicy_parse_error_t *e, uint32_t line, uint32_t col, const std::string &what)
{
    if ( !e )
        return;
    e->line = line;
    e->column = col;
    snprintf(e->what, sizeof(e->what), "%s", what.c_str());
}

int copy_out(const std::string &s, char *buf, size_t *len)
{
    const size_t need = s.size() + 1;
    if ( !buf )
    {
        *len = need;
        return 0;
    }
    if ( *len < need )
    {
        *len = need;
        return -ENOBUFS;
    }
    memcpy(buf, s.c_str(), need);
    *len = need;
    return 0;
}

// Parse exactly `n` hex digits' worth of a word (1..max digits) at s; returns the
// number of characters used, 0 when there is no hex digit.
size_t hex(const char *s, size_t max, uint64_t &v)
{
    size_t i = 0;
    v = 0;
    for ( ; i < max; ++i )
    {
        char c = s[i];
        unsigned d;
        if ( c >= '0' && c <= '9' )
            d = unsigned(c - '0');
        else if ( c >= 'a' && c <= 'f' )
            d = unsigned(c - 'a' + 10);
        else if ( c >= 'A' && c <= 'F' )
            d = unsigned(c - 'A' + 10);
        else
            break;
        v = v << 4 | d;
    }
    return i;
}

} // namespace

std::vector<uint32_t> featureset_of(const cpupolicy_t *p)
{
    uint32_t nr = cpupolicy_featureset_size();
    std::vector<uint32_t> fs(nr);
    if ( cpupolicy_policy_to_featureset(p, fs.data(), &nr) )
        fs.assign(fs.size(), 0);
    return fs;
}

std::string featureset_text(const std::vector<uint32_t> &fs) { return tools::featureset_hex(fs); }

std::vector<std::string> feature_names(const std::vector<uint32_t> &fs)
{
    return tools::feature_name_list(fs);
}

std::string vendor_of(const cpupolicy_t *p) { return tools::vendor_of(p); }

void signature_of(const cpupolicy_t *p, uint32_t *family, uint32_t *model, uint32_t *stepping)
{
    cpupolicy_leaf_t l1{};
    if ( cpupolicy_get_cpuid(p, 1, CPUPOLICY_NO_SUBLEAF, &l1) )
        l1 = cpupolicy_leaf_t{};
    uint32_t fam = (l1.a >> 8) & 0xf, mod = (l1.a >> 4) & 0xf;
    if ( fam == 0xf )
        fam += (l1.a >> 20) & 0xff;
    if ( fam == 0x6 || fam >= 0xf )
        mod |= ((l1.a >> 16) & 0xf) << 4;
    *family = fam;
    *model = mod;
    *stepping = l1.a & 0xf;
}

int policy_to_text(const cpupolicy_t *p, std::string &out)
{
    uint32_t nl = 0, nm = 0;
    if ( int rc = cpupolicy_serialise(p, nullptr, &nl, nullptr, &nm) )
        return rc;
    std::vector<cpupolicy_leaf_t> leaves(nl);
    std::vector<cpupolicy_msr_t> msrs(nm);
    if ( int rc = cpupolicy_serialise(p, leaves.data(), &nl, msrs.data(), &nm) )
        return rc;
    std::string s = "cpupolicy-policy 1\n";
    s.reserve(s.size() + nl * 64 + nm * 32);
    char line[96];
    for ( uint32_t i = 0; i < nl; ++i )
    {
        const cpupolicy_leaf_t &l = leaves[i];
        snprintf(line, sizeof(line),
                 "cpuid %08" PRIx32 ":%08" PRIx32 " %08" PRIx32 ":%08" PRIx32 ":%08" PRIx32
                 ":%08" PRIx32 "\n", l.leaf, l.subleaf, l.a, l.b, l.c, l.d);
        s += line;
    }
    for ( uint32_t i = 0; i < nm; ++i )
    {
        snprintf(line, sizeof(line), "msr %08" PRIx32 " %016" PRIx64 "\n", msrs[i].idx, msrs[i].val);
        s += line;
    }
    out = std::move(s);
    return 0;
}

namespace {

// Parse one line's hex fields: "WORD:WORD..." with exactly `n` fields of up to
// `digits` digits.  On error, *col is the 1-based column of the offending character.
bool fields(const std::string &l, size_t &pos, unsigned n, size_t digits, char sep,
            uint64_t *out, uint32_t *col, std::string &what)
{
    for ( unsigned i = 0; i < n; ++i )
    {
        if ( i && l[pos] != sep )
        {
            *col = static_cast<uint32_t>(pos + 1);
            what = std::string("expected '") + sep + "'";
            return false;
        }
        if ( i )
            ++pos;
        size_t used = hex(l.c_str() + pos, digits, out[i]);
        if ( !used )
        {
            *col = static_cast<uint32_t>(pos + 1);
            what = "expected a hex number of up to " + std::to_string(digits) + " digits";
            return false;
        }
        pos += used;
    }
    return true;
}

} // namespace

int policy_from_text(cpupolicy_t *p, const std::string &text, std::string *why)
{
    cpupolicy_parse_error_t e{};
    std::vector<cpupolicy_leaf_t> leaves;
    std::vector<cpupolicy_msr_t> msrs;
    uint32_t lineno = 0;
    bool versioned = false;
    size_t start = 0;
    auto bad = [&](uint32_t col, const std::string &what) {
        if ( why )
            *why = "line " + std::to_string(lineno) + ", column " + std::to_string(col) + ": " + what;
        return -EINVAL;
    };
    while ( start < text.size() )
    {
        size_t end = text.find('\n', start);
        if ( end == std::string::npos )
            end = text.size();
        std::string l = text.substr(start, end - start);
        start = end + 1;
        ++lineno;
        if ( !l.empty() && l.back() == '\r' )
            l.pop_back();
        if ( l.empty() || l[0] == '#' )
            continue;
        if ( !versioned )
        {
            if ( l != "cpupolicy-policy 1" )
                return bad(1, "expected the version line 'cpupolicy-policy 1', found '" + l + "'");
            versioned = true;
            continue;
        }
        uint64_t v[6];
        uint32_t col = 0;
        std::string what;
        size_t pos;
        if ( l.rfind("cpuid ", 0) == 0 )
        {
            pos = 6;
            if ( !fields(l, pos, 2, 8, ':', v, &col, what) )
                return bad(col, what + " in the leaf:subleaf");
            if ( l[pos] != ' ' )
                return bad(uint32_t(pos + 1), "expected ' ' after leaf:subleaf");
            ++pos;
            if ( !fields(l, pos, 4, 8, ':', v + 2, &col, what) )
                return bad(col, what + " in eax:ebx:ecx:edx");
            if ( pos != l.size() )
                return bad(uint32_t(pos + 1), "unexpected text after edx");
            leaves.push_back(cpupolicy_leaf_t{uint32_t(v[0]), uint32_t(v[1]), uint32_t(v[2]),
                                              uint32_t(v[3]), uint32_t(v[4]), uint32_t(v[5])});
        }
        else if ( l.rfind("msr ", 0) == 0 )
        {
            pos = 4;
            if ( !fields(l, pos, 1, 8, ':', v, &col, what) )
                return bad(col, what + " for the MSR index");
            if ( l[pos] != ' ' )
                return bad(uint32_t(pos + 1), "expected ' ' after the MSR index");
            ++pos;
            if ( !fields(l, pos, 1, 16, ':', v + 1, &col, what) )
                return bad(col, what + " for the MSR value");
            if ( pos != l.size() )
                return bad(uint32_t(pos + 1), "unexpected text after the MSR value");
            msrs.push_back(cpupolicy_msr_t{uint32_t(v[0]), 0, v[1]});
        }
        else
            return bad(1, "expected 'cpuid' or 'msr', found '" + l.substr(0, l.find(' ')) + "'");
    }
    if ( !versioned )
        return bad(1, "empty: expected the version line 'cpupolicy-policy 1'");
    PolicyPtr tmp = new_policy();
    if ( !tmp )
        return -ENOMEM;
    cpupolicy_err_t err;
    int rc = cpupolicy_update_cpuid(tmp.get(), leaves.data(), uint32_t(leaves.size()), &err);
    if ( rc == 0 )
        rc = cpupolicy_update_msrs(tmp.get(), msrs.data(), uint32_t(msrs.size()), &err);
    if ( rc )
    {
        // Name the entry: find its line again.
        char key[40];
        if ( err.msr != ~0u )
            snprintf(key, sizeof(key), "msr %08" PRIx32 " ", err.msr);
        else
            snprintf(key, sizeof(key), "cpuid %08" PRIx32 ":%08" PRIx32 " ", err.leaf, err.subleaf);
        size_t at = text.find(key);
        lineno = 0;
        if ( at != std::string::npos )
            for ( size_t i = 0; i <= at; ++i )
                lineno += i == 0 || text[i - 1] == '\n';
        std::string what = rc == -ERANGE ? "a leaf/subleaf or MSR the policy does not hold"
                           : rc == -EINVAL ? "given twice, or bad MSR flags"
                           : rc == -EOVERFLOW ? "value too wide for the MSR"
                                               : strerror(-rc);
        return bad(1, std::string(key) + ": " + what);
    }
    (void)e;
    *p = *tmp;
    return 0;
}

} // namespace cpupolicy::ts

using namespace cpupolicy::ts;

static int impl_cpupolicy_featureset_parse(const char *text, uint32_t *fs, uint32_t *nr,
                                                cpupolicy_parse_error_t *err)
{
    ErrnoGuard g;
    if ( err )
        *err = cpupolicy_parse_error_t{};
    if ( !text || !fs || !nr )
        return -EINVAL;
    std::vector<uint32_t> words(*nr ? *nr : 1);
    uint32_t got = 0;
    size_t bad = 0;
    int rc = parse_words(text, words.data(), *nr, &got, &bad);
    if ( rc == -EINVAL )
    {
        char c = text[bad];
        set_err(err, 1, uint32_t(bad + 1),
                c ? std::string("unexpected '") + c + "': expected a hex digit or ':'"
                  : "unexpected end: expected a hex word (1-8 digits)");
        return -EINVAL;
    }
    if ( rc == -E2BIG )
    {
        set_err(err, 1, 1, "more than " + std::to_string(*nr) + " words");
        return -ENOBUFS;
    }
    if ( rc )
        return rc;
    std::copy(words.begin(), words.begin() + got, fs);
    *nr = got;
    return 0;
}

static int impl_cpupolicy_featureset_format(const uint32_t *fs, uint32_t nr, char *buf,
                                                 size_t *len)
{
    ErrnoGuard g;
    if ( (!fs && nr) || !len )
        return -EINVAL;
    return copy_out(featureset_text(std::vector<uint32_t>(fs, fs + nr)), buf, len);
}

static int impl_cpupolicy_policy_format_text(const cpupolicy_t *p, char *buf, size_t *len)
{
    ErrnoGuard g;
    if ( !p || !len )
        return -EINVAL;
    std::string s;
    if ( int rc = policy_to_text(p, s) )
        return rc;
    return copy_out(s, buf, len);
}

static int impl_cpupolicy_policy_parse_text(cpupolicy_t *p, const char *text,
                                                 cpupolicy_parse_error_t *err)
{
    ErrnoGuard g;
    if ( err )
        *err = cpupolicy_parse_error_t{};
    if ( !p || !text )
        return -EINVAL;
    std::string why;
    int rc = policy_from_text(p, text, &why);
    if ( rc == -EINVAL && err )
    {
        // why = "line L, column C: what"
        unsigned line = 0, col = 0;
        int n = 0;
        sscanf(why.c_str(), "line %u, column %u: %n", &line, &col, &n);
        set_err(err, line, col, n > 0 ? why.substr(size_t(n)) : why);
    }
    return rc;
}

// --- ABI boundary: noexcept, cpupolicy_last_error() (api.hpp, Call) ---------------------

CPUPOLICY_EXPORT int cpupolicy_featureset_parse(const char *text, uint32_t *fs, uint32_t *nr,
                                                cpupolicy_parse_error_t *err) noexcept
{
    abi::Call c("cpupolicy_featureset_parse");
    return c.done(impl_cpupolicy_featureset_parse(text, fs, nr, err));
}

CPUPOLICY_EXPORT int cpupolicy_featureset_format(const uint32_t *fs, uint32_t nr, char *buf,
                                                 size_t *len) noexcept
{
    abi::Call c("cpupolicy_featureset_format");
    return c.done(impl_cpupolicy_featureset_format(fs, nr, buf, len));
}

CPUPOLICY_EXPORT int cpupolicy_policy_format_text(const cpupolicy_t *p, char *buf, size_t *len) noexcept
{
    abi::Call c("cpupolicy_policy_format_text");
    return c.done(impl_cpupolicy_policy_format_text(p, buf, len));
}

CPUPOLICY_EXPORT int cpupolicy_policy_parse_text(cpupolicy_t *p, const char *text,
                                                 cpupolicy_parse_error_t *err) noexcept
{
    abi::Call c("cpupolicy_policy_parse_text");
    return c.done(impl_cpupolicy_policy_parse_text(p, text, err));
}
