// SPDX-License-Identifier: MIT
#include "live.hpp"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <memory>

#include "cpupolicy/featureset.hpp"
#include "cpupolicy/masking.hpp"
#include "printable.hpp"
#include "tool_print.hpp"
#include "decode.hpp"

namespace xcpuid {

namespace {

constexpr const char *kProg = "xen-cpuid";

struct PolicyFree {
    void operator()(cpupolicy_t *p) const { cpupolicy_free(p); }
};
using PolicyPtr = std::unique_ptr<cpupolicy_t, PolicyFree>;

// Policy indices (CPUPOLICY_RAW ... CPUPOLICY_HVM_DEFAULT): Xen's labels for -p, and
// the spellings `sys:NAME` accepts (those of the cpupolicy command's --index).
constexpr const char *kPolicyTitles[] = {"Raw", "Host", "PV Max", "HVM Max", "PV Default",
                                         "HVM Default"};
constexpr const char *kPolicyNames[] = {"raw", "host", "pv-max", "hvm-max", "pv-default",
                                        "hvm-default"};
static_assert(CPUPOLICY_RAW == 0 && CPUPOLICY_HOST == 1 && CPUPOLICY_PV_MAX == 2 &&
              CPUPOLICY_HVM_MAX == 3 && CPUPOLICY_PV_DEFAULT == 4 && CPUPOLICY_HVM_DEFAULT == 5,
              "kPolicyTitles follows Xen's XEN_SYSCTL_cpu_policy_* order");

// Featureset indices, Xen's order and labels (xen-cpuid's dynamic sets).
constexpr const char *kFeaturesetTitles[] = {"Raw", "Host", "PV Default", "HVM Default",
                                             "PV Max", "HVM Max"};
static_assert(CPUPOLICY_FEATURESET_RAW == 0 && CPUPOLICY_FEATURESET_HOST == 1 &&
              CPUPOLICY_FEATURESET_PV_DEFAULT == 2 && CPUPOLICY_FEATURESET_HVM_DEFAULT == 3 &&
              CPUPOLICY_FEATURESET_PV_MAX == 4 && CPUPOLICY_FEATURESET_HVM_MAX == 5,
              "kFeaturesetTitles follows Xen's XEN_SYSCTL_cpu_featureset_* order");

int query_failed(const char *what, int rc)
{
    fprintf(stderr, "%s: %s: %s\n", kProg, what, strerror(-rc));
    return kExitQuery;
}

using cpupolicy::tools::Serialised;
using cpupolicy::tools::serialise;

void print_leaf(const char *prefix, const cpupolicy_leaf_t &l)
{
    printf("%s%08" PRIx32 ":%08" PRIx32 " -> %08" PRIx32 ":%08" PRIx32 ":%08" PRIx32
           ":%08" PRIx32 "\n", prefix, l.leaf, l.subleaf, l.a, l.b, l.c, l.d);
}

using cpupolicy::tools::print_policy;

std::string feature_label(uint32_t f)
{
    if ( const char *n = cpupolicy_feature_name(f) )
        return n;
    return "<" + std::to_string(f) + ">";
}

// --- --diff operands ---------------------------------------------------------------------
struct Operand {
    std::string spec;
    PolicyPtr policy;             // set for a policy source
    std::vector<uint32_t> words;  // the featureset (of the policy, for a policy source)
};

bool parse_domid(const char *s, uint32_t *domid)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    // DOMID_FIRST_RESERVED (0x7ff0) and above are not domains (Xen's public xen.h).
    if ( !*s || *end || errno || v >= 0x7ff0 || *s == '-' )
        return false;
    *domid = static_cast<uint32_t>(v);
    return true;
}

// 0, or an exit status (the message printed).
int resolve(Connection &c, const char *spec, Operand &op)
{
    op.spec = spec;
    // An empty operand would reach cpupolicy_import_dump(""), which reads this machine's
    // CPU: a typo ("$UNSET_VAR") must not silently compare against it.
    if ( !*spec )
    {
        fprintf(stderr, "%s: --diff operand is empty: give a featureset, sys:NAME, "
                "dom:DOMID or a dump file\n", kProg);
        return kExitUsage;
    }
    const bool sys = !strncmp(spec, "sys:", 4), dom = !strncmp(spec, "dom:", 4);
    if ( sys || dom )
    {
        op.policy.reset(cpupolicy_alloc());
        if ( !op.policy )
            return query_failed("cpupolicy_alloc", -ENOMEM);
        unsigned idx = 0;
        uint32_t domid = 0;
        if ( sys )
        {
            while ( idx < 6 && strcmp(spec + 4, kPolicyNames[idx]) )
                ++idx;
            if ( idx == 6 )
            {
                fprintf(stderr, "%s: --diff operand '%s': unknown system policy (raw, host, "
                        "pv-max, hvm-max, pv-default, hvm-default)\n", kProg, spec);
                return kExitUsage;
            }
        }
        else if ( !parse_domid(spec + 4, &domid) )
        {
            fprintf(stderr, "%s: --diff operand '%s': bad domain id\n", kProg, spec);
            return kExitUsage;
        }
        cpupolicy_handle_t *h = c.open();
        if ( !h )
            return kExitUsage;
        int rc = sys ? cpupolicy_get_system_policy(h, idx, op.policy.get())
                     : cpupolicy_get_domain_policy(h, domid, op.policy.get());
        if ( rc )
        {
            std::string what = std::string("--diff operand '") + spec + "'";
            return query_failed(what.c_str(), rc);
        }
    }
    else
    {
        // Hex words (xen-cpuid's featureset form) first: no dump file is named like that.
        size_t n = 1;
        for ( const char *p = spec; *p; ++p )
            n += (*p == ':' || *p == '-');
        op.words.resize(n);
        uint32_t nr = 0;
        size_t bad = 0;
        if ( *spec && cpupolicy::parse_words(spec, op.words.data(), uint32_t(n), &nr, &bad) == 0 )
        {
            op.words.resize(nr);
            return 0;
        }
        op.words.clear();
        // Otherwise a CPUID dump: its raw policy (logical CPU 0).
        op.policy.reset(cpupolicy_alloc());
        if ( !op.policy )
            return query_failed("cpupolicy_alloc", -ENOMEM);
        if ( int rc = cpupolicy_import_dump(op.policy.get(), spec, 0) )
        {
            const char *msg = cpupolicy_last_error();
            fprintf(stderr, "%s: --diff operand '%s' is neither a featureset, sys:NAME, "
                    "dom:DOMID nor a readable dump: %s\n", kProg, spec,
                    *msg ? msg : strerror(-rc));
            return kExitUsage;
        }
    }
    uint32_t nr = cpupolicy_featureset_size();
    op.words.assign(nr, 0);
    if ( int rc = cpupolicy_policy_to_featureset(op.policy.get(), op.words.data(), &nr) )
        return query_failed("cpupolicy_policy_to_featureset", rc);
    op.words.resize(nr);
    return 0;
}

} // namespace

// --- Connection -------------------------------------------------------------------------
Connection::~Connection()
{
    cpupolicy_close(h_);
}

cpupolicy_handle_t *Connection::open()
{
    if ( h_ || tried_ )
        return h_;
    tried_ = true;
    int rc = cpupolicy_open(&h_, uri_.c_str());
    if ( rc )
    {
        // The library's message names what was wrong (the URI option, the boot option
        // and its offset, the dump's file and line); errno text would only add noise
        // ("No such file or directory" for an unknown feature name).
        const char *why = cpupolicy_last_error();
        fprintf(stderr, "%s: cannot connect to '%s': %s\n", kProg, cpupolicy::printable(uri_).c_str(),
                why && *why ? why : strerror(-rc));
        h_ = nullptr;
    }
    return h_;
}

// --- info / detail ----------------------------------------------------------------------
std::vector<DynamicSet> fetch_dynamic_sets(cpupolicy_handle_t *h)
{
    std::vector<DynamicSet> sets;
    for ( unsigned idx = 0; idx < 6; ++idx )
    {
        DynamicSet s{kFeaturesetTitles[idx], 0, {}};
        uint32_t nr = 0;
        s.rc = cpupolicy_get_featureset(h, idx, &nr, nullptr);
        if ( s.rc == 0 )
        {
            s.words.resize(nr);
            s.rc = cpupolicy_get_featureset(h, idx, &nr, s.words.data());
            s.words.resize(nr);
        }
        sets.push_back(std::move(s));
    }
    return sets;
}

// --- -p / --policy ----------------------------------------------------------------------
int mode_policy(Connection &c, long domid)
{
    cpupolicy_handle_t *h = c.open();
    if ( !h )
        return kExitUsage;
    PolicyPtr p(cpupolicy_alloc());
    if ( !p )
        return query_failed("cpupolicy_alloc", -ENOMEM);

    // Everything is read before anything is printed: a failure leaves no partial table.
    struct Block {
        std::string name;
        bool supported;
        Serialised s;
    };
    std::vector<Block> out;
    for ( unsigned idx = 0; idx < (domid < 0 ? 6u : 1u); ++idx )
    {
        int rc = domid < 0 ? cpupolicy_get_system_policy(h, idx, p.get())
                           : cpupolicy_get_domain_policy(h, uint32_t(domid), p.get());
        std::string name = domid < 0 ? kPolicyTitles[idx] : "Domain " + std::to_string(domid);
        if ( rc == -EOPNOTSUPP && domid < 0 )
        {
            out.push_back(Block{name, false, {}});
            continue;
        }
        Serialised s;
        if ( !rc )
            rc = serialise(p.get(), s);
        if ( rc )
        {
            std::string what = domid < 0 ? "system policy " + name
                                         : "policy of domain " + std::to_string(domid);
            return query_failed(what.c_str(), rc);
        }
        out.push_back(Block{name, true, std::move(s)});
    }
    for ( const Block &b : out )
    {
        if ( b.supported )
            print_policy(b.name.c_str(), b.s);
        else  // Xen's wording, for a hypervisor that does not offer this policy
            printf("%s policy not supported by the hypervisor\n", b.name.c_str());
    }
    return kExitOk;
}

// --- --masking --------------------------------------------------------------------------

int mode_masking(Connection &c)
{
    cpupolicy_handle_t *h = c.open();
    if ( !h )
        return kExitUsage;
    uint32_t caps = 0;
    if ( int rc = cpupolicy_get_levelling_caps(h, &caps) )
        return query_failed("levelling caps", rc);

    cpupolicy::tools::print_levelling_caps(caps);
    return kExitOk;
}

// --- --diff -----------------------------------------------------------------------------
int mode_diff(Connection &c, const char *a, const char *b)
{
    Operand A, B;
    if ( int rc = resolve(c, a, A) )
        return rc;
    if ( int rc = resolve(c, b, B) )
        return rc;

    const size_t nr = std::max(A.words.size(), B.words.size());
    A.words.resize(nr);
    B.words.resize(nr);
    std::string only_a, only_b;
    unsigned nr_a = 0, nr_b = 0;
    for ( size_t w = 0; w < nr; ++w )
        for ( unsigned bit = 0; bit < 32; ++bit )
        {
            const uint32_t m = 1u << bit, f = uint32_t(w * 32 + bit);
            if ( (A.words[w] & m) && !(B.words[w] & m) )
                only_a += " " + feature_label(f), ++nr_a;
            if ( (B.words[w] & m) && !(A.words[w] & m) )
                only_b += " " + feature_label(f), ++nr_b;
        }

    printf("A: %s (%s)\n", A.spec.c_str(), A.policy ? "policy" : "featureset");
    printf("B: %s (%s)\n", B.spec.c_str(), B.policy ? "policy" : "featureset");
    printf("Features only in A (%u):%s\n", nr_a, only_a.c_str());
    printf("Features only in B (%u):%s\n", nr_b, only_b.c_str());
    bool differ = nr_a || nr_b;

    if ( A.policy && B.policy )
    {
        Serialised sa, sb;
        if ( int rc = serialise(A.policy.get(), sa) )
            return query_failed("serialise A", rc);
        if ( int rc = serialise(B.policy.get(), sb) )
            return query_failed("serialise B", rc);

        // Merge by (leaf, subleaf); a leaf one side does not serialise reads as zeros
        // there (beyond its max leaf, as CPUID answers).
        auto key = [](const cpupolicy_leaf_t &l) { return (uint64_t(l.leaf) << 32) | l.subleaf; };
        std::vector<std::pair<const cpupolicy_leaf_t *, const cpupolicy_leaf_t *>> rows;
        size_t i = 0, j = 0;
        while ( i < sa.leaves.size() || j < sb.leaves.size() )
        {
            if ( j == sb.leaves.size() ||
                 (i < sa.leaves.size() && key(sa.leaves[i]) < key(sb.leaves[j])) )
                rows.emplace_back(&sa.leaves[i++], nullptr);
            else if ( i == sa.leaves.size() || key(sb.leaves[j]) < key(sa.leaves[i]) )
                rows.emplace_back(nullptr, &sb.leaves[j++]);
            else
                rows.emplace_back(&sa.leaves[i++], &sb.leaves[j++]);
        }
        std::vector<std::pair<cpupolicy_leaf_t, cpupolicy_leaf_t>> leaf_diffs;
        for ( const auto &[la, lb] : rows )
        {
            cpupolicy_leaf_t zero = la ? *la : *lb;
            zero.a = zero.b = zero.c = zero.d = 0;
            const cpupolicy_leaf_t &x = la ? *la : zero, &y = lb ? *lb : zero;
            if ( x.a != y.a || x.b != y.b || x.c != y.c || x.d != y.d )
                leaf_diffs.emplace_back(x, y);
        }
        // MSRs: both sides serialise the same fixed set (wire.hpp), matched by index.
        std::vector<std::pair<cpupolicy_msr_t, cpupolicy_msr_t>> msr_diffs;
        for ( const cpupolicy_msr_t &ma : sa.msrs )
            for ( const cpupolicy_msr_t &mb : sb.msrs )
                if ( ma.idx == mb.idx && ma.val != mb.val )
                    msr_diffs.emplace_back(ma, mb);

        // xen-cpuid -p's columns, one '-' row for A and one '+' row for B per difference.
        printf("Leaves that differ (%zu):\n", leaf_diffs.size());
        if ( !leaf_diffs.empty() )
            printf("  %-8s %-8s -> %-8s %-8s %-8s %-8s\n", "leaf", "subleaf", "eax", "ebx",
                   "ecx", "edx");
        for ( const auto &[x, y] : leaf_diffs )
        {
            print_leaf("- ", x);
            print_leaf("+ ", y);
        }
        printf("MSRs that differ (%zu):\n", msr_diffs.size());
        if ( !msr_diffs.empty() )
            printf("  %-8s -> %-16s\n", "index", "value");
        for ( const auto &[x, y] : msr_diffs )
        {
            printf("- %08" PRIx32 " -> %016" PRIx64 "\n", x.idx, x.val);
            printf("+ %08" PRIx32 " -> %016" PRIx64 "\n", y.idx, y.val);
        }
        differ = differ || !leaf_diffs.empty() || !msr_diffs.empty();
    }
    return differ ? kExitDiffer : kExitOk;
}

} // namespace xcpuid
