// SPDX-License-Identifier: MIT
// cpupolicy pool create|join|eject|refresh|show|list|history (docs/toolstack.md, "Pools").
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <memory>

#include "cmd_toolstack.hpp"

namespace cpupolicy::cmd {

namespace {

void usage(FILE *f)
{
    fprintf(f,
            "Usage: cpupolicy pool COMMAND [--store PATH] [--json] [--quiet] ...\n"
            "  create NAME [--type hvm|pv]\n"
            "  join NAME URI... [--host-name H] [--force]   several URIs: joined in turn,\n"
            "                            stopping at the first that fails (--host-name: one URI)\n"
            "  eject NAME H [--force]\n"
            "  refresh NAME [H]\n"
            "  show NAME\n"
            "  list\n"
            "  history NAME\n"
            "  report NAME --html FILE   one self-contained HTML page: hosts by features,\n"
            "                            numeric fields, where each VM could move (FILE - :\n"
            "                            standard output)\n"
            "On a terminal, joining, refreshing and reports show their progress on standard\n"
            "error; -q, --quiet (or --json) turns that off.\n");
}

std::string vm_names(json &arr, const char *key)
{
    std::string v;
    for ( auto &x : arr )
        v += (v.empty() ? "" : " ") + str(x[key]);
    return v;
}

void print_stranded(json &st)
{
    if ( !st.is_array() || st.empty() )
        return;
    printf("VMs that would no longer fit the level (%zu):\n", st.size());
    for ( auto &v : st )
    {
        printf("  %s (on %s) would lose:\n", str(v["vm"]).c_str(), str(v["host"]).c_str());
        print_loss(v["loses"], "    ", "vm", "level");
    }
}

void print_level_change(json &l)
{
    printf("level: %s\n    -> %s\n", str(l["before"]).c_str(), str(l["after"]).c_str());
    printf("level lost:\n");
    print_loss(l["lost"], "  ", "old", "new");
    if ( l["before"].is_null() )
        printf("level gained: everything (the first member: the level is its max policy)\n");
    else
        printf("level gained: %s\n", l["gained"].empty() ? "(nothing)" : join(l["gained"]).c_str());
}

void render_create(json &j)
{
    printf("pool %s created (%s)\n", str(j["pool"]["name"]).c_str(), str(j["pool"]["type"]).c_str());
}

void render_join(json &j)
{
    json &h = j["host"];
    printf("host %s (%s, %s family %s model %s stepping %s) %s pool %s\n", str(h["name"]).c_str(),
           str(h["uri"]).c_str(), str(h["vendor"]).c_str(), str(h["family"]).c_str(),
           str(h["model"]).c_str(), str(h["stepping"]).c_str(),
           j["accepted"].get<bool>() ? "joined" : "refused to join", str(j["pool"]).c_str());
    print_level_change(j["level"]);
    print_stranded(j["stranded"]);
    if ( !j["stranded"].empty() && j["accepted"].get<bool>() )
        printf("joined with --force: these VMs no longer fit every member: %s\n",
               vm_names(j["stranded"], "vm").c_str());
}

void render_eject(json &j)
{
    printf("host %s %s pool %s\n", str(j["host"]).c_str(),
           j["accepted"].get<bool>() ? "ejected from" : "not ejected from", str(j["pool"]).c_str());
    if ( !j["vms_on_host"].empty() )
        printf("VMs running on it: %s%s\n", join(j["vms_on_host"]).c_str(),
               j["accepted"].get<bool>() ? " (forgotten, --force)" : "");
    print_level_change(j["level"]);
}

void render_refresh(json &j)
{
    for ( auto &h : j["hosts"] )
    {
        printf("host %s: %s\n", str(h["name"]).c_str(), h["changed"].get<bool>() ? "changed" : "unchanged");
        for ( auto &i : h["identity"] )
            printf("  %s: %s -> %s\n", str(i["field"]).c_str(), str(i["old"]).c_str(), str(i["new"]).c_str());
        printf("  lost:\n");
        print_loss(h["lost"], "    ", "old", "new");
        printf("  gained: %s\n", h["gained"].empty() ? "(nothing)" : join(h["gained"]).c_str());
    }
    print_level_change(j["level"]);
    print_stranded(j["stranded"]);
}

void render_show(json &j)
{
    json &p = j["pool"];
    printf("pool %s (%s), generation %s\n", str(p["name"]).c_str(), str(p["type"]).c_str(),
           str(p["generation"]).c_str());
    if ( j["level"].is_null() )
        printf("level: (no members)\n");
    else
    {
        printf("level: %s\n", str(j["level"]["featureset"]).c_str());
        printf("level default: %s\n", str(j["level"]["default_featureset"]).c_str());
    }
    printf("members (%zu):\n", j["members"].size());
    for ( auto &m : j["members"] )
    {
        const std::string boot = str(m["boot_options"]);
        printf("  %s: %s %s family %s model %s stepping %s%s%s\n", str(m["name"]).c_str(),
               str(m["uri"]).c_str(), str(m["vendor"]).c_str(), str(m["family"]).c_str(),
               str(m["model"]).c_str(), str(m["stepping"]).c_str(), boot.empty() ? "" : " boot ",
               boot.c_str());
        if ( m.contains("loses") )
        {
            printf("    loses to the level:\n");
            print_loss(m["loses"], "      ", "host", "level");
        }
    }
    printf("VMs (%zu):", j["vms"].size());
    for ( auto &v : j["vms"] )
        printf(" %s@%s", str(v["name"]).c_str(), str(v["host"]).c_str());
    printf("\n");
}

void render_list(json &j)
{
    for ( auto &p : j["pools"] )
        printf("%-16s %-3s hosts %-3s VMs %-3s level %s\n", str(p["name"]).c_str(),
               str(p["type"]).c_str(), str(p["nr_hosts"]).c_str(), str(p["nr_vms"]).c_str(),
               str(p["level_featureset"]).c_str());
}

void render_history(json &j)
{
    for ( auto &h : j["history"] )
    {
        printf("#%s %s%s%s: %s\n", str(h["seq"]).c_str(), str(h["event"]).c_str(),
               str(h["host"]).empty() ? "" : " ", str(h["host"]).c_str(),
               str(h["level_featureset"]).c_str());
        json &d = h["detail"];
        if ( !d.is_object() || !d.contains("lost") )
            continue;
        json &lost = d["lost"];
        if ( !lost["features"].empty() )
            printf("    lost features (%zu): %s\n", lost["features"].size(),
                   join(lost["features"]).c_str());
        for ( auto &it : lost["fields"] )
            printf("    lost field %s (%s): %s -> %s\n", str(it["name"]).c_str(), where(it).c_str(),
                   str(it["old"]).c_str(), str(it["new"]).c_str());
        if ( d.contains("stranded") && !d["stranded"].empty() )
            printf("    stranded (joined with --force): %s\n", vm_names(d["stranded"], "vm").c_str());
        if ( d.contains("forgotten_vms") && !d["forgotten_vms"].empty() )
            printf("    forgotten VMs (ejected with --force): %s\n", join(d["forgotten_vms"]).c_str());
    }
}

const option options[] = {
    {"store", required_argument, nullptr, 's'},
    {"json", no_argument, nullptr, 'j'},
    {"force", no_argument, nullptr, 'f'},
    {"type", required_argument, nullptr, 't'},
    {"host-name", required_argument, nullptr, 'n'},
    {"html", required_argument, nullptr, 'H'},
    {"quiet", no_argument, nullptr, 'q'},
    {"help", no_argument, nullptr, 'h'},
    {nullptr, 0, nullptr, 0},
};

} // namespace

int cmd_pool(int argc, char **argv)
{
    if ( argc < 1 )
        return usage(stderr), exit_usage;
    const std::string sub = argv[0];
    if ( sub == "--help" || sub == "-h" || sub == "help" )
        return usage(stdout), exit_ok;
    Common c;
    const char *type = "hvm", *host_name = nullptr, *html = nullptr;
    optind = 1;
    int o;
    while ( (o = getopt_long(argc, argv, "hq", options, nullptr)) != -1 )
        switch ( o ) {
        case 's': c.store = optarg; break;
        case 'j': c.json = true; break;
        case 'f': c.force = true; break;
        case 't': type = optarg; break;
        case 'n': host_name = optarg; break;
        case 'H': html = optarg; break;
        case 'q': c.quiet = true; break;
        case 'h': return usage(stdout), exit_ok;
        default: return usage(stderr), exit_usage;
        }
    char **a = argv + optind;
    const int n = argc - optind;
    auto need = [&](int lo, int hi) {
        if ( n < lo || n > hi )
        {
            fprintf(stderr, "cpupolicy: pool %s: wrong number of arguments\n", sub.c_str());
            usage(stderr);
            return false;
        }
        return true;
    };
    std::unique_ptr<cpupolicy_store_t, void (*)(cpupolicy_store_t *)> s(nullptr, cpupolicy_store_close);
    auto open = [&] {
        s.reset(open_store(c));
        return s != nullptr;
    };
    char *doc = nullptr;
    const unsigned flags = c.force ? CPUPOLICY_FORCE : 0;
    if ( sub == "create" )
    {
        if ( !need(1, 1) )
            return exit_usage;
        unsigned t;
        if ( !strcmp(type, "hvm") )
            t = CPUPOLICY_DOMAIN_HVM;
        else if ( !strcmp(type, "pv") )
            t = CPUPOLICY_DOMAIN_PV;
        else
        {
            fprintf(stderr, "cpupolicy: pool create: --type '%s': expected hvm or pv\n", type);
            return exit_usage;
        }
        if ( !open() )
            return exit_usage;
        int rc = cpupolicy_pool_create(s.get(), a[0], t, &doc);
        return finish(s.get(), c, rc, doc, render_create);
    }
    Progress progress(!c.json && !c.quiet);
    if ( sub == "join" )
    {
        if ( !need(2, 1 << 20) )
            return exit_usage;
        if ( host_name && n > 2 )
        {
            fprintf(stderr, "cpupolicy: pool join: --host-name names one host; %d URIs given\n", n - 1);
            return exit_usage;
        }
        if ( !open() )
            return exit_usage;
        // One URI: the library says when it reads the host; several: one step per URI.
        if ( n == 2 )
            cpupolicy_store_set_progress(s.get(), Progress::callback, &progress);
        // One join per URI, each its own transaction and document; the first that fails
        // (refused, unreachable) ends the run with its status.
        int status = exit_ok;
        for ( int i = 1; i < n && status == exit_ok; ++i )
        {
            const std::string step = "joining " + std::string(a[i]);
            if ( n > 2 )
                progress.show(step.c_str(), uint32_t(i - 1), uint32_t(n - 1));
            int rc = cpupolicy_pool_join(s.get(), a[0], a[i], host_name, flags, &doc);
            progress.clear();
            status = finish(s.get(), c, rc, doc, render_join);
            doc = nullptr;
        }
        return status;
    }
    if ( sub == "eject" )
    {
        if ( !need(2, 2) || !open() )
            return exit_usage;
        int rc = cpupolicy_pool_eject(s.get(), a[0], a[1], flags, &doc);
        return finish(s.get(), c, rc, doc, render_eject);
    }
    if ( sub == "refresh" )
    {
        if ( !need(1, 2) || !open() )
            return exit_usage;
        cpupolicy_store_set_progress(s.get(), Progress::callback, &progress);
        int rc = cpupolicy_pool_refresh(s.get(), a[0], n > 1 ? a[1] : nullptr, &doc);
        progress.clear();
        return finish(s.get(), c, rc, doc, render_refresh);
    }
    if ( sub == "show" )
    {
        if ( !need(1, 1) || !open() )
            return exit_usage;
        int rc = cpupolicy_pool_show(s.get(), a[0], &doc);
        return finish(s.get(), c, rc, doc, render_show);
    }
    if ( sub == "list" )
    {
        if ( !need(0, 0) || !open() )
            return exit_usage;
        int rc = cpupolicy_pool_list(s.get(), &doc);
        return finish(s.get(), c, rc, doc, render_list);
    }
    if ( sub == "history" )
    {
        if ( !need(1, 1) || !open() )
            return exit_usage;
        int rc = cpupolicy_pool_history(s.get(), a[0], &doc);
        return finish(s.get(), c, rc, doc, render_history);
    }
    if ( sub == "report" )
    {
        if ( !need(1, 1) )
            return exit_usage;
        if ( !html )
        {
            fprintf(stderr, "cpupolicy: pool report: --html FILE is required (the only format)\n");
            return exit_usage;
        }
        if ( !open() )
            return exit_usage;
        return pool_report(s.get(), a[0], html, progress);
    }
    fprintf(stderr, "cpupolicy: unknown pool command '%s'\n", sub.c_str());
    usage(stderr);
    return exit_usage;
}

} // namespace cpupolicy::cmd
