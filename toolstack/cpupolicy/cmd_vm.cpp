// SPDX-License-Identifier: MIT
// cpupolicy vm create|show|list|destroy|migrate-check|migrate (docs/toolstack.md, "VMs").
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <memory>
#include <vector>

#include "cmd_toolstack.hpp"

namespace cpupolicy::cmd {

namespace {

void usage(FILE *f)
{
    fprintf(f,
            "Usage: cpupolicy vm COMMAND [--store PATH] [--json] ...\n"
            "  create NAME --pool P --on H [--model M] [--cpuid STR]... [--features LIST]\n"
            "  show NAME\n"
            "  list [--pool P]\n"
            "  destroy NAME\n"
            "  migrate-check NAME --to H     exit 0 compatible, 1 not\n"
            "  migrate NAME --to H\n"
            "STR: an xl.cfg cpuid= string, \"host,avx512f=0,...\" or\n"
            "     \"0x00000007,0:ebx=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0\"\n"
            "LIST: +f,-f,require:f,force:f,optional:f,disable:f,forbid:f\n");
}

void render_create(json &j)
{
    if ( j.contains("error") )
    {
        json &e = j["error"];
        printf("VM %s not created: --%s%s column %s: %s\n", str(j["vm"]).c_str(),
               str(e["input"]).c_str(),
               str(e["input"]) == "cpuid" ? ("[" + str(e["index"]) + "]").c_str() : "",
               str(e["column"]).c_str(), str(e["what"]).c_str());
        return;
    }
    json &ch = j["changes"];
    printf("changes to the pool level's default policy (%zu):\n", ch.size());
    for ( auto &c : ch )
        printf("  %c%s  %s%s\n", c["set"].get<bool>() ? '+' : '-', str(c["feature"]).c_str(),
               c["named"].get<bool>() ? "by " : "pulled along by ", str(c["cause"]).c_str());
    json &b = j["blockers"];
    if ( !b.empty() )
    {
        printf("blockers (%zu):\n", b.size());
        print_items(b, "  ", "vm", "max");
    }
    if ( j["created"].get<bool>() )
        printf("VM %s created on %s (pool %s) as domain %s, policy set before start\n"
               "featureset: %s\n", str(j["vm"]).c_str(), str(j["host"]).c_str(),
               str(j["pool"]).c_str(), str(j["domid"]).c_str(), str(j["featureset"]).c_str());
    else
        printf("VM %s not created: nothing was created\n", str(j["vm"]).c_str());
}

void print_vm(json &v)
{
    printf("%-16s pool %-12s host %-24s domid %-4s %s\n", str(v["name"]).c_str(),
           str(v["pool"]).c_str(), str(v["host"]).c_str(), str(v["domid"]).c_str(),
           str(v["featureset"]).c_str());
}

void render_show(json &j)
{
    json &v = j["vm"];
    print_vm(v);
    json &cfg = v["config"];
    if ( cfg.is_object() )
        printf("  cpuid: %s\n  features: %s\n", join(cfg["cpuid"], " ").c_str(), str(cfg["features"]).c_str());
    printf("  features: %s\n", join(v["features"]).c_str());
}

void render_list(json &j)
{
    for ( auto &v : j["vms"] )
        print_vm(v);
}

void render_destroy(json &j)
{
    printf("VM %s destroyed (domain %s on %s)\n", str(j["vm"]).c_str(), str(j["domid"]).c_str(),
           str(j["host"]).c_str());
}

void render_check(json &j)
{
    printf("VM %s: %s -> %s\n", str(j["vm"]).c_str(), str(j["from"]).c_str(), str(j["to"]).c_str());
    print_verdict(j["verdict"]);
}

void render_migrate(json &j)
{
    render_check(j);
    if ( j["migrated"].get<bool>() )
        printf("migrated: %s now runs on %s as domain %s\n", str(j["vm"]).c_str(),
               str(j["to"]).c_str(), str(j["domid"]).c_str());
    else
        printf("not migrated%s%s\n", j.contains("failed_step") ? ": failed at " : "",
               j.contains("failed_step") ? str(j["failed_step"]).c_str() : "");
}

const option options[] = {
    {"store", required_argument, nullptr, 's'},
    {"json", no_argument, nullptr, 'j'},
    {"pool", required_argument, nullptr, 'p'},
    {"on", required_argument, nullptr, 'o'},
    {"to", required_argument, nullptr, 't'},
    {"model", required_argument, nullptr, 'm'},
    {"cpuid", required_argument, nullptr, 'c'},
    {"features", required_argument, nullptr, 'F'},
    {"help", no_argument, nullptr, 'h'},
    {nullptr, 0, nullptr, 0},
};

} // namespace

int cmd_vm(int argc, char **argv)
{
    if ( argc < 1 )
        return usage(stderr), exit_usage;
    const std::string sub = argv[0];
    if ( sub == "--help" || sub == "-h" || sub == "help" )
        return usage(stdout), exit_ok;
    Common c;
    const char *pool = nullptr, *on = nullptr, *to = nullptr, *model = nullptr, *features = nullptr;
    std::vector<const char *> cpuid;
    optind = 1;
    int o;
    while ( (o = getopt_long(argc, argv, "h", options, nullptr)) != -1 )
        switch ( o ) {
        case 's': c.store = optarg; break;
        case 'j': c.json = true; break;
        case 'p': pool = optarg; break;
        case 'o': on = optarg; break;
        case 't': to = optarg; break;
        case 'm': model = optarg; break;
        case 'c': cpuid.push_back(optarg); break;
        case 'F':
            if ( features )
            {
                fprintf(stderr, "cpupolicy: vm: give --features once (a comma-separated list)\n");
                return exit_usage;
            }
            features = optarg;
            break;
        case 'h': return usage(stdout), exit_ok;
        default: return usage(stderr), exit_usage;
        }
    char **a = argv + optind;
    const int n = argc - optind;
    std::unique_ptr<cpupolicy_store_t, void (*)(cpupolicy_store_t *)> s(nullptr, cpupolicy_store_close);
    auto open = [&] {
        s.reset(open_store(c));
        return s != nullptr;
    };
    auto need = [&](int lo, int hi) {
        if ( n < lo || n > hi )
        {
            fprintf(stderr, "cpupolicy: vm %s: wrong number of arguments\n", sub.c_str());
            usage(stderr);
            return false;
        }
        return true;
    };
    char *doc = nullptr;
    if ( sub == "create" )
    {
        if ( !need(1, 1) )
            return exit_usage;
        if ( !pool || !on )
        {
            fprintf(stderr, "cpupolicy: vm create: --pool P and --on H are required\n");
            return exit_usage;
        }
        if ( !open() )
            return exit_usage;
        cpupolicy_vm_config_t cfg{a[0], pool, on, model, cpuid.data(), uint32_t(cpuid.size()), features};
        int rc = cpupolicy_vm_create(s.get(), &cfg, &doc);
        return finish(s.get(), c, rc, doc, render_create);
    }
    if ( sub == "show" )
    {
        if ( !need(1, 1) || !open() )
            return exit_usage;
        int rc = cpupolicy_vm_show(s.get(), a[0], &doc);
        return finish(s.get(), c, rc, doc, render_show);
    }
    if ( sub == "list" )
    {
        if ( !need(0, 0) || !open() )
            return exit_usage;
        int rc = cpupolicy_vm_list(s.get(), pool, &doc);
        return finish(s.get(), c, rc, doc, render_list);
    }
    if ( sub == "destroy" )
    {
        if ( !need(1, 1) || !open() )
            return exit_usage;
        int rc = cpupolicy_vm_destroy(s.get(), a[0], &doc);
        return finish(s.get(), c, rc, doc, render_destroy);
    }
    if ( sub == "migrate-check" || sub == "migrate" )
    {
        if ( !need(1, 1) )
            return exit_usage;
        if ( !to )
        {
            fprintf(stderr, "cpupolicy: vm %s: --to H is required\n", sub.c_str());
            return exit_usage;
        }
        if ( !open() )
            return exit_usage;
        int rc = sub == "migrate-check" ? cpupolicy_vm_migrate_check(s.get(), a[0], to, &doc)
                                        : cpupolicy_vm_migrate(s.get(), a[0], to, &doc);
        return finish(s.get(), c, rc, doc, sub == "migrate-check" ? render_check : render_migrate);
    }
    fprintf(stderr, "cpupolicy: unknown vm command '%s'\n", sub.c_str());
    usage(stderr);
    return exit_usage;
}

} // namespace cpupolicy::cmd
