// SPDX-License-Identifier: MIT
// Everything derived from the one feature table (feature-table.hpp), at compile time:
// name tables, attribute masks, the dependency closure of every feature.  A misspelt
// name, a duplicate, or a dependency cycle stops the build here.
#pragma once

#include "cpupolicy/feature-table.hpp"
#include "cpupolicy/featureset.hpp"

namespace cpupolicy::features {

template <typename T, size_t N>
constexpr size_t countof(const T (&)[N]) { return N; }

static_assert(countof(table::words) == NR_FEATUREWORDS, "one WordInfo per featureset word");

inline constexpr unsigned nr_features = countof(table::features);
inline constexpr unsigned nr_edges = countof(table::deps);
inline constexpr unsigned nr_aliases = countof(table::aliases);

// --- Names ------------------------------------------------------------------------
// Names compare case-insensitively with '_' and '-' treated alike, so "SSE4_1",
// "sse4-1" and "sse4_1" are one name.
constexpr char fold(char c)
{
    if ( c >= 'A' && c <= 'Z' )
        return static_cast<char>(c - 'A' + 'a');
    return c == '_' ? '-' : c;
}
// <0, 0, >0 like strcmp, on folded characters; `blen` bounds b (SIZE_MAX: NUL-terminated).
constexpr int name_cmp(const char *a, const char *b, size_t blen = SIZE_MAX)
{
    size_t i = 0;
    for ( ; i < blen && b[i]; ++i )
    {
        char x = fold(a[i]), y = fold(b[i]);
        if ( x != y || !x )
            return x < y ? -1 : 1;
    }
    return a[i] ? 1 : 0;
}

// Reached only during constant evaluation when a name in an edge or alias does not
// exist: calling a non-constexpr function there is a compile error naming it.
void unknown_feature_name_in_table(const char *);

constexpr uint32_t feature_number(const FeatureInfo &f) { return f.word * 32u + f.bit; }

constexpr unsigned index_of_canonical(const char *name)
{
    for ( unsigned i = 0; i < nr_features; ++i )
        if ( name_cmp(table::features[i].name, name) == 0 )
            return i;
    unknown_feature_name_in_table(name);
    return 0;
}

// Dense table: feature number -> index into table::features, or 0xffff.
struct IndexByNumber {
    uint16_t idx[NR_FEATURE_BITS];
};
constexpr IndexByNumber make_index_by_number()
{
    IndexByNumber r{};
    for ( auto &i : r.idx )
        i = 0xffff;
    for ( unsigned i = 0; i < nr_features; ++i )
        r.idx[feature_number(table::features[i])] = static_cast<uint16_t>(i);
    return r;
}
inline constexpr IndexByNumber index_by_number = make_index_by_number();

constexpr const FeatureInfo *info(Feature f)
{
    if ( raw(f) >= NR_FEATURE_BITS || index_by_number.idx[raw(f)] == 0xffff )
        return nullptr;
    return &table::features[index_by_number.idx[raw(f)]];
}
constexpr const char *name(Feature f)
{
    const FeatureInfo *i = info(f);
    return i ? i->name : nullptr;
}

// All names and aliases in one array sorted by folded spelling, for binary search.
struct NameEntry {
    const char *name;
    uint16_t feature;
    bool canonical;
};
inline constexpr unsigned nr_names = nr_features + nr_aliases;
struct NameIndex {
    NameEntry e[nr_names];
};
constexpr NameIndex make_name_index()
{
    NameIndex r{};
    unsigned n = 0;
    for ( unsigned i = 0; i < nr_features; ++i )
        r.e[n++] = {table::features[i].name,
                    static_cast<uint16_t>(feature_number(table::features[i])), true};
    for ( unsigned i = 0; i < nr_aliases; ++i )
        r.e[n++] = {table::aliases[i].alias,
                    static_cast<uint16_t>(feature_number(
                        table::features[index_of_canonical(table::aliases[i].canonical)])),
                    false};
    for ( unsigned i = 1; i < n; ++i )  // insertion sort: ~500 entries, compile time only
        for ( unsigned j = i; j > 0 && name_cmp(r.e[j].name, r.e[j - 1].name) < 0; --j )
        {
            NameEntry t = r.e[j];
            r.e[j] = r.e[j - 1];
            r.e[j - 1] = t;
        }
    return r;
}
inline constexpr NameIndex name_index = make_name_index();

constexpr bool names_unique()
{
    for ( unsigned i = 1; i < nr_names; ++i )
        if ( name_cmp(name_index.e[i - 1].name, name_index.e[i].name) == 0 )
            return false;
    return true;
}
static_assert(names_unique(), "a canonical name or alias appears twice (after case/'_' folding)");

// Name (canonical or alias) -> feature number.  `len` bounds the name (SIZE_MAX: NUL
// terminated).  Returns false when unknown.
constexpr bool lookup(const char *nm, size_t len, uint32_t *feature)
{
    unsigned lo = 0, hi = nr_names;
    while ( lo < hi )
    {
        unsigned mid = (lo + hi) / 2;
        int c = name_cmp(name_index.e[mid].name, nm, len);
        if ( c == 0 )
        {
            *feature = name_index.e[mid].feature;
            return true;
        }
        if ( c < 0 )
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

// --- Attributes and masks ------------------------------------------------------------
constexpr bool has_attr(const FeatureInfo &f, char c)
{
    for ( const char *p = f.attrs; *p; ++p )
        if ( *p == c )
            return true;
    return false;
}
constexpr bool attrs_valid()
{
    for ( const auto &f : table::features )
        for ( const char *p = f.attrs; *p; ++p )
            switch ( *p ) {
            case 'A': case 'S': case 'H': case 'a': case 's': case 'h': case '!': case '|':
                break;
            default:
                return false;
            }
    return true;
}
static_assert(attrs_valid(), "unknown attribute letter in the feature table");

// Features carrying any of the attribute letters in `letters`.
constexpr Featureset mask_of(const char *letters)
{
    Featureset r;
    for ( const auto &f : table::features )
        for ( const char *l = letters; *l; ++l )
            if ( has_attr(f, *l) )
                r.set(Feature{feature_number(f)});
    return r;
}
constexpr Featureset all_known()
{
    Featureset r;
    for ( const auto &f : table::features )
        r.set(Feature{feature_number(f)});
    return r;
}

// Xen's derivation (xen/tools/gen-cpuid.py): pv_def = A; pv_max = A|a;
// hvm_shadow_def = pv_def|S; hvm_shadow_max = pv_max|S|s; hvm_hap_def =
// hvm_shadow_def|H; hvm_hap_max = hvm_shadow_max|H|h.
inline constexpr Featureset known = all_known();
inline constexpr Featureset special = mask_of("!");
inline constexpr Featureset or_mask = mask_of("|");
inline constexpr Featureset pv_def = mask_of("A");
inline constexpr Featureset pv_max = mask_of("Aa");
inline constexpr Featureset hvm_shadow_def = mask_of("AS");
inline constexpr Featureset hvm_shadow_max = mask_of("AaSs");
inline constexpr Featureset hvm_hap_def = mask_of("ASH");
inline constexpr Featureset hvm_hap_max = mask_of("AaSsHh");

// --- Dependencies ----------------------------------------------------------------------
// Edges resolved to feature numbers once, at compile time.
struct EdgeNumbers {
    uint16_t prereq[nr_edges];
    uint16_t dependent[nr_edges];
};
constexpr EdgeNumbers make_edge_numbers()
{
    EdgeNumbers r{};
    for ( unsigned e = 0; e < nr_edges; ++e )
    {
        r.prereq[e] = static_cast<uint16_t>(
            feature_number(table::features[index_of_canonical(table::deps[e].prereq)]));
        r.dependent[e] = static_cast<uint16_t>(
            feature_number(table::features[index_of_canonical(table::deps[e].dependent)]));
    }
    return r;
}
inline constexpr EdgeNumbers edge_numbers = make_edge_numbers();
constexpr uint32_t edge_prereq(unsigned e) { return edge_numbers.prereq[e]; }
constexpr uint32_t edge_dependent(unsigned e) { return edge_numbers.dependent[e]; }

// Features that are the prerequisite of at least one other.
constexpr Featureset make_deep_features()
{
    Featureset r;
    for ( unsigned e = 0; e < nr_edges; ++e )
        r.set(Feature{edge_prereq(e)});
    return r;
}
inline constexpr Featureset deep_features = make_deep_features();
inline constexpr unsigned nr_deep = deep_features.count();

// For each feature in deep_features (in increasing number order): the transitive closure
// of features that must be cleared when it is cleared.
struct DeepDeps {
    uint16_t feature[nr_deep];
    Featureset deps[nr_deep];
};
constexpr DeepDeps make_deep_deps()
{
    DeepDeps r{};
    unsigned n = 0;
    for ( uint32_t f : each(deep_features) )
    {
        Featureset closure, frontier;
        frontier.set(Feature{f});
        // Breadth-first over the edges; at most one round per feature.
        for ( unsigned round = 0; round < nr_features && !frontier.empty(); ++round )
        {
            Featureset next;
            for ( unsigned e = 0; e < nr_edges; ++e )
                if ( frontier.test(Feature{edge_prereq(e)}) )
                    next.set(Feature{edge_dependent(e)});
            next = next.and_not(closure);
            closure |= next;
            frontier = next;
        }
        r.feature[n] = static_cast<uint16_t>(f);
        r.deps[n] = closure;
        ++n;
    }
    return r;
}
inline constexpr DeepDeps deep_deps_table = make_deep_deps();

constexpr bool acyclic()
{
    for ( unsigned i = 0; i < nr_deep; ++i )
        if ( deep_deps_table.deps[i].test(Feature{deep_deps_table.feature[i]}) )
            return false;
    return true;
}
static_assert(acyclic(), "dependency cycle in the feature table");

// Row of `f` in deep_deps_table, or nr_deep when nothing depends on it.  Compile-time
// code tests this index rather than deep_deps() against nullptr: GCC does not fold
// `&object != nullptr` in a constant expression under -fno-delete-null-pointer-checks,
// which -fsanitize=null (part of -fsanitize=undefined) implies (docs/robustness.md).
constexpr unsigned deep_deps_row(Feature f)
{
    unsigned lo = 0, hi = nr_deep;
    while ( lo < hi )
    {
        unsigned mid = (lo + hi) / 2;
        if ( deep_deps_table.feature[mid] == raw(f) )
            return mid;
        if ( deep_deps_table.feature[mid] < raw(f) )
            lo = mid + 1;
        else
            hi = mid;
    }
    return nr_deep;
}

// Closure of dependents of `f`, or nullptr when nothing depends on it.
constexpr const Featureset *deep_deps(Feature f)
{
    unsigned row = deep_deps_row(f);
    return row < nr_deep ? &deep_deps_table.deps[row] : nullptr;
}

// Direct prerequisites of `f` (for --list and docs).
constexpr Featureset prereqs(Feature f)
{
    Featureset r;
    for ( unsigned e = 0; e < nr_edges; ++e )
        if ( edge_dependent(e) == raw(f) )
            r.set(Feature{edge_prereq(e)});
    return r;
}

// --- Properties the compiler proves -------------------------------------------------------
static_assert(pv_def.subset_of(pv_max));
static_assert(pv_max.subset_of(hvm_shadow_max));
static_assert(hvm_shadow_def.subset_of(hvm_shadow_max));
static_assert(hvm_shadow_max.subset_of(hvm_hap_max));
static_assert(hvm_hap_def.subset_of(hvm_hap_max));
static_assert(pv_def.subset_of(hvm_shadow_def) && hvm_shadow_def.subset_of(hvm_hap_def));
static_assert(hvm_hap_max.subset_of(known) && special.subset_of(known));

// Every closure is closed: whatever depends on a member of closure(f) is in closure(f).
constexpr bool closures_closed()
{
    for ( unsigned i = 0; i < nr_deep; ++i )
        for ( uint32_t g : each(deep_deps_table.deps[i]) )
            if ( unsigned row = deep_deps_row(Feature{g}); row < nr_deep )
                if ( !deep_deps_table.deps[row].subset_of(deep_deps_table.deps[i]) )
                    return false;
    return true;
}
static_assert(closures_closed());

// A feature's default/max masks never offer a dependent whose prerequisite the same mask
// withholds (otherwise a default guest would fail its own verification).
constexpr bool mask_respects_deps(const Featureset &m)
{
    for ( unsigned e = 0; e < nr_edges; ++e )
        if ( m.test(Feature{edge_dependent(e)}) && !m.test(Feature{edge_prereq(e)}) &&
             !special.test(Feature{edge_prereq(e)}) )
            return false;
    return true;
}
// The HVM masks hold it.  The PV masks do not, by the reference table: epsf ('A') needs
// psfd ('S', HVM only); a PV policy is sanitised on the way, and test_featureset pins
// that exception so a table change is noticed.
static_assert(mask_respects_deps(hvm_shadow_def) && mask_respects_deps(hvm_shadow_max) &&
              mask_respects_deps(hvm_hap_def) && mask_respects_deps(hvm_hap_max));

} // namespace cpupolicy::features

namespace cpupolicy {

// Feature number of a canonical feature name, at compile time only: a misspelt name is
// a build error (index_of_canonical reaches a non-constexpr function).  The one way the
// core names a feature in code.
consteval Feature feature_named(const char *name)
{
    return Feature{features::feature_number(
        table::features[features::index_of_canonical(name)])};
}
// Its bit within its featureset word.
constexpr uint32_t word_bit(Feature f) { return 1u << (raw(f) % 32); }

namespace features {

// Leaf 1 EDX features AMD mirrors into 0x80000001 EDX (APM vol. 3 appendix E,
// Fn8000_0001_EDX: "same as CPUID Fn0000_0001_EDX" for FPU..APIC, MTRR..PSE36, MMX,
// FXSR).  Xen calls them CPUID_COMMON_1D_FEATURES and re-derives the mirror from leaf 1
// for every AMD/Hygon policy (xen/arch/x86/cpu-policy.c, recalculate_misc()); the table
// does not list them in word 2, so they are rules, not features, there.
inline constexpr const char *common_1d_names[] = {
    "fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic",
    "mtrr", "pge", "mca", "cmov", "pat", "pse36", "mmx", "fxsr",
};
consteval uint32_t make_common_1d()
{
    uint32_t m = 0;
    for ( const char *n : common_1d_names )
    {
        Feature f = feature_named(n);
        if ( raw(f) / 32 != 0 )  // leaf 1 EDX is word 0
            unknown_feature_name_in_table(n);
        m |= word_bit(f);
    }
    return m;
}
inline constexpr uint32_t COMMON_1D = make_common_1d();
static_assert(COMMON_1D == 0x0183f3ffu, "APM: bits 0-9, 12-17, 23, 24");
static_assert(table::words[0].src.leaf == 0x1_leaf && table::words[0].src.reg == Reg::edx &&
              table::words[2].src.leaf == 0x80000001_leaf && table::words[2].src.reg == Reg::edx);

// Features that say "this CPU may behave worse", not "this CPU can do more": RSBA
// (MSR_ARCH_CAPABILITIES bit 2, "RSB Alternative": an empty RSB may fall back to other
// predictors, so retpoline is not safe) and RRSBA (bit 19: the same, restricted to the
// current prediction mode while eIBRS is on).  A guest may run on any host of its pool,
// so it must be told if any of them behaves so: levelling ORs them, and a guest told
// so may run on a host that behaves better.  Source: Xen, xen/arch/x86/cpu-policy.c
// guest_common_max_feature_adjustments() - RSBA/RRSBA "need to be visible to a guest in
// all cases, even when it's only some other server in the pool which suffers the
// identified behaviour" (commit "x86/cpu-policy: Derive RSBA/RRSBA for guest policies",
// June 2023) - after Intel's definitions of the bits (Intel, "Retpoline: A Branch Target
// Injection Mitigation" and "Branch History Injection and Intra-mode Branch Target
// Injection" guidance).  Xen's table does not mark them '|', and ours is held to Xen's
// letters, so the rule is this list.
inline constexpr const char *worse_behaviour_names[] = {"rsba", "rrsba"};
consteval Featureset make_worse_behaviour()
{
    Featureset r;
    for ( const char *n : worse_behaviour_names )
        r.set(feature_named(n));
    return r;
}
inline constexpr Featureset worse_behaviour = make_worse_behaviour();
// What a pool offers when any one host has it: the '|' features and the worse-behaviour
// ones.  Never a reason for incompatibility (compat.hpp).
inline constexpr Featureset pool_any = or_mask | worse_behaviour;

} // namespace features

// --- Dependency rules on featuresets ---------------------------------------------------
// Two questions, one word each: check_deps (are fs's own prerequisites present?) and
// fits_max (does fs fit a max featureset, prerequisites included?).
// 0 when every present feature has all its prerequisites; otherwise -EINVAL and
// *bad_feature = the lowest-numbered feature present without one.  Unknown bits are
// not judged here (see featureset_sanitise / the known mask).
CPUPOLICY_MUST_CHECK int featureset_check_deps(const Featureset &fs, uint32_t *bad_feature);
// The rule of the fits-max hypercall (Hypervisor::featureset_fits_max): could a guest
// whose max featureset is `offered` be given fs?  0, or -EINVAL and *bad_feature (may be NULL) = the
// lowest-numbered feature of fs that `offered` lacks or whose prerequisite fs lacks.
// Shared by the hypervisor and by backends that apply it to a featureset read from a
// real Xen, so every backend answers alike.
CPUPOLICY_MUST_CHECK int featureset_fits_max(const Featureset &fs, const Featureset &offered,
                                                uint32_t *bad_feature);
// The missing prerequisite of `feature` in fs (for messages), or NR_FEATURE_BITS.
uint32_t featureset_missing_prereq(const Featureset &fs, uint32_t feature);
// Clear unknown bits, then clear the closure of every absent prerequisite.
void featureset_sanitise(Featureset &fs);
// The RSBA rule, on a sanitised featureset, for a guest that may run where RSBA or RRSBA
// hold (`any_host_has`): such a guest that sees MSR_ARCH_CAPABILITIES and has neither
// bit is told one - RRSBA when it sees eIBRS, else RSBA (Xen's
// calculate_{pv,hvm}_def_policy(); RRSBA means nothing without eIBRS, so a levelled
// guest whose RRSBA went with eIBRS gets RSBA).  Bits it already has stay.
void featureset_tell_worse_behaviour(Featureset &fs, bool any_host_has);

} // namespace cpupolicy
