// SPDX-License-Identifier: MIT
// cpupolicy: the toolstack command.  Offline policy work over CPUID dumps, written
// purely against the public C ABI (cpupolicy.h) so that it exercises what a toolstack
// links against.
//
//   cpupolicy featureset [--index I] [--boot-options OPTS] [--cpu N] DUMP
//   cpupolicy policy     [--index I] [--boot-options OPTS] [--cpu N] DUMP
//   cpupolicy compare    [--index I] [--boot-options OPTS] HOST_DUMP GUEST_DUMP
//   cpupolicy level      [--index I] [--boot-options OPTS] DUMP...
//   cpupolicy masking  [--index I] [--boot-options OPTS] [--cpu N] HOST_DUMP [GUEST_DUMP]
//
// DUMP is a file in any format cpupolicy_import_dump() reads, or "native" for this
// machine's CPUID instruction.  Exit status: 0 success (compare: compatible; masking:
// complete), 1 compare: incompatible (masking: something leaks or is lost), 2 bad usage
// or bad input.  docs/toolstack.md describes every subcommand.
//
// `masking` boots the embedded simulated hypervisor on HOST_DUMP (a handle, as a
// toolstack opens one) and asks it, through cpupolicy_sim.h, what it cannot level for a
// PV domain.  The only thing taken from inside the project is the featureset word
// labels of the one feature table (feature-table.hpp: compile-time data, nothing linked),
// so that a word is named exactly as xen-cpuid names it.
#include "cpupolicy.h"
#include "cpupolicy_sim.h"

#include "cpupolicy/feature-table.hpp"
#include "cpupolicy/masking.hpp"
#include "printable.hpp"
#include "tool_print.hpp"
#include "cmd_model.hpp"
#include "cmd_toolstack.hpp"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memory>
#include <string>
#include <vector>

using cpupolicy::printable;

namespace {

enum Exit { exit_ok = 0, exit_incompatible = 1, exit_usage = 2 };

struct PolicyDeleter {
    void operator()(cpupolicy_t *p) const { cpupolicy_free(p); }
};
using PolicyPtr = std::unique_ptr<cpupolicy_t, PolicyDeleter>;

struct Options {
    unsigned index = CPUPOLICY_RAW;
    bool index_given = false;
    const char *boot_options = nullptr;
    unsigned cpu = 0;
};

// Policy index names, in Xen's policy order (CPUPOLICY_RAW ... CPUPOLICY_HVM_DEFAULT).
const char *const index_names[] = {"raw", "host", "pv-max", "hvm-max", "pv-default", "hvm-default"};

const option long_options[] = {
    {"index", required_argument, nullptr, 'i'},
    {"boot-options", required_argument, nullptr, 'b'},
    {"cpu", required_argument, nullptr, 'c'},
    {"help", no_argument, nullptr, 'h'},
    {nullptr, 0, nullptr, 0},
};

void usage(FILE *f)
{
    fprintf(f,
            "Usage: cpupolicy COMMAND [OPTIONS] ARGS\n"
            "\n"
            "Commands:\n"
            "  featureset DUMP        print the featureset (xen-cpuid input form)\n"
            "  policy DUMP            print the policy's leaves and MSRs (as xen-cpuid -p)\n"
            "  compare HOST GUEST     exit 0 if GUEST can run on HOST, 1 (naming what is\n"
            "                         missing) if not\n"
            "  level DUMP...          print the levelled featureset and what each host loses\n"
            "  masking HOST [GUEST]   boot a simulated host on HOST, print its masking/faulting caps\n"
            "                         and what it cannot level for a PV domain (its\n"
            "                         pv-default, or GUEST's policy levelled onto it): exit\n"
            "                         0 complete, 1 if features leak or are lost\n"
            "  model ...              named CPU models: list, show, check, suggest, export,\n"
            "                         from-dump, validate (cpupolicy model --help)\n"
            "  pool ...               pools of hosts and their level: create, join, eject,\n"
            "                         refresh, show, list, history, report (cpupolicy pool --help)\n"
            "  vm ...                 VMs placed in a pool: create, show, list, destroy,\n"
            "                         migrate-check, migrate (cpupolicy vm --help)\n"
            "\n"
            "Options:\n"
            "  -i, --index I          raw|host|pv-max|hvm-max|pv-default|hvm-default\n"
            "                         (default raw, or host with --boot-options; compare\n"
            "                         defaults to: host hvm-max, guest hvm-default;\n"
            "                         level to hvm-max; masking to pv-default, of GUEST\n"
            "                         or else of the host)\n"
            "  -b, --boot-options O   hypervisor boot options, e.g. cpuid=no-avx512f,no-rtm\n"
            "                         or just no-avx512f,no-rtm; like Xen's, they shape\n"
            "                         every policy but raw (masking: the host's only)\n"
            "  -c, --cpu N            logical CPU of the dump to read (default 0;\n"
            "                         masking: of GUEST)\n"
            "  -h, --help             this text\n"
            "\n"
            "DUMP is a CPUID dump file (InstLatx64/AIDA64, cpuid -r) or \"native\".\n"
            "Exit status: 0 ok/compatible/levelled, 1 incompatible/not levelled, 2 bad usage\n"
            "or input.\n");
}

int parse_index(const char *s, unsigned *out)
{
    for ( unsigned i = 0; i < sizeof(index_names) / sizeof(index_names[0]); ++i )
        if ( !strcmp(s, index_names[i]) )
        {
            *out = i;
            return 0;
        }
    return -1;
}

// Import DUMP and derive the requested policy.  Errors are reported here, naming the
// file (and line, from the importer) or the boot option.
PolicyPtr load(const char *path, const Options &o, unsigned index,
               std::vector<cpupolicy_import_note_t> *notes = nullptr)
{
    PolicyPtr raw(cpupolicy_alloc()), out(cpupolicy_alloc());
    if ( !raw || !out )
    {
        fprintf(stderr, "cpupolicy: out of memory\n");
        return nullptr;
    }
    const char *file = strcmp(path, "native") ? path : "";
    cpupolicy_import_note_t found[CPUPOLICY_MAX_IMPORT_NOTES];
    uint32_t nr_found = CPUPOLICY_MAX_IMPORT_NOTES;
    int rc = cpupolicy_import_dump_notes(raw.get(), file, o.cpu, found, &nr_found);
    if ( rc )
    {
        // The importer's message already starts with "FILE:LINE:" (or "FILE:").
        const char *msg = cpupolicy_last_error();
        if ( msg && *msg )
            fprintf(stderr, "cpupolicy: %s\n", msg);
        else
            fprintf(stderr, "cpupolicy: %s: %s\n", path, strerror(-rc));
        return nullptr;
    }
    if ( notes )
        notes->assign(found, found + nr_found);
    if ( index == CPUPOLICY_RAW && !o.boot_options )
        return raw;
    rc = cpupolicy_derive(out.get(), raw.get(), index, o.boot_options);
    if ( rc )
    {
        // The library names the boot option, its offset and what is accepted.
        const char *msg = cpupolicy_last_error();
        fprintf(stderr, "cpupolicy: deriving the %s policy of %s: %s\n", index_names[index],
                printable(path).c_str(), msg && *msg ? msg : strerror(-rc));
        return nullptr;
    }
    return out;
}

std::vector<uint32_t> featureset_of(const cpupolicy_t *p)
{
    uint32_t nr = cpupolicy_featureset_size();
    std::vector<uint32_t> fs(nr);
    if ( cpupolicy_policy_to_featureset(p, fs.data(), &nr) )
        fs.assign(fs.size(), 0);
    return fs;
}

void print_featureset(const std::vector<uint32_t> &fs)
{
    for ( size_t i = 0; i < fs.size(); ++i )
        printf("%08" PRIx32 "%s", fs[i], i + 1 < fs.size() ? ":" : "\n");
}

// Names of the features set in fs, space separated.
std::string feature_names(const std::vector<uint32_t> &fs)
{
    return cpupolicy::tools::feature_names(fs.data(), fs.size());
}

std::string where(const cpupolicy_err_t &e)
{
    char buf[64];
    if ( e.msr != ~0u )
        snprintf(buf, sizeof(buf), "MSR %#" PRIx32, e.msr);
    else if ( e.leaf == ~0u )
        snprintf(buf, sizeof(buf), "(no single leaf)");
    else if ( e.subleaf == ~0u )
        snprintf(buf, sizeof(buf), "leaf %#" PRIx32, e.leaf);
    else
        snprintf(buf, sizeof(buf), "leaf %#" PRIx32 " subleaf %#" PRIx32, e.leaf, e.subleaf);
    return buf;
}

// featureset / policy: raw unless told otherwise - but boot options never change the
// raw policy (on Xen too, raw is the CPU as read), so asking for them without an index
// means the host policy they shape.
unsigned single_index(const Options &o)
{
    return o.index_given || !o.boot_options ? o.index : CPUPOLICY_HOST;
}

int cmd_featureset(const Options &o, int argc, char **argv)
{
    if ( argc != 1 )
        return usage(stderr), exit_usage;
    PolicyPtr p = load(argv[0], o, single_index(o));
    if ( !p )
        return exit_usage;
    print_featureset(featureset_of(p.get()));
    return exit_ok;
}

int cmd_policy(const Options &o, int argc, char **argv)
{
    if ( argc != 1 )
        return usage(stderr), exit_usage;
    const unsigned index = single_index(o);
    std::vector<cpupolicy_import_note_t> notes;
    PolicyPtr p = load(argv[0], o, index, &notes);
    if ( !p )
        return exit_usage;
    cpupolicy::tools::Serialised ser;
    if ( int rc = cpupolicy::tools::serialise(p.get(), ser) )
    {
        fprintf(stderr, "cpupolicy: serialise: %s\n", strerror(-rc));
        return exit_usage;
    }
    static const char *const titles[] = {"Raw", "Host", "PV Max", "HVM Max", "PV Default",
                                         "HVM Default"};
    cpupolicy::tools::print_policy(titles[index], ser);
    // What the importer corrected in the raw data every policy is derived from.
    if ( !notes.empty() )
        printf(" Import corrections:\n");
    static const char regs[][4] = {"eax", "ebx", "ecx", "edx"};
    for ( const cpupolicy_import_note_t &n : notes )
        printf("  %08x:%08x %s bit %u -> %u (line %u): %s\n", n.leaf, n.subleaf,
               regs[n.reg & 3], n.bit, n.value, n.line, n.why);
    return exit_ok;
}

int cmd_compare(const Options &o, int argc, char **argv)
{
    if ( argc != 2 )
        return usage(stderr), exit_usage;
    // Without --index: the host offers its HVM max policy, the guest runs with its
    // HVM default one, as for a migration of a default-configured HVM guest.
    unsigned host_idx = o.index_given ? o.index : CPUPOLICY_HVM_MAX;
    unsigned guest_idx = o.index_given ? o.index : CPUPOLICY_HVM_DEFAULT;
    PolicyPtr host = load(argv[0], o, host_idx);
    if ( !host )
        return exit_usage;
    PolicyPtr guest = load(argv[1], o, guest_idx);
    if ( !guest )
        return exit_usage;

    cpupolicy_err_t e;
    int rc = cpupolicy_is_compatible(host.get(), guest.get(), &e);
    if ( rc == 0 )
    {
        printf("compatible: %s (%s) can run on %s (%s)\n", argv[1], index_names[guest_idx],
               argv[0], index_names[host_idx]);
        return exit_ok;
    }
    if ( rc != -EINVAL )
    {
        fprintf(stderr, "cpupolicy: compare: %s\n", strerror(-rc));
        return exit_usage;
    }
    std::vector<uint32_t> missing(cpupolicy_featureset_size());
    int n = cpupolicy_missing_features(host.get(), guest.get(), missing.data(),
                                       static_cast<uint32_t>(missing.size()));
    printf("incompatible: %s (%s) cannot run on %s (%s)\n", argv[1], index_names[guest_idx],
           argv[0], index_names[host_idx]);
    printf("first failure: %s\n", where(e).c_str());
    if ( n > 0 )
        printf("host lacks %d feature%s: %s\n", n, n == 1 ? "" : "s",
               feature_names(missing).c_str());
    return exit_incompatible;
}

int cmd_level(const Options &o, int argc, char **argv)
{
    if ( argc < 1 )
        return usage(stderr), exit_usage;
    unsigned idx = o.index_given ? o.index : CPUPOLICY_HVM_MAX;
    std::vector<PolicyPtr> hosts;
    std::vector<const cpupolicy_t *> in;
    for ( int i = 0; i < argc; ++i )
    {
        hosts.push_back(load(argv[i], o, idx));
        if ( !hosts.back() )
            return exit_usage;
        in.push_back(hosts.back().get());
    }
    PolicyPtr level(cpupolicy_alloc());
    uint32_t bad = ~0u;
    int rc = cpupolicy_calc_compatible(level.get(), in.data(), static_cast<uint32_t>(in.size()), &bad);
    if ( rc )
    {
        if ( bad != ~0u && bad < in.size() )
            fprintf(stderr, "cpupolicy: level: %s cannot be levelled with %s (vendor differs)\n",
                    argv[bad], argv[0]);
        else
            fprintf(stderr, "cpupolicy: level: %s\n", strerror(-rc));
        return exit_usage;
    }
    std::vector<uint32_t> lfs = featureset_of(level.get());
    print_featureset(lfs);
    for ( int i = 0; i < argc; ++i )
    {
        std::vector<uint32_t> hfs = featureset_of(in[i]);
        for ( size_t w = 0; w < hfs.size(); ++w )
            hfs[w] &= ~lfs[w];
        std::string lost = feature_names(hfs);
        printf("%s loses: %s\n", argv[i], lost.empty() ? "(nothing)" : lost.c_str());
    }
    return exit_ok;
}

// --- masking ----------------------------------------------------------------------------

struct HandleCloser {
    void operator()(cpupolicy_handle_t *h) const { cpupolicy_close(h); }
};
using HandlePtr = std::unique_ptr<cpupolicy_handle_t, HandleCloser>;

// The levelling capability bits (cpupolicy.h, Xen's XEN_SYSCTL_CPU_LEVELCAP_*) and what
// each levels, worded as `xen-cpuid --masking` words them.  SDM vol. 3 / AMD BKDGs:

using cpupolicy::cmd::word_label;

unsigned count_features(const std::vector<uint32_t> &fs)
{
    unsigned n = 0;
    for ( uint32_t w : fs )
        n += static_cast<unsigned>(__builtin_popcount(w));
    return n;
}

// "TITLE: N" then one line per word that has any: "  LABEL: name name".
void print_by_word(const char *title, const std::vector<uint32_t> &fs)
{
    printf("%s: %u\n", title, count_features(fs));
    for ( uint32_t w = 0; w < fs.size(); ++w )
        if ( fs[w] )
        {
            std::vector<uint32_t> one(fs.size(), 0);
            one[w] = fs[w];
            printf("  %s: %s\n", word_label(w).c_str(), feature_names(one).c_str());
        }
}

int masking_failed(const char *what, int rc)
{
    fprintf(stderr, "cpupolicy: masking: %s: %s\n", what, strerror(-rc));
    return exit_usage;
}

// What a PV toolstack asks before placing a guest on a host without CPUID faulting:
// which features the guest's CPUID instruction will show although its policy hides them
// (leaked), and which its policy offers that it cannot see (lost) - a PV guest's CPUID
// runs on the hardware, levelled only by the masks the host has (docs/hypervisor.md,
// "What this host cannot level").
// The host of `masking`: the embedded simulated hypervisor on HOST_PATH (or this
// machine's CPU for "native"), as cpupolicy_open URIs name it.  A comma would end the
// dump path inside the URI.  0, or the exit status after saying what was wrong.
int masking_host_uri(const Options &o, const char *host_path, std::string &uri)
{
    if ( !strcmp(host_path, "native") )
    {
        if ( o.boot_options )
        {
            fprintf(stderr, "cpupolicy: masking: --boot-options need a HOST dump file: the "
                            "embedded host on this machine's CPU boots without options\n");
            return exit_usage;
        }
        uri.clear();
        return 0;
    }
    if ( strchr(host_path, ',') )
    {
        fprintf(stderr, "cpupolicy: masking: %s: a host dump path cannot contain ','\n",
                printable(host_path).c_str());
        return exit_usage;
    }
    uri = std::string("sim:dump=") + host_path;
    // boot= last: it takes the rest of the URI (a Xen command line or the bare feature
    // list the other subcommands accept), so the options cannot add URI options.
    if ( o.boot_options )
        uri += std::string(",boot=") + o.boot_options;
    return 0;
}

// The guest's policy: GUEST_PATH's policy at `idx` (same vendor as the host), or the
// host's own policy at `idx`.  `what` says which, for the report.
int masking_guest_source(cpupolicy_handle_t *h, const Options &o, const char *host_path,
                         const char *guest_path, unsigned idx, PolicyPtr &src,
                         std::string &what)
{
    PolicyPtr host_raw(cpupolicy_alloc());
    if ( !host_raw )
        return masking_failed("allocating a policy", -ENOMEM);
    if ( int rc = cpupolicy_get_system_policy(h, CPUPOLICY_RAW, host_raw.get()) )
        return masking_failed("reading the host's raw policy", rc);
    if ( !guest_path )
    {
        src.reset(cpupolicy_alloc());
        if ( !src )
            return masking_failed("allocating a policy", -ENOMEM);
        if ( int rc = cpupolicy_get_system_policy(h, idx, src.get()) )
            return masking_failed("reading the host's policy", rc);
        what = std::string(index_names[idx]) + " of the host";
        return 0;
    }
    Options go = o;
    go.boot_options = nullptr;  // the options are the host hypervisor's
    src = load(guest_path, go, idx);
    if ( !src )
        return exit_usage;
    const std::string gv = cpupolicy::tools::vendor_of(src.get()), hv = cpupolicy::tools::vendor_of(host_raw.get());
    if ( gv != hv )
    {
        fprintf(stderr, "cpupolicy: masking: %s is %s but %s is %s: a guest is not "
                        "levelled across vendors\n", guest_path, gv.c_str(), host_path,
                hv.c_str());
        return exit_usage;
    }
    what = std::string(guest_path) + " (" + index_names[idx] + "), levelled onto the host";
    return 0;
}

// Levelled onto the host: what its PV max lacks is dropped (and said), the rest is set
// on a new PV domain through the hypercall a toolstack uses, which also takes away the
// dependants of anything dropped.
int masking_create_guest(cpupolicy_handle_t *h, const cpupolicy_t *src,
                         std::vector<uint32_t> &dropped, uint32_t &domid)
{
    const uint32_t nr = cpupolicy_featureset_size();
    std::vector<uint32_t> want = featureset_of(src), pv_max(nr);
    uint32_t got_nr = nr;
    if ( int rc = cpupolicy_get_featureset(h, CPUPOLICY_FEATURESET_PV_MAX, &got_nr,
                                           pv_max.data()) )
        return masking_failed("reading the host's pv-max featureset", rc);
    dropped.assign(nr, 0);
    for ( uint32_t w = 0; w < nr; ++w )
    {
        dropped[w] = want[w] & ~pv_max[w];
        want[w] &= pv_max[w];
    }
    if ( int rc = cpupolicy_domain_create(h, CPUPOLICY_DOMAIN_PV, &domid) )
        return masking_failed("creating a PV domain", rc);
    cpupolicy_err_t err;
    if ( int rc = cpupolicy_set_featureset(h, domid, want.data(), nr, &err) )
    {
        fprintf(stderr, "cpupolicy: masking: setting the guest's featureset: %s at %s\n",
                strerror(-rc), where(err).c_str());
        return exit_usage;
    }
    return 0;
}

// What the host's masking or faulting makes of the guest: caps, featureset, the gap.
int masking_report(cpupolicy_handle_t *h, const Options &o, const char *host_path,
                   const std::string &guest_what, uint32_t domid,
                   const std::vector<uint32_t> &dropped)
{
    const uint32_t nr = cpupolicy_featureset_size();
    PolicyPtr dom(cpupolicy_alloc());
    if ( !dom )
        return masking_failed("allocating a policy", -ENOMEM);
    if ( int rc = cpupolicy_get_domain_policy(h, domid, dom.get()) )
        return masking_failed("reading the domain's policy", rc);
    uint32_t caps = 0, flags = 0;
    std::vector<uint32_t> leaked(nr), lost(nr);
    if ( int rc = cpupolicy_get_levelling_caps(h, &caps) )
        return masking_failed("reading the levelling caps", rc);
    if ( int rc = cpupolicy_sim_levelling_gap(h, domid, &flags, leaked.data(), lost.data(), nr) )
        return masking_failed("reading the levelling gap", rc);

    printf("Host: %s%s%s%s\n", host_path, o.boot_options ? " (boot options '" : "",
           o.boot_options ? o.boot_options : "", o.boot_options ? "')" : "");
    cpupolicy::tools::print_levelling_caps(caps);
    printf("Guest: %s, PV domain %" PRIu32 "\n", guest_what.c_str(), domid);
    print_by_word("Dropped (beyond the host's pv-max)", dropped);
    printf("Guest featureset: ");
    print_featureset(featureset_of(dom.get()));
    print_by_word("Leaked (seen by the guest, not in its policy)", leaked);
    print_by_word("Lost (in its policy, not seen by the guest)", lost);
    if ( flags & CPUPOLICY_GAP_COMPLETE )
    {
        printf("Levelling: complete, %s\n",
               flags & CPUPOLICY_GAP_BY_FAULTING ? "exact by CPUID faulting" : "by masking");
        return exit_ok;
    }
    printf("Levelling: incomplete, %u leaked, %u lost\n", count_features(leaked),
           count_features(lost));
    return exit_incompatible;
}

int cmd_masking(const Options &o, int argc, char **argv)
{
    if ( argc < 1 || argc > 2 )
        return usage(stderr), exit_usage;
    const char *host_path = argv[0], *guest_path = argc > 1 ? argv[1] : nullptr;
    const unsigned idx = o.index_given ? o.index : CPUPOLICY_PV_DEFAULT;

    std::string uri;
    if ( int st = masking_host_uri(o, host_path, uri) )
        return st;
    cpupolicy_handle_t *raw_h = nullptr;
    if ( int rc = cpupolicy_open(&raw_h, uri.c_str()) )
    {
        const char *why = cpupolicy_last_error();
        fprintf(stderr, "cpupolicy: masking: cannot boot a host on %s: %s\n",
                printable(host_path).c_str(), why && *why ? why : strerror(-rc));
        return exit_usage;
    }
    HandlePtr h(raw_h);
    PolicyPtr src;
    std::string guest_what;
    if ( int st = masking_guest_source(h.get(), o, host_path, guest_path, idx, src, guest_what) )
        return st;
    std::vector<uint32_t> dropped;
    uint32_t domid = ~0u;
    if ( int st = masking_create_guest(h.get(), src.get(), dropped, domid) )
        return st;
    return masking_report(h.get(), o, host_path, guest_what, domid, dropped);
}

} // namespace

int run(int argc, char **argv)
{
    if ( argc < 2 )
        return usage(stderr), exit_usage;
    if ( !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help") )
        return usage(stdout), exit_ok;

    const char *cmd = argv[1];
    if ( !strcmp(cmd, "model") )
        return cmd_model(argc - 1, argv + 1);
    // The toolstack subcommands (toolstack/cpupolicy/cmd_*.cpp).
    if ( !strcmp(cmd, "pool") )
        return cpupolicy::cmd::cmd_pool(argc - 2, argv + 2);
    if ( !strcmp(cmd, "vm") )
        return cpupolicy::cmd::cmd_vm(argc - 2, argv + 2);
    for ( int i = 2; i < argc; ++i )
        if ( (!strcmp(cmd, "compare") && (cpupolicy::cmd::is_toolstack_source(argv[i]) ||
                                          !strcmp(argv[i], "--json") || !strcmp(argv[i], "--store"))) ||
             (!strcmp(cmd, "policy") && (cpupolicy::cmd::is_toolstack_source(argv[i]) ||
                                         !strncmp(argv[i], "--format", 8))) )
            return !strcmp(cmd, "compare") ? cpupolicy::cmd::cmd_compare_any(argc - 1, argv + 1)
                                           : cpupolicy::cmd::cmd_policy_any(argc - 1, argv + 1);
    Options o;
    optind = 2;
    int c;
    while ( (c = getopt_long(argc, argv, "i:b:c:h", long_options, nullptr)) != -1 )
    {
        switch ( c ) {
        case 'i':
            if ( parse_index(optarg, &o.index) )
            {
                fprintf(stderr, "cpupolicy: unknown --index '%s' (raw, host, pv-max, hvm-max, "
                                "pv-default, hvm-default)\n", optarg);
                return exit_usage;
            }
            o.index_given = true;
            break;
        case 'b':
            o.boot_options = optarg;
            break;
        case 'c': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 0);
            if ( *optarg == '\0' || *end || v > 4096 )
            {
                fprintf(stderr, "cpupolicy: bad --cpu '%s'\n", optarg);
                return exit_usage;
            }
            o.cpu = static_cast<unsigned>(v);
            break;
        }
        case 'h':
            return usage(stdout), exit_ok;
        default:
            return usage(stderr), exit_usage;
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    if ( !strcmp(cmd, "featureset") )
        return cmd_featureset(o, nargs, args);
    if ( !strcmp(cmd, "policy") )
        return cmd_policy(o, nargs, args);
    if ( !strcmp(cmd, "compare") )
        return cmd_compare(o, nargs, args);
    if ( !strcmp(cmd, "level") )
        return cmd_level(o, nargs, args);
    if ( !strcmp(cmd, "masking") )
        return cmd_masking(o, nargs, args);
    fprintf(stderr, "cpupolicy: unknown command '%s'\n", cmd);
    usage(stderr);
    return exit_usage;
}

int main(int argc, char **argv)
{
    return cpupolicy::tools::finish_output("cpupolicy", run(argc, argv), exit_usage);
}
