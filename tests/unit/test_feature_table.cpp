// SPDX-License-Identifier: MIT
// The one feature table (feature-table.hpp) and everything derived from it agree with the
// reference facts in shared/reference/features.tsv and deps.tsv: name for name, attribute
// for attribute, edge for edge.
//
// Expected values are computed here, from the TSV files, by code that shares nothing
// with the code under test: the masks from the attribute letters, the closures by a
// plain graph walk over deps.tsv.  Only then are they compared with the derived tables
// and with what the C ABI hands out.
//
// Reference directory: $CPUPOLICY_REFERENCE, else $CPUPOLICY_DUMPS/../reference, else
// tests/data/reference (relative to the repo root, where tests run).  Missing reference
// files are a failure, not a skip.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cpupolicy.h"
#include "fixture.hpp"

using namespace cpupolicy;
using namespace fixture;

namespace {

// --- The reference, read independently -------------------------------------------------
struct RefFeature {
    uint32_t number, word, bit;
    std::string name, attrs;
};
struct Reference {
    std::vector<RefFeature> features;
    std::map<std::string, RefFeature> by_name;
    std::map<uint32_t, RefFeature> by_number;
    std::vector<std::pair<std::string, std::string>> edges;  // prerequisite, dependent
    bool ok = false;
};

std::string reference_dir()
{
    if ( const char *r = std::getenv("CPUPOLICY_REFERENCE") )
        return r;
    if ( const char *d = std::getenv("CPUPOLICY_DUMPS") )
        return std::string(d) + "/../reference";
    return "tests/data/reference";
}

std::vector<std::vector<std::string>> read_tsv(const std::string &path)
{
    std::vector<std::vector<std::string>> rows;
    std::ifstream in(path);
    std::string line;
    bool header = true;
    while ( std::getline(in, line) )
    {
        if ( !line.empty() && line.back() == '\r' )
            line.pop_back();
        if ( header )  // first line names the columns
        {
            header = false;
            continue;
        }
        if ( line.empty() )
            continue;
        std::vector<std::string> cols;
        size_t start = 0, tab;
        while ( (tab = line.find('\t', start)) != std::string::npos )
        {
            cols.push_back(line.substr(start, tab - start));
            start = tab + 1;
        }
        cols.push_back(line.substr(start));
        rows.push_back(cols);
    }
    return rows;
}

Reference load_reference()
{
    Reference ref;
    std::string dir = reference_dir();
    auto frows = read_tsv(dir + "/features.tsv");
    auto drows = read_tsv(dir + "/deps.tsv");
    if ( frows.empty() || drows.empty() )
    {
        std::printf("FAIL cannot read %s/features.tsv and deps.tsv\n", dir.c_str());
        return ref;
    }
    for ( const auto &r : frows )
    {
        if ( r.size() < 4 )
            continue;
        RefFeature f{uint32_t(std::stoul(r[0])), uint32_t(std::stoul(r[1])),
                     uint32_t(std::stoul(r[2])), r[3], r.size() > 4 ? r[4] : ""};
        ref.features.push_back(f);
        ref.by_name[f.name] = f;
        ref.by_number[f.number] = f;
    }
    for ( const auto &r : drows )
        if ( r.size() >= 2 )
            ref.edges.emplace_back(r[0], r[1]);
    ref.ok = true;
    return ref;
}

const Reference &ref()
{
    static const Reference r = load_reference();
    return r;
}

std::string sorted(std::string s)
{
    std::sort(s.begin(), s.end());
    return s;
}
std::string word_hex(uint32_t v)
{
    char b[16];
    std::snprintf(b, sizeof(b), "%08x", v);
    return b;
}

// Closure of dependents over the reference edges, by breadth-first walk.
std::set<std::string> ref_closure(const std::string &feature)
{
    std::set<std::string> seen;
    std::vector<std::string> todo{feature};
    while ( !todo.empty() )
    {
        std::string f = todo.back();
        todo.pop_back();
        for ( const auto &[pre, dep] : ref().edges )
            if ( pre == f && seen.insert(dep).second )
                todo.push_back(dep);
    }
    return seen;
}

std::set<std::string> names_in(const Featureset &fs)
{
    std::set<std::string> r;
    for ( uint32_t f : each(fs) )
        r.insert(features::name(Feature{f}) ? features::name(Feature{f}) : std::to_string(f));
    return r;
}
std::string join(const std::set<std::string> &s)
{
    std::string r;
    for ( const auto &x : s )
        r += (r.empty() ? "" : " ") + x;
    return r.empty() ? "(none)" : r;
}

// --- Tests --------------------------------------------------------------------------------
void reference_files_are_readable_and_sized_as_documented()
{
    expect("reference loaded from " + reference_dir(), ref().ok);
    expect_eq("rows of features.tsv", 287u, ref().features.size());
    expect_eq("rows of deps.tsv", 143u, ref().edges.size());
    for ( const auto &f : ref().features )
        expect_eq("features.tsv " + f.name + ": feature == word*32+bit", f.word * 32 + f.bit,
                  f.number);
}

void every_reference_feature_is_in_the_table_with_same_number_name_and_attrs()
{
    for ( const auto &rf : ref().features )
    {
        const FeatureInfo *fi = features::info(Feature{rf.number});
        if ( !expect("feature " + std::to_string(rf.number) + " (" + rf.name + ") is in the table",
                     fi != nullptr) )
            continue;
        expect_eq("name of feature " + std::to_string(rf.number), rf.name, std::string(fi->name));
        expect_eq("word of " + rf.name, rf.word, unsigned(fi->word));
        expect_eq("bit of " + rf.name, rf.bit, unsigned(fi->bit));
        // Letter order carries no meaning ("!A" == "A!"); the set of letters does.
        expect_eq("attrs of " + rf.name, sorted(rf.attrs), sorted(fi->attrs));
    }
}

void table_has_nothing_the_reference_lacks_and_no_duplicate_numbers()
{
    expect_eq("features in the table", ref().features.size(), size_t(features::nr_features));
    std::set<uint32_t> numbers;
    for ( const auto &f : table::features )
    {
        uint32_t n = features::feature_number(f);
        expect("table feature " + std::string(f.name) + " is in features.tsv",
               ref().by_name.count(f.name) == 1);
        expect("feature number " + std::to_string(n) + " (" + f.name + ") appears once",
               numbers.insert(n).second);
        // Xen writes MSR_ARCH_CAPS bits as 16*32+bit with bit up to 63, so only the
        // feature number, not the bit column, is bounded by the featureset.
        expect("feature " + std::string(f.name) + " fits the featureset", n < NR_FEATURE_BITS);
    }
}

void every_number_names_the_reference_feature_or_nothing()
{
    for ( uint32_t n = 0; n < NR_FEATURE_BITS + 64; ++n )
    {
        auto it = ref().by_number.find(n);
        const char *actual = features::name(Feature{n});
        expect_eq("name(" + std::to_string(n) + ")",
                  it == ref().by_number.end() ? std::string("(null)") : it->second.name,
                  std::string(actual ? actual : "(null)"));
        // And the public ABI says the same.
        const char *c = cpupolicy_feature_name(n);
        expect_eq("cpupolicy_feature_name(" + std::to_string(n) + ")",
                  std::string(actual ? actual : "(null)"), std::string(c ? c : "(null)"));
    }
}

void every_reference_edge_is_in_the_table_once_and_no_other()
{
    std::map<std::pair<std::string, std::string>, int> table_edges;
    for ( const auto &e : table::deps )
        ++table_edges[{e.prereq, e.dependent}];
    expect_eq("edges in the table", ref().edges.size(), size_t(features::nr_edges));
    for ( const auto &e : ref().edges )
        expect_eq("table count of edge " + e.first + " -> " + e.second, 1, table_edges[e]);
    std::set<std::pair<std::string, std::string>> ref_edges(ref().edges.begin(), ref().edges.end());
    for ( const auto &e : table::deps )
        expect("table edge " + std::string(e.prereq) + " -> " + e.dependent + " is in deps.tsv",
               ref_edges.count({e.prereq, e.dependent}) == 1);
}

void every_edge_has_a_one_line_reason()
{
    for ( const auto &e : table::deps )
    {
        std::string edge = std::string(e.prereq) + " -> " + e.dependent;
        std::string why = e.why ? e.why : "";
        expect("reason of " + edge + " is non-empty", why.find_first_not_of(" \t") != std::string::npos);
        expect("reason of " + edge + " is one line", why.find_first_of("\n\r\t") == std::string::npos);
        // A reason that only restates the two names explains nothing.
        expect("reason of " + edge + " says more than the names",
               why.size() > std::string(e.prereq).size() + std::string(e.dependent).size() + 4);
    }
}

void edges_resolve_to_the_reference_numbers()
{
    for ( unsigned e = 0; e < features::nr_edges; ++e )
    {
        std::string pre = table::deps[e].prereq, dep = table::deps[e].dependent;
        expect_eq("number of prerequisite " + pre, ref().by_name.at(pre).number,
                  features::edge_prereq(e));
        expect_eq("number of dependent " + dep, ref().by_name.at(dep).number,
                  features::edge_dependent(e));
    }
}

void arch_caps_is_the_prerequisite_of_every_feature_in_words_16_and_17()
{
    for ( const auto &f : ref().features )
        if ( f.word == 16 || f.word == 17 )
        {
            bool found = false;
            for ( const auto &e : ref().edges )
                found |= e.first == "arch-caps" && e.second == f.name;
            expect("deps.tsv has arch-caps -> " + f.name, found);
            expect("table prereqs(" + f.name + ") holds arch-caps",
                   features::prereqs(Feature{f.number}).test(
                       Feature{ref().by_name.at("arch-caps").number}));
        }
}

// Masks from the attribute letters, computed here from the TSV.
Featureset ref_mask(const std::string &letters, bool all = false)
{
    Featureset m;
    for ( const auto &f : ref().features )
        if ( all || f.attrs.find_first_of(letters) != std::string::npos )
            m.w[f.number / 32] |= 1u << (f.number % 32);
    return m;
}

void masks_equal_what_the_attribute_letters_say()
{
    struct {
        const char *name;
        Featureset expected;
        const Featureset &derived;
        int abi;  // CPUPOLICY_MASK_*, or -1
    } cases[] = {
        {"known", ref_mask("", true), features::known, CPUPOLICY_MASK_KNOWN},
        {"special", ref_mask("!"), features::special, CPUPOLICY_MASK_SPECIAL},
        {"or-mask", ref_mask("|"), features::or_mask, -1},
        {"pv_max", ref_mask("Aa"), features::pv_max, CPUPOLICY_MASK_PV_MAX},
        {"pv_def", ref_mask("A"), features::pv_def, CPUPOLICY_MASK_PV_DEF},
        {"hvm_shadow_max", ref_mask("AaSs"), features::hvm_shadow_max, CPUPOLICY_MASK_HVM_SHADOW_MAX},
        {"hvm_shadow_def", ref_mask("AS"), features::hvm_shadow_def, CPUPOLICY_MASK_HVM_SHADOW_DEF},
        {"hvm_hap_max", ref_mask("AaSsHh"), features::hvm_hap_max, CPUPOLICY_MASK_HVM_HAP_MAX},
        {"hvm_hap_def", ref_mask("ASH"), features::hvm_hap_def, CPUPOLICY_MASK_HVM_HAP_DEF},
    };
    for ( const auto &c : cases )
    {
        for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
            expect_eq(std::string(c.name) + " word " + std::to_string(i), word_hex(c.expected.w[i]),
                      word_hex(c.derived.w[i]));
        if ( c.abi >= 0 )
        {
            const uint32_t *m = cpupolicy_static_featuremask(unsigned(c.abi));
            if ( expect(std::string("ABI mask ") + c.name + " exists", m != nullptr) )
                for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
                    expect_eq(std::string("ABI ") + c.name + " word " + std::to_string(i),
                              word_hex(c.expected.w[i]), word_hex(m[i]));
        }
    }
    // Counts quoted in the docs and the Check suite.
    expect_eq("count of known", 287u, features::known.count());
    expect_eq("count of special", 24u, features::special.count());
    expect_eq("count of pv_def", 145u, features::pv_def.count());
}

void closure_of_every_feature_equals_the_walk_over_deps_tsv()
{
    for ( const auto &f : ref().features )
    {
        std::set<std::string> expected = ref_closure(f.name);
        const Featureset *d = features::deep_deps(Feature{f.number});
        std::set<std::string> actual = d ? names_in(*d) : std::set<std::string>{};
        expect_eq("closure(" + f.name + ")", join(expected), join(actual));
        // deep_deps is nullptr exactly for the features nothing depends on.
        expect_eq("has dependents: " + f.name, !expected.empty(), d != nullptr);
    }
    expect_eq("size of closure(xsave)", 47u, ref_closure("xsave").size());
    expect_eq("size of derived closure(xsave)", 47u,
              features::deep_deps(Feature{ref().by_name.at("xsave").number})->count());
}

void direct_prerequisites_equal_deps_tsv()
{
    for ( const auto &f : ref().features )
    {
        std::set<std::string> expected;
        for ( const auto &e : ref().edges )
            if ( e.second == f.name )
                expected.insert(e.first);
        expect_eq("prereqs(" + f.name + ")", join(expected),
                  join(names_in(features::prereqs(Feature{f.number}))));
    }
}

void every_alias_resolves_to_its_canonical_feature()
{
    static const std::set<std::string> sources{"xen-4.17", "linux", "qemu", "libvirt"};
    for ( const auto &a : table::aliases )
    {
        std::string alias = a.alias, canon = a.canonical;
        auto it = ref().by_name.find(canon);
        if ( !expect("alias " + alias + ": canonical " + canon + " is in features.tsv",
                     it != ref().by_name.end()) )
            continue;
        uint32_t f = ~0u;
        expect("alias " + alias + " resolves", features::lookup(a.alias, SIZE_MAX, &f));
        expect_eq("alias " + alias + " -> feature", it->second.number, f);
        f = ~0u;
        expect_eq("cpupolicy_feature_from_name(" + alias + ")", 0,
                  cpupolicy_feature_from_name(a.alias, &f));
        expect_eq("cpupolicy_feature_from_name(" + alias + ") feature", it->second.number, f);
        // An alias that is another feature's canonical name would shadow it.
        expect("alias " + alias + " is not a canonical name", ref().by_name.count(alias) == 0);
        std::string src = a.source ? a.source : "";
        expect("alias " + alias + " names a source", !src.empty());
        std::stringstream ss(src);
        std::string tok;
        while ( std::getline(ss, tok, ',') )
            expect("alias " + alias + " source '" + tok + "' is known", sources.count(tok) == 1);
    }
}

void aliases_the_issue_names_are_present()
{
    static const struct { const char *alias, *canonical; } cases[] = {
        // Xen 4.17 xen-cpuid spellings
        {"sse41", "sse4-1"}, {"sse42", "sse4-2"}, {"rdrnd", "rdrand"}, {"hyper", "hypervisor"},
        {"sysenter", "sep"}, {"movebe", "movbe"}, {"tsc-dl", "tsc-deadline"}, {"lzcnt", "abm"},
        {"3dnowpf", "3dnowprefetch"},
        // Linux /proc/cpuinfo spellings
        {"pni", "sse3"}, {"sse4_1", "sse4-1"}, {"lahf_lm", "lahf-lm"},
        {"tsc_deadline_timer", "tsc-deadline"},
        // QEMU / libvirt
        {"sse4.1", "sse4-1"}, {"pdpe1gb", "page1gb"}, {"invtsc", "itsc"},
    };
    for ( const auto &c : cases )
    {
        uint32_t f = ~0u;
        expect(std::string(c.alias) + " resolves", features::lookup(c.alias, SIZE_MAX, &f));
        expect_eq(std::string(c.alias) + " -> " + c.canonical, ref().by_name.at(c.canonical).number, f);
    }
}

void every_canonical_name_resolves_in_any_case_and_with_underscores()
{
    for ( const auto &rf : ref().features )
    {
        std::string up = rf.name, under = rf.name;
        std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
        std::replace(under.begin(), under.end(), '-', '_');
        for ( const std::string &n : {rf.name, up, under} )
        {
            uint32_t f = ~0u;
            expect(n + " resolves", features::lookup(n.c_str(), SIZE_MAX, &f));
            expect_eq(n + " -> feature", rf.number, f);
        }
    }
}

void word_labels_match_their_sources()
{
    // Word sources as shared/reference/README.md lists them.
    static const char *const expected[NR_FEATUREWORDS] = {
        "CPUID 0x00000001.edx",   "CPUID 0x00000001.ecx",   "CPUID 0x80000001.edx",
        "CPUID 0x80000001.ecx",   "CPUID 0x0000000d:1.eax", "CPUID 0x00000007:0.ebx",
        "CPUID 0x00000007:0.ecx", "CPUID 0x80000007.edx",   "CPUID 0x80000008.ebx",
        "CPUID 0x00000007:0.edx", "CPUID 0x00000007:1.eax", "CPUID 0x80000021.eax",
        "CPUID 0x00000007:1.ebx", "CPUID 0x00000007:2.edx", "CPUID 0x00000007:1.ecx",
        "CPUID 0x00000007:1.edx", "MSR_ARCH_CAPS.lo",       "MSR_ARCH_CAPS.hi",
        "CPUID 0x80000021.ecx",
    };
    static const char *const regs[] = {"eax", "ebx", "ecx", "edx"};
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
    {
        const WordInfo &w = table::words[i];
        expect_eq("label of word " + std::to_string(i), std::string(expected[i]), std::string(w.label));
        // The label is what the source says, so the two cannot drift apart.
        char b[64];
        if ( w.src.is_msr )
            std::snprintf(b, sizeof(b), "MSR_ARCH_CAPS.%s", w.src.half ? "hi" : "lo");
        else if ( w.src.subleaf == kNoSubleaf )
            std::snprintf(b, sizeof(b), "CPUID 0x%08x.%s", raw(w.src.leaf), regs[int(w.src.reg)]);
        else
            std::snprintf(b, sizeof(b), "CPUID 0x%08x:%u.%s", raw(w.src.leaf), raw(w.src.subleaf),
                          regs[int(w.src.reg)]);
        expect_eq("source of word " + std::to_string(i), std::string(expected[i]), std::string(b));
        if ( w.src.is_msr )
            expect_eq("MSR of word " + std::to_string(i), 0x10au, raw(w.src.msr));
    }
}

} // namespace

int main()
{
    TEST(reference_files_are_readable_and_sized_as_documented);
    if ( !ref().ok )
    {
        return finish();
    }
    TEST(every_reference_feature_is_in_the_table_with_same_number_name_and_attrs);
    TEST(table_has_nothing_the_reference_lacks_and_no_duplicate_numbers);
    TEST(every_number_names_the_reference_feature_or_nothing);
    TEST(every_reference_edge_is_in_the_table_once_and_no_other);
    TEST(every_edge_has_a_one_line_reason);
    TEST(edges_resolve_to_the_reference_numbers);
    TEST(arch_caps_is_the_prerequisite_of_every_feature_in_words_16_and_17);
    TEST(masks_equal_what_the_attribute_letters_say);
    TEST(closure_of_every_feature_equals_the_walk_over_deps_tsv);
    TEST(direct_prerequisites_equal_deps_tsv);
    TEST(every_alias_resolves_to_its_canonical_feature);
    TEST(aliases_the_issue_names_are_present);
    TEST(every_canonical_name_resolves_in_any_case_and_with_underscores);
    TEST(word_labels_match_their_sources);
    return finish();
}
