// SPDX-License-Identifier: MIT
// xen-cpuid: decode x86 featuresets in the layout of Xen's tools/misc/xen-cpuid, with the
// names of cpupolicy's one feature table.  See xen-cpuid.1.
//
// Modes are an explicit enum, selected by one row of kOptions each (or by Xen's
// positional words `info` / `detail`); the getopt_long table, its short-option string
// and the --help text are all generated from kOptions, so they cannot disagree.
//
// Where this deliberately differs from Xen 4.17's xen-cpuid (which exits 0 on
// anything): unparseable featuresets, unknown options and conflicting modes are
// reported on stderr with exit status 2 and nothing is decoded; set bits in words
// beyond this build's featureset are decoded as "(unknown word)" and give exit status 1.
//
// The live modes (info/detail's dynamic sets, -p, --diff, --masking) ask a hypervisor
// through libcpupolicy's handle API (live.hpp); --connect URI picks which.
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <utility>
#include <vector>

#include "cpupolicy/features.hpp"
#include "decode.hpp"
#include "live.hpp"
#include "tool_print.hpp"

using namespace cpupolicy;
using namespace xcpuid;

namespace {

constexpr const char *kProg = "xen-cpuid";

// Exit statuses: live.hpp (xen-cpuid.1, EXIT STATUS).

// What one invocation does.
enum class Mode {
    none,       // not chosen by an option: decided from the positional arguments
    help,
    info,       // static sets, then the hypervisor's dynamic sets
    detail,     // info with every set decoded word by word
    decode,     // FEATURESET... (Xen's MODE_INTERPRET)
    list,       // every feature of the table, one per line
    canonical,  // NAME...: canonical name of each name or alias
    policy,     // -p [DOMID]: the system policies or one domain's (Xen's MODE_POLICY)
    diff,       // --diff A B
    masking,    // --masking
};

// Modes that ask a hypervisor, hence the ones --connect applies to.
constexpr bool is_live(Mode m)
{
    return m == Mode::info || m == Mode::detail || m == Mode::policy || m == Mode::diff ||
           m == Mode::masking;
}

struct OptionRow {
    const char *name;  // long option
    int has_arg;       // getopt_long's no_argument / required_argument / optional_argument
    char short_name;   // 0: long only
    Mode mode;         // the mode the option selects (none: a setting)
    const char *args;  // what follows it, for the usage text; nullptr: nothing
    const char *help;
};

constexpr OptionRow kOptions[] = {
    { "help",      no_argument, 'h', Mode::help,      nullptr,
      "print this help and exit" },
    { "info",      no_argument, 'i', Mode::info,      nullptr,
      "static sets and the hypervisor's dynamic sets (default)" },
    { "detail",    no_argument, 'd', Mode::detail,    nullptr,
      "as --info, every set decoded word by word" },
    { "verbose",   no_argument, 'v', Mode::detail,    nullptr,
      "same as --detail" },
    { "policy",    optional_argument, 'p', Mode::policy, "[DOMID]",
      "the six system policies, or domain DOMID's" },
    { "diff",      no_argument, 0,   Mode::diff,      "A B",
      "features (and leaves) that differ between A and B" },
    { "masking", no_argument, 0,   Mode::masking, nullptr,
      "the host's masking and faulting capabilities (Xen: levelling caps)" },
    { "connect",   required_argument, 0, Mode::none,  "URI",
      "hypervisor to ask (default \"\": this CPU, simulated)" },
    { "list",      no_argument, 'l', Mode::list,      nullptr,
      "each feature: number, word, bit, name, attrs, prereqs" },
    { "canonical", no_argument, 'c', Mode::canonical, "NAME...",
      "canonical name of each feature name or alias" },
};
constexpr size_t kNrOptions = sizeof(kOptions) / sizeof(kOptions[0]);

// getopt_long's inputs, generated from kOptions.
struct GetoptTables {
    char shorts[3 * kNrOptions + 2];
    struct option longs[kNrOptions + 1];
};
constexpr GetoptTables make_getopt_tables()
{
    GetoptTables t{};
    size_t n = 0;
    for ( size_t i = 0; i < kNrOptions; ++i )
    {
        const OptionRow &o = kOptions[i];
        t.longs[i] = { o.name, o.has_arg, nullptr, o.short_name ? o.short_name : 0x100 + int(i) };
        if ( !o.short_name )
            continue;
        t.shorts[n++] = o.short_name;
        if ( o.has_arg != no_argument )
            t.shorts[n++] = ':';
        if ( o.has_arg == optional_argument )
            t.shorts[n++] = ':';
    }
    return t;
}
constexpr GetoptTables kGetopt = make_getopt_tables();

constexpr bool options_unique()
{
    for ( size_t i = 0; i < kNrOptions; ++i )
        for ( size_t j = i + 1; j < kNrOptions; ++j )
            if ( (kOptions[i].short_name && kOptions[i].short_name == kOptions[j].short_name) ||
                 features::name_cmp(kOptions[i].name, kOptions[j].name) == 0 )
                return false;
    return true;
}
static_assert(options_unique(), "two rows of kOptions share a short or long option");

const OptionRow *row_of(int c)
{
    for ( size_t i = 0; i < kNrOptions; ++i )
        if ( kGetopt.longs[i].val == c )
            return &kOptions[i];
    return nullptr;
}

void usage(FILE *out)
{
    fprintf(out,
            "Usage: %s [OPTION]... [info | detail | FEATURESET...]\n"
            "Decode x86 featuresets in the layout of Xen's xen-cpuid, with cpupolicy's\n"
            "feature names.  A FEATURESET is 32-bit hex words separated by ':' or '-',\n"
            "word 0 first (e.g. 178bfbff:7ed8320b).  info, detail and the policy modes\n"
            "ask the hypervisor named by the connect URI: \"\" (this CPU under the\n"
            "embedded simulated hypervisor), sim:dump=PATH[,boot=OPTS], unix:PATH, xen:.\n"
            "A diff operand is a FEATURESET, sys:NAME (raw, host, pv-max, hvm-max,\n"
            "pv-default, hvm-default), dom:DOMID, or a CPUID dump file (its raw policy).\n\n"
            "Options:\n", kProg);
    for ( const OptionRow &o : kOptions )
    {
        std::string left = o.short_name ? std::string("-") + o.short_name + ", " : "    ";
        left += std::string("--") + o.name;
        if ( o.args )
            left += std::string(" ") + o.args;
        fprintf(out, "  %-24s %s\n", left.c_str(), o.help);
    }
    fprintf(out,
            "\nExit status: 0 success; 1 a featureset had set bits in words this build does\n"
            "not know, or the diff operands differ; 2 bad usage, an unparseable featureset\n"
            "or an unusable URI (nothing printed); 3 the hypervisor refused a query.\n");
}

int usage_error(const char *fmt, const char *a, const char *b = "")
{
    fprintf(stderr, "%s: ", kProg);
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", kProg);
    return kExitUsage;
}

// --- Decode -------------------------------------------------------------------------
bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_sep(char c) { return c == ':' || c == '-'; }

// Why parse_words refused `s` at offset `pos`, in words a user can act on.
std::string parse_error_reason(const char *s, size_t pos)
{
    unsigned word = 0;
    for ( size_t i = 0; i < pos; ++i )
        word += is_sep(s[i]);
    char buf[160];
    const char c = s[pos];
    if ( pos == 0 && c == '\0' )
        snprintf(buf, sizeof(buf), "empty featureset");
    else if ( is_hex(c) )
        snprintf(buf, sizeof(buf), "word %u has more than 8 hex digits (offset %zu)", word, pos);
    else if ( c == '\0' || is_sep(c) )
        snprintf(buf, sizeof(buf), "word %u is empty (offset %zu)", word, pos);
    else
    {
        char shown[8];
        if ( c >= ' ' && c < 0x7f )
            snprintf(shown, sizeof(shown), "'%c'", c);
        else
            snprintf(shown, sizeof(shown), "\\x%02x", static_cast<unsigned char>(c));
        snprintf(buf, sizeof(buf), "unexpected character %s at offset %zu (expected %s)", shown,
                 pos, pos && is_hex(s[pos - 1]) ? "a hex digit, ':' or '-'" : "a hex digit");
    }
    return buf;
}

int mode_decode(char **args, int nr_args)
{
    std::vector<std::vector<uint32_t>> sets;
    bool bad = false;

    // Every argument is checked before anything is printed: a script never sees a
    // partial decode followed by an error.
    for ( int a = 0; a < nr_args; ++a )
    {
        const char *s = args[a];
        size_t nr_words = 1;
        for ( const char *p = s; *p; ++p )
            nr_words += is_sep(*p);
        std::vector<uint32_t> words(nr_words);
        uint32_t nr = 0;
        size_t bad_pos = 0;
        if ( parse_words(s, words.data(), static_cast<uint32_t>(nr_words), &nr, &bad_pos) )
        {
            fprintf(stderr, "%s: featureset argument %d '%s': %s\n", kProg, a + 1, s,
                    parse_error_reason(s, bad_pos).c_str());
            bad = true;
            continue;
        }
        words.resize(nr);
        sets.push_back(std::move(words));
    }
    if ( bad )
        return kExitUsage;

    int rc = kExitOk;
    for ( size_t a = 0; a < sets.size(); ++a )
    {
        const std::vector<uint32_t> &w = sets[a];
        print_featureset(stdout, "Raw", w.data(), w.size(), true);
        for ( size_t i = NR_FEATUREWORDS; i < w.size(); ++i )
            if ( w[i] )
            {
                fprintf(stderr,
                        "%s: featureset argument %zu: word %zu (%08x) is beyond the %u words "
                        "this build knows\n", kProg, a + 1, i, w[i], NR_FEATUREWORDS);
                rc = kExitUnknownWords;
            }
    }
    return rc;
}

// --- Info / detail ---------------------------------------------------------------------
// Xen's static sets, in the order and with the labels of Xen's `xen-cpuid info`
// (xc_get_static_cpu_featuremask order: known, special, then max before default).
struct StaticSet {
    const char *label;
    const Featureset *mask;
};
constexpr StaticSet kStaticSets[] = {
    { "Known", &features::known },
    { "Special", &features::special },
    { "PV Max", &features::pv_max },
    { "PV Default", &features::pv_def },
    { "HVM Shadow Max", &features::hvm_shadow_max },
    { "HVM Shadow Default", &features::hvm_shadow_def },
    { "HVM Hap Max", &features::hvm_hap_max },
    { "HVM Hap Default", &features::hvm_hap_def },
};

int mode_info(Connection &c, bool detail)
{
    // Connect and read every dynamic set before printing: no partial output on error.
    cpupolicy_handle_t *h = c.open();
    if ( !h )
        return kExitUsage;
    std::vector<DynamicSet> dyn = fetch_dynamic_sets(h);
    for ( const DynamicSet &d : dyn )
        if ( d.rc && d.rc != -EOPNOTSUPP )
        {
            fprintf(stderr, "%s: %s featureset: %s\n", kProg, d.name, strerror(-d.rc));
            return kExitQuery;
        }

    printf("nr_features: %u\n", NR_FEATUREWORDS);
    if ( !detail )
    {
        printf("       %*s ", kColAlign, "KEY");
        for ( const auto &w : table::words )
            printf("%-8s ", word_key(w.src).s);
        printf("\n");
    }

    printf("\nStatic sets:\n");
    for ( const StaticSet &s : kStaticSets )
        print_featureset(stdout, s.label, s.mask->w, NR_FEATUREWORDS, detail);

    // Xen's dump_info: the six featuresets in XEN_SYSCTL_cpu_featureset_* order, each at
    // the length the hypervisor gave (a newer one may give more words: decoded as
    // "(unknown word)"); one not offered is named instead.
    printf("\nDynamic sets:\n");
    for ( const DynamicSet &d : dyn )
    {
        if ( d.rc )
            printf("%s featureset not supported by the hypervisor\n", d.name);
        else
            print_featureset(stdout, d.name, d.words.data(), d.words.size(), detail);
    }
    return kExitOk;
}

// --- List / canonical ------------------------------------------------------------------
constexpr int kListNameWidth = 24;
constexpr bool list_columns_fit()
{
    for ( const auto &f : table::features )
    {
        int n = 0, a = 0;
        while ( f.name[n] )
            ++n;
        while ( f.attrs[a] )
            ++a;
        if ( n > kListNameWidth || a > 5 )
            return false;
    }
    return true;
}
static_assert(list_columns_fit(), "widen the --list columns (and xen-cpuid.1)");

int mode_list()
{
    printf("# %4s %4s %3s  %-*s %-5s %s\n", "num", "word", "bit", kListNameWidth, "name",
           "attrs", "prerequisites");
    for ( uint32_t f : each(features::known) )
    {
        const FeatureInfo *fi = features::info(Feature{f});
        std::string pre;
        // Named: each() keeps a pointer, so its argument must outlive the loop.
        const Featureset prereqs = features::prereqs(Feature{f});
        for ( uint32_t p : each(prereqs) )
        {
            if ( !pre.empty() )
                pre += ',';
            pre += features::name(Feature{p});
        }
        printf("  %4u %4u %3u  %-*s %-5s %s\n", f, f / 32, f % 32, kListNameWidth, fi->name,
               *fi->attrs ? fi->attrs : "-", pre.empty() ? "-" : pre.c_str());
    }
    return kExitOk;
}

int mode_canonical(char **args, int nr_args)
{
    if ( nr_args == 0 )
        return usage_error("--canonical needs at least one NAME%s", "");
    int rc = kExitOk;
    for ( int a = 0; a < nr_args; ++a )
    {
        uint32_t f;
        if ( features::lookup(args[a], SIZE_MAX, &f) )
            printf("%s\n", features::name(Feature{f}));
        else
        {
            fprintf(stderr, "%s: unknown feature name '%s'\n", kProg, args[a]);
            rc = kExitUsage;
        }
    }
    return rc;
}

// -p's DOMID: decimal or 0x hex, below DOMID_FIRST_RESERVED (0x7ff0, Xen's public xen.h).
bool parse_policy_domid(const char *s, long *domid)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if ( !*s || *end || errno || v < 0 || v >= 0x7ff0 )
        return false;
    *domid = v;
    return true;
}

} // namespace

static int run(int argc, char **argv)
{
    Mode mode = Mode::none;
    std::string mode_opt;  // how the mode was chosen, for messages: "--list", "info"
    const char *connect = nullptr;
    long domid = -1;       // -p: -1 = the system policies

    for ( ;; )
    {
        int c = getopt_long(argc, argv, kGetopt.shorts, kGetopt.longs, nullptr);
        if ( c == -1 )
            break;
        const OptionRow *o = row_of(c);
        if ( !o )  // getopt_long has already said what was wrong
        {
            fprintf(stderr, "Try '%s --help' for more information.\n", kProg);
            return kExitUsage;
        }
        if ( o->mode != Mode::none )
        {
            if ( mode != Mode::none && mode != o->mode )
                return usage_error("--%s conflicts with %s", o->name, mode_opt.c_str());
            mode = o->mode;
            mode_opt = std::string("--") + o->name;
        }
        if ( o->mode == Mode::policy )
        {
            // As Xen's: "-p 3" and "--policy 3" as well as "-p3" / "--policy=3".
            const char *arg = optarg;
            if ( !arg && optind < argc && argv[optind][0] && argv[optind][0] != '-' )
                arg = argv[optind++];
            if ( arg && !parse_policy_domid(arg, &domid) )
                return usage_error("--policy: bad domain id '%s'%s", arg,
                                   " (0 .. 32751, decimal or 0x hex)");
        }
        else if ( !strcmp(o->name, "connect") )
            connect = optarg;
    }

    char **args = argv + optind;
    int nr_args = argc - optind;

    // Xen's positional forms: nothing or `info`, `detail`, else featuresets.
    if ( mode == Mode::none )
    {
        if ( nr_args == 0 )
            mode = Mode::info;
        else if ( !strcmp(args[0], "info") || !strcmp(args[0], "detail") )
        {
            mode = args[0][0] == 'i' ? Mode::info : Mode::detail;
            mode_opt = args[0];
            ++args;
            --nr_args;
        }
        else
            mode = Mode::decode;
    }

    if ( connect && !is_live(mode) && mode != Mode::help )
        return usage_error("--connect applies to info, detail, --policy, --diff and "
                           "--masking, not to %s%s",
                           mode_opt.empty() ? "decoding" : mode_opt.c_str());
    Connection conn(connect ? connect : "");

    switch ( mode )
    {
    case Mode::help:
        usage(stdout);
        return kExitOk;
    case Mode::decode:
        return mode_decode(args, nr_args);
    case Mode::canonical:
        return mode_canonical(args, nr_args);
    case Mode::diff:
        if ( nr_args != 2 )
            return usage_error("--diff needs two operands, A and B (got %s)%s",
                               std::to_string(nr_args).c_str());
        return mode_diff(conn, args[0], args[1]);
    case Mode::info:
    case Mode::detail:
    case Mode::list:
    case Mode::policy:
    case Mode::masking:
        if ( nr_args )
            return usage_error("unexpected argument '%s' after %s", args[0], mode_opt.c_str());
        if ( mode == Mode::list )
            return mode_list();
        if ( mode == Mode::policy )
            return mode_policy(conn, domid);
        if ( mode == Mode::masking )
            return mode_masking(conn);
        return mode_info(conn, mode == Mode::detail);
    case Mode::none:
        break;
    }
    return kExitUsage;  // unreachable: every mode is handled above
}

int main(int argc, char **argv)
{
    return cpupolicy::tools::finish_output("xen-cpuid", run(argc, argv), 2);
}
