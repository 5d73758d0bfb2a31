// SPDX-License-Identifier: MIT
// cpupolicy model: named CPU models (docs/models.md), a thin layer over the C ABI of
// cpupolicy_models.h.
//
//   cpupolicy model list     [--source S] [--json]
//   cpupolicy model show     M [--source S] [--json]
//   cpupolicy model check    M (--host URI | --pool P) [--type hvm|pv] [--json]
//   cpupolicy model suggest  (--host URI | --pool P) [--source S] [--type hvm|pv] [--json]
//   cpupolicy model export   M --to libvirt|qemu|xl [--json]
//   cpupolicy model from-dump DUMP --name N [--policy raw|host|max|default]
//                             [--boot-options OPTS] [--cpu N] [--supersedes V --reason R]
//                             [--output FILE]
//   cpupolicy model validate FILE...
// Common: --models-dir DIR (our models), --cpu-map DIR (libvirt's map).
// Exit: 0 success (check: runnable; suggest: found), 1 check: not runnable (suggest: no
// model runnable), 2 bad usage or input.
#include "cmd_model.hpp"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cpupolicy.h"
#include "cpupolicy_models.h"
#include "tool_print.hpp"
#include "cpupolicy_toolstack.h"
#include "cmd_toolstack.hpp"

namespace {

using json = nlohmann::ordered_json;

// Version of every JSON document this command prints (docs/models.md, "JSON").
constexpr int JSON_VERSION = 1;

enum Exit { exit_ok = 0, exit_no = 1, exit_usage = 2 };

struct ModelsDeleter {
    void operator()(cpupolicy_models_t *m) const { cpupolicy_models_free(m); }
};
struct PolicyDeleter {
    void operator()(cpupolicy_t *p) const { cpupolicy_free(p); }
};
struct HandleDeleter {
    void operator()(cpupolicy_handle_t *h) const { cpupolicy_close(h); }
};
using ModelsPtr = std::unique_ptr<cpupolicy_models_t, ModelsDeleter>;
using PolicyPtr = std::unique_ptr<cpupolicy_t, PolicyDeleter>;

struct Opts {
    unsigned source = CPUPOLICY_MODELS_ALL;
    const char *models_dir = nullptr, *cpu_map = nullptr;
    const char *host = nullptr, *pool = nullptr, *store = nullptr;
    bool pv = false, as_json = false, quiet = false;
    const char *to = nullptr, *name = nullptr, *policy = "max", *boot = nullptr, *output = nullptr;
    const char *reason = nullptr;
    unsigned supersedes = 0, cpu = 0;
};

void usage(FILE *f)
{
    fprintf(f,
            "Usage: cpupolicy model SUBCOMMAND [OPTIONS]\n"
            "  list      [--source libvirt|builtin|all]   the models and where they come from\n"
            "  show M    [--source S]                     features, numeric fields, parent, file\n"
            "  check M   --host URI | --pool P            runnable there? every blocker by name\n"
            "  suggest   --host URI | --pool P            the most capable runnable model and\n"
            "                                             the delta to the level\n"
            "  export M  --to libvirt|qemu|xl             libvirt <cpu>, QEMU -cpu, xl cpuid=\n"
            "  from-dump DUMP --name N [--policy raw|host|max|default] [--boot-options OPTS]\n"
            "            [--cpu N] [--supersedes V --reason TEXT] [--output FILE]\n"
            "  validate  FILE...                          check model files against the schema\n"
            "Options: --json, --type hvm|pv (the level's guest type; default hvm),\n"
            "         --models-dir DIR, --cpu-map DIR (libvirt's map; default\n"
            "         /usr/share/libvirt/cpu_map), --store PATH (with --pool),\n"
            "         -q, --quiet (no progress on a terminal while the models load)\n");
}

const char *source_name(unsigned s)
{
    return s == CPUPOLICY_MODELS_BUILTIN ? "builtin" : s == CPUPOLICY_MODELS_LIBVIRT ? "libvirt" : "all";
}

using cpupolicy::tools::feature_name_list;
using cpupolicy::tools::featureset_hex;

std::string joined(const std::vector<std::string> &v)
{
    std::string s;
    for ( const auto &x : v )
        s += (s.empty() ? "" : " ") + x;
    return s.empty() ? "(none)" : s;
}

std::string field_text(unsigned f, uint64_t v)
{
    char b[32];
    snprintf(b, sizeof(b), cpupolicy_model_field_is_set(f) == 1 || f <= 1 ? "0x%" PRIx64 : "%" PRIu64, v);
    return b;
}

ModelsPtr load_models(const Opts &o, unsigned sources)
{
    cpupolicy_models_t *m = nullptr;
    // Loading libvirt's whole CPU map parses every file of it: say so on a terminal.
    cpupolicy::cmd::Progress progress(!o.as_json && !o.quiet);
    progress.show(sources & CPUPOLICY_MODELS_LIBVIRT ? "loading the CPU models and libvirt's CPU map"
                                                     : "loading the CPU models", 0, 0);
    int rc = cpupolicy_models_load(&m, sources, o.models_dir, o.cpu_map);
    progress.clear();
    if ( rc )
    {
        fprintf(stderr, "cpupolicy: loading CPU models: %s\n", cpupolicy_last_error());
        return nullptr;
    }
    return ModelsPtr(m);
}

int find(cpupolicy_models_t *m, const char *name, unsigned sources, uint32_t *idx)
{
    if ( cpupolicy_models_find(m, name, sources, idx) )
    {
        fprintf(stderr, "cpupolicy: no model named '%s' (source %s; `cpupolicy model list`)\n",
                name, source_name(sources));
        return -1;
    }
    return 0;
}

// The level to check against: the max policy of a host, or a pool's level.
PolicyPtr load_level(const Opts &o, json *where)
{
    PolicyPtr p(cpupolicy_alloc());
    if ( !p )
        return nullptr;
    if ( o.pool )
    {
        // The pool's level (its max policy), from the toolstack's store.
        cpupolicy_store_t *st = nullptr;
        int rc = cpupolicy_store_open(&st, o.store);
        if ( rc )
        {
            const char *why = cpupolicy_last_error();
            fprintf(stderr, "cpupolicy: cannot open the store%s%s: %s\n", o.store ? " " : "",
                    o.store ? o.store : "", why && *why ? why : strerror(-rc));
            return nullptr;
        }
        rc = cpupolicy_pool_get_level(st, o.pool, 0, p.get());
        const char *why = rc ? cpupolicy_last_error() : "";
        std::string msg = why && *why ? why : strerror(-rc);
        cpupolicy_store_close(st);
        if ( rc )
        {
            fprintf(stderr, "cpupolicy: the level of pool '%s': %s\n", o.pool, msg.c_str());
            return nullptr;
        }
        *where = {{"kind", "pool"}, {"uri", std::string("pool:") + o.pool}, {"pool", o.pool},
                  {"policy", "level"}};
        return p;
    }
    cpupolicy_handle_t *h = nullptr;
    int rc = cpupolicy_open(&h, o.host);
    if ( rc )
    {
        const char *why = cpupolicy_last_error();
        fprintf(stderr, "cpupolicy: cannot open host '%s': %s\n", o.host,
                why && *why ? why : strerror(-rc));
        return nullptr;
    }
    std::unique_ptr<cpupolicy_handle_t, HandleDeleter> hp(h);
    unsigned idx = o.pv ? CPUPOLICY_PV_MAX : CPUPOLICY_HVM_MAX;
    if ( (rc = cpupolicy_get_system_policy(h, idx, p.get())) )
    {
        fprintf(stderr, "cpupolicy: reading the %s max policy of '%s': %s\n", o.pv ? "PV" : "HVM",
                o.host, strerror(-rc));
        return nullptr;
    }
    *where = {{"kind", "host"}, {"uri", o.host}, {"policy", o.pv ? "pv-max" : "hvm-max"}};
    return p;
}

std::vector<uint32_t> model_fs(cpupolicy_models_t *m, uint32_t idx)
{
    uint32_t nr = cpupolicy_featureset_size();
    std::vector<uint32_t> fs(nr);
    if ( cpupolicy_model_featureset(m, idx, fs.data(), &nr) )
        fs.assign(fs.size(), 0);
    return fs;
}

std::vector<std::string> model_list(cpupolicy_models_t *m, uint32_t idx, unsigned which, uint32_t n)
{
    std::vector<std::string> v;
    for ( uint32_t i = 0; i < n; ++i )
        v.push_back(cpupolicy_model_list_item(m, idx, which, i));
    return v;
}

// --- list ----------------------------------------------------------------------------
int do_list(const Opts &o)
{
    ModelsPtr m = load_models(o, o.source);
    if ( !m )
        return exit_usage;
    json doc = {{"version", JSON_VERSION}, {"models", json::array()}};
    for ( uint32_t i = 0; i < cpupolicy_models_count(m.get()); ++i )
    {
        cpupolicy_model_info_t in;
        if ( cpupolicy_model_get_info(m.get(), i, &in) )
            continue;
        json e = {{"name", in.name},
                  {"source", source_name(in.source)},
                  {"vendor", in.vendor},
                  {"nr_features", in.nr_features},
                  {"file", in.file}};
        if ( *in.parent )
            e["parent"] = in.parent;
        if ( in.source == CPUPOLICY_MODELS_LIBVIRT )
            e["nr_unmapped"] = in.nr_unmapped;
        doc["models"].push_back(e);
    }
    if ( o.as_json )
        return puts(doc.dump(2).c_str()), exit_ok;
    printf("%-34s %-8s %-13s %8s  %s\n", "MODEL", "SOURCE", "VENDOR", "FEATURES", "FILE");
    for ( const auto &e : doc["models"] )
        printf("%-34s %-8s %-13s %8u  %s\n", e["name"].get<std::string>().c_str(),
               e["source"].get<std::string>().c_str(), e["vendor"].get<std::string>().c_str(),
               e["nr_features"].get<unsigned>(), e["file"].get<std::string>().c_str());
    return exit_ok;
}

// --- show ----------------------------------------------------------------------------
json model_json(cpupolicy_models_t *m, uint32_t idx)
{
    cpupolicy_model_info_t in;
    (void)cpupolicy_model_get_info(m, idx, &in);
    std::vector<uint32_t> fs = model_fs(m, idx);
    json j = {{"name", in.name},
              {"base", in.base},
              {"version", in.version},
              {"source", source_name(in.source)},
              {"file", in.file},
              {"line", in.line},
              {"vendor", in.vendor},
              {"parent", *in.parent ? json(in.parent) : json(nullptr)}};
    j["origin"] = *in.origin_dump ? json{{"dump", in.origin_dump}, {"policy", in.origin_policy},
                                         {"boot_options", in.origin_boot}}
                                  : json(nullptr);
    j["supersedes"] = in.supersedes ? json{{"version", in.supersedes}, {"reason", in.supersedes_reason}}
                                    : json(nullptr);
    j["signature"] = in.nr_signatures ? json{{"family", in.family}, {"model", in.model},
                                             {"stepping", in.stepping == ~0u ? json(nullptr) : json(in.stepping)}}
                                      : json(nullptr);
    j["featureset"] = featureset_hex(fs);
    j["features"] = feature_name_list(fs);
    json num = json::object();
    for ( unsigned f = 0; f < CPUPOLICY_MODEL_NR_FIELDS; ++f )
    {
        uint64_t v;
        if ( !cpupolicy_model_field(m, idx, f, &v) )
            num[cpupolicy_model_field_name(f)] = v;
    }
    j["numeric"] = num;
    if ( in.source == CPUPOLICY_MODELS_LIBVIRT )
        j["libvirt"] = {{"features", model_list(m, idx, CPUPOLICY_MODEL_LIBVIRT_FEATURES, in.nr_libvirt_features)},
                        {"unmapped", model_list(m, idx, CPUPOLICY_MODEL_UNMAPPED, in.nr_unmapped)},
                        {"removed", model_list(m, idx, CPUPOLICY_MODEL_REMOVED, in.nr_removed)}};
    return j;
}

int do_show(const Opts &o, int nargs, char **args)
{
    if ( nargs != 1 )
        return usage(stderr), exit_usage;
    ModelsPtr m = load_models(o, o.source);
    uint32_t idx;
    if ( !m || find(m.get(), args[0], o.source, &idx) )
        return exit_usage;
    json j = model_json(m.get(), idx);
    if ( o.as_json )
        return puts(json{{"version", JSON_VERSION}, {"model", j}}.dump(2).c_str()), exit_ok;
    printf("Model:      %s (%s)\n", j["name"].get<std::string>().c_str(), j["source"].get<std::string>().c_str());
    printf("File:       %s:%ld\n", j["file"].get<std::string>().c_str(), j["line"].get<long>());
    printf("Vendor:     %s\n", j["vendor"].get<std::string>().empty() ? "(any)" : j["vendor"].get<std::string>().c_str());
    if ( !j["parent"].is_null() )
        printf("Parent:     %s\n", j["parent"].get<std::string>().c_str());
    if ( !j["origin"].is_null() )
        printf("Origin:     %s, %s policy%s%s\n", j["origin"]["dump"].get<std::string>().c_str(),
               j["origin"]["policy"].get<std::string>().c_str(),
               j["origin"]["boot_options"].get<std::string>().empty() ? "" : ", boot options ",
               j["origin"]["boot_options"].get<std::string>().c_str());
    if ( !j["supersedes"].is_null() )
        printf("Supersedes: v%u: %s\n", j["supersedes"]["version"].get<unsigned>(),
               j["supersedes"]["reason"].get<std::string>().c_str());
    if ( !j["signature"].is_null() )
    {
        printf("Signature:  family %u model %u", j["signature"]["family"].get<unsigned>(),
               j["signature"]["model"].get<unsigned>());
        if ( !j["signature"]["stepping"].is_null() )
            printf(" stepping %u", j["signature"]["stepping"].get<unsigned>());
        printf("\n");
    }
    for ( auto it = j["numeric"].begin(); it != j["numeric"].end(); ++it )
    {
        unsigned f = 0;
        while ( f < CPUPOLICY_MODEL_NR_FIELDS && it.key() != cpupolicy_model_field_name(f) )
            ++f;
        printf("  %-18s %s\n", it.key().c_str(), field_text(f, it.value().get<uint64_t>()).c_str());
    }
    printf("Featureset: %s\n", j["featureset"].get<std::string>().c_str());
    printf("Features (%zu): %s\n", j["features"].size(),
           joined(j["features"].get<std::vector<std::string>>()).c_str());
    if ( j.contains("libvirt") )
    {
        printf("libvirt features without a cpupolicy counterpart: %s\n",
               joined(j["libvirt"]["unmapped"].get<std::vector<std::string>>()).c_str());
        printf("Removed (libvirt policy='disable'): %s\n",
               joined(j["libvirt"]["removed"].get<std::vector<std::string>>()).c_str());
    }
    return exit_ok;
}

// --- check ---------------------------------------------------------------------------
json blockers_json(cpupolicy_models_t *m, uint32_t idx, const cpupolicy_t *level, bool *ok)
{
    uint32_t nr = 0;
    (void)cpupolicy_model_check(m, idx, level, nullptr, &nr);
    std::vector<cpupolicy_model_blocker_t> b(nr ? nr : 1);
    (void)cpupolicy_model_check(m, idx, level, b.data(), &nr);
    json arr = json::array();
    for ( uint32_t i = 0; i < nr; ++i )
    {
        const auto &x = b[i];
        if ( x.kind == CPUPOLICY_BLOCKER_VENDOR )
            arr.push_back({{"kind", "vendor"}, {"name", "vendor"}, {"model", x.model_vendor}, {"level", x.level_vendor}});
        else if ( x.kind == CPUPOLICY_BLOCKER_FEATURE )
            arr.push_back({{"kind", "feature"}, {"name", x.name}, {"feature", x.id}});
        else
            arr.push_back({{"kind", "field"}, {"name", x.name}, {"model", x.model_value}, {"level", x.level_value},
                           {"compare", cpupolicy_model_field_is_set(x.id) == 1 ? "subset" : "le"}});
    }
    *ok = nr == 0;
    return arr;
}

std::string blocker_text(const json &b)
{
    std::string k = b["kind"];
    if ( k == "feature" )
        return "feature " + b["name"].get<std::string>();
    if ( k == "vendor" )
        return "vendor: model " + b["model"].get<std::string>() + ", level " + b["level"].get<std::string>();
    unsigned f = 0;
    while ( f < CPUPOLICY_MODEL_NR_FIELDS && b["name"].get<std::string>() != cpupolicy_model_field_name(f) )
        ++f;
    return b["name"].get<std::string>() + ": model " + field_text(f, b["model"].get<uint64_t>()) +
           (b["compare"] == "le" ? " > level " : " not within level ") + field_text(f, b["level"].get<uint64_t>());
}

int do_check(const Opts &o, int nargs, char **args)
{
    if ( nargs != 1 || (!o.host == !o.pool) )
        return usage(stderr), exit_usage;
    ModelsPtr m = load_models(o, o.source);
    uint32_t idx;
    if ( !m || find(m.get(), args[0], o.source, &idx) )
        return exit_usage;
    json where;
    PolicyPtr level = load_level(o, &where);
    if ( !level )
        return exit_usage;
    bool ok;
    json blockers = blockers_json(m.get(), idx, level.get(), &ok);
    cpupolicy_model_info_t in;
    (void)cpupolicy_model_get_info(m.get(), idx, &in);
    json doc = {{"version", JSON_VERSION}, {"model", in.name}, {"source", source_name(in.source)},
                {"level", where}, {"runnable", ok}, {"blockers", blockers},
                {"unchecked", model_list(m.get(), idx, CPUPOLICY_MODEL_UNMAPPED, in.nr_unmapped)}};
    if ( o.as_json )
        puts(doc.dump(2).c_str());
    else
    {
        printf("%s on %s: %s\n", in.name, where.value("uri", "").c_str(),
               ok ? "runnable" : ("NOT runnable, " + std::to_string(blockers.size()) + " blocker" +
                                  (blockers.size() == 1 ? "" : "s")).c_str());
        for ( const auto &b : blockers )
            printf("  blocker: %s\n", blocker_text(b).c_str());
        if ( in.nr_unmapped )
            printf("  not checked (libvirt features without a cpupolicy counterpart): %s\n",
                   joined(doc["unchecked"].get<std::vector<std::string>>()).c_str());
    }
    return ok ? exit_ok : exit_no;
}

// --- suggest -------------------------------------------------------------------------
int do_suggest(const Opts &o, int nargs)
{
    if ( nargs != 0 || (!o.host == !o.pool) )
        return usage(stderr), exit_usage;
    ModelsPtr m = load_models(o, o.source);
    if ( !m )
        return exit_usage;
    json where;
    PolicyPtr level = load_level(o, &where);
    if ( !level )
        return exit_usage;
    json doc = {{"version", JSON_VERSION}, {"level", where}};
    uint32_t nr = cpupolicy_featureset_size();
    for ( unsigned how : {CPUPOLICY_SUGGEST_RUNNABLE, CPUPOLICY_SUGGEST_CLOSEST} )
    {
        const char *key = how == CPUPOLICY_SUGGEST_RUNNABLE ? "runnable" : "closest";
        std::vector<uint32_t> add(nr), lacks(nr);
        uint32_t idx;
        if ( cpupolicy_model_suggest(m.get(), o.source, how, level.get(), &idx, add.data(), lacks.data(), nr) )
        {
            doc[key] = nullptr;
            continue;
        }
        cpupolicy_model_info_t in;
        (void)cpupolicy_model_get_info(m.get(), idx, &in);
        bool ok;
        json blockers = blockers_json(m.get(), idx, level.get(), &ok);
        json s = {{"model", in.name}, {"source", source_name(in.source)}, {"nr_features", in.nr_features},
                  {"add", feature_name_list(add)}, {"lacks", feature_name_list(lacks)}, {"blockers", blockers}};
        // Numeric fields the level offers beyond what the model states.
        json more = json::object();
        for ( unsigned f = 0; f < CPUPOLICY_MODEL_NR_FIELDS; ++f )
        {
            uint64_t mv, lv;
            if ( cpupolicy_model_field(m.get(), idx, f, &mv) || cpupolicy_policy_model_field(level.get(), f, &lv) )
                continue;
            if ( mv != lv )
                more[cpupolicy_model_field_name(f)] = {{"model", mv}, {"level", lv}};
        }
        s["numeric"] = more;
        s["unchecked"] = model_list(m.get(), idx, CPUPOLICY_MODEL_UNMAPPED, in.nr_unmapped);
        doc[key] = s;
    }
    if ( o.as_json )
        puts(doc.dump(2).c_str());
    else
    {
        if ( doc["runnable"].is_null() )
            printf("No model is runnable at %s.\n", where.value("uri", "").c_str());
        else
        {
            const json &s = doc["runnable"];
            printf("Most capable runnable model: %s (%s, %u features)\n", s["model"].get<std::string>().c_str(),
                   s["source"].get<std::string>().c_str(), s["nr_features"].get<unsigned>());
            printf("  the level has beyond it (+%zu): %s\n", s["add"].size(),
                   joined(s["add"].get<std::vector<std::string>>()).c_str());
            for ( auto it = s["numeric"].begin(); it != s["numeric"].end(); ++it )
                printf("  %s: model %" PRIu64 ", level %" PRIu64 "\n", it.key().c_str(),
                       it.value()["model"].get<uint64_t>(), it.value()["level"].get<uint64_t>());
        }
        if ( !doc["closest"].is_null() )
        {
            const json &s = doc["closest"];
            printf("Closest model: %s (%s): +%zu -%zu%s\n", s["model"].get<std::string>().c_str(),
                   s["source"].get<std::string>().c_str(), s["add"].size(), s["lacks"].size(),
                   s["blockers"].empty() ? ", runnable" : "");
            printf("  add:   %s\n", joined(s["add"].get<std::vector<std::string>>()).c_str());
            printf("  lacks: %s\n", joined(s["lacks"].get<std::vector<std::string>>()).c_str());
        }
    }
    return doc["runnable"].is_null() ? exit_no : exit_ok;
}

// --- export --------------------------------------------------------------------------
int do_export(const Opts &o, int nargs, char **args)
{
    if ( nargs != 1 || !o.to )
        return usage(stderr), exit_usage;
    unsigned fmt;
    if ( !strcmp(o.to, "libvirt") )
        fmt = CPUPOLICY_EXPORT_LIBVIRT;
    else if ( !strcmp(o.to, "qemu") )
        fmt = CPUPOLICY_EXPORT_QEMU;
    else if ( !strcmp(o.to, "xl") )
        fmt = CPUPOLICY_EXPORT_XL;
    else
    {
        fprintf(stderr, "cpupolicy: unknown --to '%s' (libvirt, qemu, xl)\n", o.to);
        return exit_usage;
    }
    // libvirt's names are needed for the libvirt and QEMU forms of any model.
    unsigned sources = fmt == CPUPOLICY_EXPORT_XL ? o.source : CPUPOLICY_MODELS_ALL;
    ModelsPtr m = load_models(o, sources);
    uint32_t idx;
    if ( !m || find(m.get(), args[0], o.source, &idx) )
        return exit_usage;
    size_t len = 0;
    int rc = cpupolicy_model_export(m.get(), idx, fmt, nullptr, &len);
    std::string text(len, '\0');
    if ( !rc )
        rc = cpupolicy_model_export(m.get(), idx, fmt, text.data(), &len);
    if ( rc )
    {
        fprintf(stderr, "cpupolicy: export of %s to %s: %s\n", args[0], o.to, cpupolicy_last_error());
        return exit_usage;
    }
    text.resize(len ? len - 1 : 0);
    if ( o.as_json )
        puts(json{{"version", JSON_VERSION}, {"model", args[0]}, {"format", o.to}, {"text", text}}.dump(2).c_str());
    else
        fputs(text.c_str(), stdout);
    return exit_ok;
}

// --- from-dump -----------------------------------------------------------------------
int do_from_dump(const Opts &o, int nargs, char **args)
{
    if ( nargs != 1 || !o.name )
        return usage(stderr), exit_usage;
    static const struct { const char *name; unsigned hvm, pv; } kinds[] = {
        {"raw", CPUPOLICY_RAW, CPUPOLICY_RAW},
        {"host", CPUPOLICY_HOST, CPUPOLICY_HOST},
        {"max", CPUPOLICY_HVM_MAX, CPUPOLICY_PV_MAX},
        {"default", CPUPOLICY_HVM_DEFAULT, CPUPOLICY_PV_DEFAULT},
    };
    int k = -1;
    for ( int i = 0; i < 4; ++i )
        if ( !strcmp(o.policy, kinds[i].name) )
            k = i;
    if ( k < 0 )
    {
        fprintf(stderr, "cpupolicy: unknown --policy '%s' (raw, host, max, default)\n", o.policy);
        return exit_usage;
    }
    if ( o.supersedes && !o.reason )
    {
        fprintf(stderr, "cpupolicy: --supersedes needs --reason\n");
        return exit_usage;
    }
    PolicyPtr raw(cpupolicy_alloc()), p(cpupolicy_alloc());
    if ( !raw || !p )
        return exit_usage;
    int rc = cpupolicy_import_dump(raw.get(), args[0], o.cpu);
    if ( rc )
    {
        const char *msg = cpupolicy_last_error();
        fprintf(stderr, "cpupolicy: %s\n", msg && *msg ? msg : strerror(-rc));
        return exit_usage;
    }
    unsigned idx = o.pv ? kinds[k].pv : kinds[k].hvm;
    if ( (rc = cpupolicy_derive(p.get(), raw.get(), idx, o.boot)) )
    {
        fprintf(stderr, "cpupolicy: deriving the %s policy of %s%s%s: %s\n", o.policy, args[0],
                o.boot ? " with boot options " : "", o.boot ? o.boot : "",
                rc == -ENOENT ? "unknown feature in the boot options" : strerror(-rc));
        return exit_usage;
    }
    const char *slash = strrchr(args[0], '/');
    cpupolicy_model_origin_t origin = {slash ? slash + 1 : args[0], o.policy, o.boot, o.supersedes, o.reason};
    size_t len = 0;
    rc = cpupolicy_model_from_policy(p.get(), o.name, &origin, nullptr, &len);
    std::string text(len, '\0');
    if ( !rc )
        rc = cpupolicy_model_from_policy(p.get(), o.name, &origin, text.data(), &len);
    if ( rc )
    {
        fprintf(stderr, "cpupolicy: model from %s: %s\n", args[0], cpupolicy_last_error());
        return exit_usage;
    }
    text.resize(len - 1);
    if ( !o.output )
        return fputs(text.c_str(), stdout), exit_ok;
    // Written next to its place and renamed: a failure leaves no half-written model.
    std::string tmp = std::string(o.output) + ".tmp";
    FILE *f = fopen(tmp.c_str(), "w");
    bool ok = f && fputs(text.c_str(), f) >= 0;
    if ( f && fclose(f) )
        ok = false;
    if ( !ok || rename(tmp.c_str(), o.output) )
    {
        remove(tmp.c_str());
        fprintf(stderr, "cpupolicy: cannot write %s\n", o.output);
        return exit_usage;
    }
    if ( cpupolicy_model_validate_file(o.output) )
    {
        fprintf(stderr, "cpupolicy: %s\n", cpupolicy_last_error());
        return exit_usage;
    }
    return exit_ok;
}

int do_validate(const Opts &o, int nargs, char **args)
{
    if ( nargs < 1 )
        return usage(stderr), exit_usage;
    int bad = 0;
    json files = json::array();
    for ( int i = 0; i < nargs; ++i )
    {
        bool ok = cpupolicy_model_validate_file(args[i]) == 0;
        files.push_back({{"file", args[i]}, {"valid", ok}, {"error", ok ? json(nullptr) : json(cpupolicy_last_error())}});
        if ( o.as_json )
            ;
        else if ( ok )
            printf("%s: valid\n", args[i]);
        else
            fprintf(stderr, "cpupolicy: %s\n", cpupolicy_last_error());
        bad += !ok;
    }
    if ( o.as_json )
        puts(json{{"version", JSON_VERSION}, {"files", files}}.dump(2).c_str());
    return bad ? exit_usage : exit_ok;
}

} // namespace

int cmd_model(int argc, char **argv)
{
    if ( argc < 2 )
        return usage(stderr), exit_usage;
    const char *sub = argv[1];
    if ( !strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help") )
        return usage(stdout), exit_ok;
    static const option longopts[] = {
        {"source", required_argument, nullptr, 's'},  {"models-dir", required_argument, nullptr, 'M'},
        {"cpu-map", required_argument, nullptr, 'C'}, {"host", required_argument, nullptr, 'H'},
        {"pool", required_argument, nullptr, 'P'},    {"store", required_argument, nullptr, 'S'},
        {"type", required_argument, nullptr, 't'},    {"json", no_argument, nullptr, 'j'},
        {"to", required_argument, nullptr, 'T'},      {"name", required_argument, nullptr, 'n'},
        {"policy", required_argument, nullptr, 'p'},  {"boot-options", required_argument, nullptr, 'b'},
        {"cpu", required_argument, nullptr, 'c'},     {"supersedes", required_argument, nullptr, 'V'},
        {"reason", required_argument, nullptr, 'R'},  {"output", required_argument, nullptr, 'o'},
        {"quiet", no_argument, nullptr, 'q'},         {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    Opts o;
    optind = 2;
    int c;
    while ( (c = getopt_long(argc, argv, "o:jqh", longopts, nullptr)) != -1 )
    {
        switch ( c ) {
        case 's':
            if ( !strcmp(optarg, "builtin") )
                o.source = CPUPOLICY_MODELS_BUILTIN;
            else if ( !strcmp(optarg, "libvirt") )
                o.source = CPUPOLICY_MODELS_LIBVIRT;
            else if ( !strcmp(optarg, "all") )
                o.source = CPUPOLICY_MODELS_ALL;
            else
            {
                fprintf(stderr, "cpupolicy: unknown --source '%s' (libvirt, builtin, all)\n", optarg);
                return exit_usage;
            }
            break;
        case 'M': o.models_dir = optarg; break;
        case 'C': o.cpu_map = optarg; break;
        case 'H': o.host = optarg; break;
        case 'P': o.pool = optarg; break;
        case 'S': o.store = optarg; break;
        case 't':
            if ( strcmp(optarg, "hvm") && strcmp(optarg, "pv") )
            {
                fprintf(stderr, "cpupolicy: unknown --type '%s' (hvm, pv)\n", optarg);
                return exit_usage;
            }
            o.pv = !strcmp(optarg, "pv");
            break;
        case 'j': o.as_json = true; break;
        case 'q': o.quiet = true; break;
        case 'T': o.to = optarg; break;
        case 'n': o.name = optarg; break;
        case 'p': o.policy = optarg; break;
        case 'b': o.boot = optarg; break;
        case 'R': o.reason = optarg; break;
        case 'o': o.output = optarg; break;
        case 'c':
        case 'V': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if ( !*optarg || *end || v > 100000 || (c == 'V' && v == 0) )
            {
                fprintf(stderr, "cpupolicy: bad --%s '%s'\n", c == 'c' ? "cpu" : "supersedes", optarg);
                return exit_usage;
            }
            (c == 'c' ? o.cpu : o.supersedes) = static_cast<unsigned>(v);
            break;
        }
        case 'h': return usage(stdout), exit_ok;
        default: return usage(stderr), exit_usage;
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    if ( !strcmp(sub, "list") )
        return nargs ? (usage(stderr), exit_usage) : do_list(o);
    if ( !strcmp(sub, "show") )
        return do_show(o, nargs, args);
    if ( !strcmp(sub, "check") )
        return do_check(o, nargs, args);
    if ( !strcmp(sub, "suggest") )
        return do_suggest(o, nargs);
    if ( !strcmp(sub, "export") )
        return do_export(o, nargs, args);
    if ( !strcmp(sub, "from-dump") )
        return do_from_dump(o, nargs, args);
    if ( !strcmp(sub, "validate") )
        return do_validate(o, nargs, args);
    fprintf(stderr, "cpupolicy: unknown model subcommand '%s'\n", sub);
    usage(stderr);
    return exit_usage;
}
