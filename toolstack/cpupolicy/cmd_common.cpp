// SPDX-License-Identifier: MIT
// Shared by the toolstack subcommands: the store, printing a document or its text
// rendering, and the policy sources compare/policy accept (DUMP, host URI, pool:NAME,
// vm:NAME, text:FILE).
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "cmd_toolstack.hpp"
#include "cpupolicy/feature-table.hpp"

namespace cpupolicy::cmd {

std::string str(const json &j)
{
    if ( j.is_string() )
        return j.get<std::string>();
    if ( j.is_null() )
        return "-";
    return j.dump();
}

std::string hex(const json &j)
{
    if ( !j.is_number_unsigned() && !j.is_number_integer() )
        return "-";
    char b[24];
    snprintf(b, sizeof(b), "%#" PRIx64, j.get<uint64_t>());
    return b;
}

std::string join(json &arr, const char *sep)
{
    std::string s;
    if ( !arr.is_array() )
        return s;
    for ( auto &x : arr )
    {
        if ( !s.empty() )
            s += sep;
        s += str(x);
    }
    return s;
}

Progress::Progress(bool wanted) : on_(wanted && isatty(STDERR_FILENO)) {}

void Progress::show(const char *what, uint32_t done, uint32_t total)
{
    if ( !on_ )
        return;
    struct winsize ws {};
    const size_t width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col : 80;
    std::string line = total ? "[" + std::to_string(done) + "/" + std::to_string(total) + "] " : "";
    line += what;
    if ( line.size() > width - 1 )  // one line: a wrapped line could not be rewritten
        line.resize(width - 1);
    fprintf(stderr, "\r%s\033[K", line.c_str());
    fflush(stderr);
    shown_ = true;
}

void Progress::clear()
{
    if ( !shown_ )
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    shown_ = false;
}

void Progress::callback(void *arg, const char *what, uint32_t done, uint32_t total)
{
    auto *p = static_cast<Progress *>(arg);
    if ( done == total && total )
        p->clear();
    else
        p->show(what, done, total);
}

// A word a newer library adds is named by number.
std::string word_label(uint32_t w)
{
    constexpr uint32_t nr_labels = sizeof(cpupolicy::table::words) /
                                   sizeof(cpupolicy::table::words[0]);
    static_assert(nr_labels == cpupolicy::NR_FEATUREWORDS, "a label for every word");
    return w < nr_labels ? cpupolicy::table::words[w].label : "word " + std::to_string(w);
}

std::string where(json &it)
{
    if ( !it["msr"].is_null() )
        return "MSR " + hex(it["msr"]);
    if ( it["leaf"].is_null() )
        return "-";
    std::string s = "leaf " + hex(it["leaf"]);
    if ( !it["subleaf"].is_null() && it["subleaf"].get<uint64_t>() != 0xffffffffu )
        s += " subleaf " + hex(it["subleaf"]);
    return s;
}

void print_items(json &items, const char *indent, const char *gname, const char *hname)
{
    if ( !items.is_array() )
        return;
    for ( auto &it : items )
    {
        std::string kind = str(it["kind"]);
        printf("%s%s (%s, %s): %s %s, %s %s%s%s\n", indent, str(it["name"]).c_str(),
               kind.c_str(), where(it).c_str(), gname, str(it[gname]).c_str(), hname,
               str(it[hname]).c_str(), it.contains("detail") ? " - " : "",
               it.contains("detail") ? str(it["detail"]).c_str() : "");
    }
}

void print_loss(json &loss, const char *indent, const char *old_name, const char *new_name)
{
    if ( !loss.is_object() )
        return;
    json &f = loss["features"];
    printf("%sfeatures (%zu): %s\n", indent, f.is_array() ? f.size() : 0,
           f.empty() ? "(none)" : join(f).c_str());
    json &fields = loss["fields"];
    printf("%sfields (%zu)%s\n", indent, fields.is_array() ? fields.size() : 0,
           fields.empty() ? ": (none)" : ":");
    std::string deeper = std::string(indent) + "  ";
    for ( auto &it : fields )
        printf("%s%s (%s): %s -> %s%s%s\n", deeper.c_str(), str(it["name"]).c_str(),
               where(it).c_str(), str(it[old_name]).c_str(), str(it[new_name]).c_str(),
               it.contains("detail") ? " - " : "",
               it.contains("detail") ? str(it["detail"]).c_str() : "");
}

cpupolicy_store_t *open_store(const Common &c)
{
    cpupolicy_store_t *s = nullptr;
    int rc = cpupolicy_store_open(&s, c.store);
    if ( rc )
    {
        const char *why = cpupolicy_last_error();
        fprintf(stderr, "cpupolicy: store: %s\n", why && *why ? why : strerror(-rc));
        return nullptr;
    }
    return s;
}

int finish(cpupolicy_store_t *s, const Common &c, int rc, char *doc, void (*render)(json &))
{
    (void)s;  // the message is the thread's cpupolicy_last_error(), not the store's
    std::unique_ptr<char, void (*)(char *)> keep(doc, cpupolicy_json_free);
    if ( doc )
    {
        if ( c.json )
            printf("%s\n", doc);
        else if ( render )
        {
            json j = json::parse(doc, nullptr, false);
            if ( !j.is_discarded() )
                render(j);
        }
    }
    if ( rc < 0 )
    {
        const char *why = cpupolicy_last_error();
        fprintf(stderr, "cpupolicy: %s\n", why && *why ? why : strerror(-rc));
        // Refusals (a --force would override, blockers, incompatible) are a negative
        // answer; everything else is an error.
        return rc == -EPERM ? exit_no : exit_usage;
    }
    return rc == 1 ? exit_no : exit_ok;
}

// --- Policy sources -------------------------------------------------------------------------

bool is_toolstack_source(const char *a)
{
    static const char *const prefixes[] = {"pool:", "vm:", "sim:", "unix:", "xen:", "ssh:", "text:"};
    for ( const char *p : prefixes )
        if ( !strncmp(a, p, strlen(p)) )
            return true;
    return false;
}

namespace {

struct PolicyFree {
    void operator()(cpupolicy_t *p) const { cpupolicy_free(p); }
};
using PolicyPtr = std::unique_ptr<cpupolicy_t, PolicyFree>;

const char *const index_names[] = {"raw", "host", "pv-max", "hvm-max", "pv-default", "hvm-default"};

int parse_index(const char *s)
{
    for ( int i = 0; i < 6; ++i )
        if ( !strcmp(s, index_names[i]) )
            return i;
    return -1;
}

// A policy from SOURCE.  `idx` < 0: the side's default (host side max, guest side default).
PolicyPtr resolve(const char *src, const Common &c, int idx, bool host_side, const char *boot,
                  std::string &what)
{
    PolicyPtr p(cpupolicy_alloc());
    if ( !p )
        return nullptr;
    const unsigned sys = idx >= 0 ? unsigned(idx) : host_side ? CPUPOLICY_HVM_MAX : CPUPOLICY_HVM_DEFAULT;
    if ( !strncmp(src, "pool:", 5) || !strncmp(src, "vm:", 3) )
    {
        std::unique_ptr<cpupolicy_store_t, void (*)(cpupolicy_store_t *)> s(open_store(c),
                                                                           cpupolicy_store_close);
        if ( !s )
            return nullptr;
        const bool pool = src[0] == 'p';
        int rc = pool ? cpupolicy_pool_get_level(s.get(), src + 5, !host_side, p.get())
                      : cpupolicy_vm_get_policy(s.get(), src + 3, p.get());
        if ( rc )
        {
            fprintf(stderr, "cpupolicy: %s: %s\n", src, cpupolicy_last_error());
            return nullptr;
        }
        what = pool ? std::string(src) + (host_side ? " (level)" : " (level default)") : src;
        return p;
    }
    if ( !strncmp(src, "text:", 5) )
    {
        std::ifstream f(src + 5);
        if ( !f )
        {
            fprintf(stderr, "cpupolicy: %s: cannot read\n", src + 5);
            return nullptr;
        }
        std::stringstream ss;
        ss << f.rdbuf();
        cpupolicy_parse_error_t e;
        if ( cpupolicy_policy_parse_text(p.get(), ss.str().c_str(), &e) )
        {
            fprintf(stderr, "cpupolicy: %s:%u:%u: %s\n", src + 5, e.line, e.column, e.what);
            return nullptr;
        }
        what = src;
        return p;
    }
    if ( is_toolstack_source(src) )
    {
        cpupolicy_handle_t *h = nullptr;
        int rc = cpupolicy_open(&h, src);
        if ( rc )
        {
            const char *why = cpupolicy_last_error();
            fprintf(stderr, "cpupolicy: %s: %s\n", src, why && *why ? why : strerror(-rc));
            return nullptr;
        }
        rc = cpupolicy_get_system_policy(h, sys, p.get());
        cpupolicy_close(h);
        if ( rc )
        {
            fprintf(stderr, "cpupolicy: %s: reading its %s policy: %s\n", src, index_names[sys],
                    strerror(-rc));
            return nullptr;
        }
        what = std::string(src) + " (" + index_names[sys] + ")";
        return p;
    }
    // A dump file (or "native").
    PolicyPtr raw(cpupolicy_alloc());
    if ( !raw )
        return nullptr;
    int rc = cpupolicy_import_dump(raw.get(), strcmp(src, "native") ? src : "", 0);
    if ( rc )
    {
        const char *m = cpupolicy_last_error();
        fprintf(stderr, "cpupolicy: %s\n", m && *m ? m : strerror(-rc));
        return nullptr;
    }
    if ( sys == CPUPOLICY_RAW && !boot )
        return raw;
    rc = cpupolicy_derive(p.get(), raw.get(), sys, boot);
    if ( rc )
    {
        fprintf(stderr, "cpupolicy: deriving the %s policy of %s: %s\n", index_names[sys], src,
                strerror(-rc));
        return nullptr;
    }
    what = std::string(src) + " (" + index_names[sys] + ")";
    return p;
}

const char *item_kind(uint32_t k)
{
    static const char *const names[] = {"vendor",        "feature",      "numeric",  "bits",
                                        "xstate-layout", "max-ext-leaf", "faulting", "policy"};
    return k < 8 ? names[k] : "unknown";
}

json opt(uint32_t v)
{
    return v == ~0u ? json(nullptr) : json(v);
}

// The same verdict shape the library's migrate-check answers with.
json verdict(const cpupolicy_report_t &r)
{
    json missing = json::array(), fields = json::array();
    for ( uint32_t i = 0; i < r.nr_items; ++i )
    {
        const cpupolicy_report_item_t &it = r.items[i];
        if ( it.kind == CPUPOLICY_ITEM_FEATURE )
        {
            missing.push_back(it.name);
            continue;
        }
        json f{{"kind", item_kind(it.kind)}, {"name", it.name ? it.name : ""},
               {"leaf", opt(it.leaf)},       {"subleaf", opt(it.subleaf)},
               {"msr", opt(it.msr)},         {"guest", it.guest},
               {"host", it.host}};
        if ( it.detail )
            f["detail"] = it.detail;
        fields.push_back(f);
    }
    return json{{"compatible", bool(r.compatible)},
                {"first_failure",
                 {{"leaf", opt(r.first.leaf)}, {"subleaf", opt(r.first.subleaf)}, {"msr", opt(r.first.msr)}}},
                {"missing_features", missing},
                {"fields", fields}};
}

} // namespace

void print_verdict(json &v)
{
    if ( v["compatible"].get<bool>() )
    {
        printf("verdict: compatible\n");
        return;
    }
    json first = v["first_failure"];
    printf("verdict: incompatible\n");
    printf("first failure (Xen's error record): %s\n", where(first).c_str());
    printf("missing features (%zu): %s\n", v["missing_features"].size(),
           v["missing_features"].empty() ? "(none)" : join(v["missing_features"]).c_str());
    printf("fields that do not fit (%zu):\n", v["fields"].size());
    print_items(v["fields"], "  ", "guest", "host");
}

namespace {

const option source_options_table[] = {
    {"index", required_argument, nullptr, 'i'},
    {"boot-options", required_argument, nullptr, 'b'},
    {"store", required_argument, nullptr, 's'},
    {"json", no_argument, nullptr, 'j'},
    {"format", required_argument, nullptr, 'f'},
    {nullptr, 0, nullptr, 0},
};

// The options of a command on policy sources: --index, --boot-options and --store
// always, --json and --format where `takes` names them ('j', 'f').  0, or the exit code
// after saying what was wrong (`usage_text` for an option the command does not take).
int source_options(int argc, char **argv, const char *takes, const char *usage_text, Common &c, int &idx,
                   const char *&boot, std::string *format)
{
    optind = 1;
    int o;
    while ( (o = getopt_long(argc, argv, "i:b:", source_options_table, nullptr)) != -1 )
    {
        if ( (o == 'j' || o == 'f') && !strchr(takes, o) )
            o = '?';
        switch ( o ) {
        case 'i':
            if ( (idx = parse_index(optarg)) < 0 )
            {
                fprintf(stderr, "cpupolicy: unknown --index '%s'\n", optarg);
                return exit_usage;
            }
            break;
        case 'b': boot = optarg; break;
        case 's': c.store = optarg; break;
        case 'j': c.json = true; break;
        case 'f': *format = optarg; break;
        default:
            fputs(usage_text, stderr);
            return exit_usage;
        }
    }
    return 0;
}

} // namespace

int cmd_compare_any(int argc, char **argv)
{
    Common c;
    int idx = -1;
    const char *boot = nullptr;
    if ( int rc = source_options(argc, argv, "j",
                                 "Usage: cpupolicy compare [--json] [--store PATH] [--index I] HOST GUEST\n"
                                 "  HOST, GUEST: a dump, a host URI, pool:NAME or vm:NAME\n",
                                 c, idx, boot, nullptr) )
        return rc;
    if ( argc - optind != 2 )
    {
        fprintf(stderr, "cpupolicy: compare takes HOST GUEST\n");
        return exit_usage;
    }
    std::string hw, gw;
    PolicyPtr host = resolve(argv[optind], c, idx, true, boot, hw);
    if ( !host )
        return exit_usage;
    PolicyPtr guest = resolve(argv[optind + 1], c, idx, false, boot, gw);
    if ( !guest )
        return exit_usage;
    cpupolicy_report_t *r = nullptr;
    if ( int rc = cpupolicy_compat_report(host.get(), guest.get(), &r) )
    {
        fprintf(stderr, "cpupolicy: compare: %s\n", strerror(-rc));
        return exit_usage;
    }
    json j{{"cpupolicy", 1}, {"kind", "compare"}, {"host", hw}, {"guest", gw}, {"verdict", verdict(*r)}};
    const bool ok = r->compatible;
    cpupolicy_report_free(r);
    if ( c.json )
        printf("%s\n", j.dump(2).c_str());
    else
    {
        printf("%s: %s (guest) on %s (host)\n", ok ? "compatible" : "incompatible", gw.c_str(), hw.c_str());
        print_verdict(j["verdict"]);
    }
    return ok ? exit_ok : exit_no;
}

int cmd_policy_any(int argc, char **argv)
{
    Common c;
    int idx = -1;
    const char *boot = nullptr;
    std::string format = "text";
    if ( int rc = source_options(argc, argv, "f",
                                 "Usage: cpupolicy policy --format text|featureset [--index I] SOURCE\n", c,
                                 idx, boot, &format) )
        return rc;
    if ( format != "text" && format != "featureset" )
    {
        fprintf(stderr, "cpupolicy: unknown --format '%s' (text, featureset; without --format: "
                        "the xen-cpuid -p table)\n", format.c_str());
        return exit_usage;
    }
    if ( argc - optind != 1 )
    {
        fprintf(stderr, "cpupolicy: policy takes one SOURCE\n");
        return exit_usage;
    }
    // A dump defaults to raw (host with boot options), as `policy` always did.
    const char *src = argv[optind];
    if ( idx < 0 && !is_toolstack_source(src) )
        idx = boot ? CPUPOLICY_HOST : CPUPOLICY_RAW;
    std::string what;
    PolicyPtr p = resolve(src, c, idx, true, boot, what);
    if ( !p )
        return exit_usage;
    if ( format == "featureset" )
    {
        uint32_t nr = cpupolicy_featureset_size();
        std::vector<uint32_t> fs(nr);
        size_t len = 0;
        if ( cpupolicy_policy_to_featureset(p.get(), fs.data(), &nr) ||
             cpupolicy_featureset_format(fs.data(), nr, nullptr, &len) )
            return exit_usage;
        std::string s(len, '\0');
        if ( cpupolicy_featureset_format(fs.data(), nr, s.data(), &len) )
            return exit_usage;
        printf("%s\n", s.c_str());
        return exit_ok;
    }
    size_t len = 0;
    if ( cpupolicy_policy_format_text(p.get(), nullptr, &len) )
        return exit_usage;
    std::string s(len, '\0');
    if ( cpupolicy_policy_format_text(p.get(), s.data(), &len) )
        return exit_usage;
    fputs(s.c_str(), stdout);
    return exit_ok;
}

} // namespace cpupolicy::cmd
