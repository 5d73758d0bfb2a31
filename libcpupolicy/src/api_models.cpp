// SPDX-License-Identifier: MIT
// C ABI of the named CPU models (cpupolicy_models.h) over libcpupolicy/models/.
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <new>
#include <string>

#include "api.hpp"
#include "catalog.hpp"
#include "cpupolicy/features.hpp"
#include "cpupolicy_models.h"

using namespace cpupolicy;

struct cpupolicy_models {
    models::Catalog c;
};

#ifndef CPUPOLICY_MODELS_DIR
#define CPUPOLICY_MODELS_DIR "/usr/local/share/cpupolicy/cpu-models"
#endif

namespace {

// A precise message for cpupolicy_last_error() ("FILE:LINE: what", a sentence).
int fail(int rc, const std::string &msg)
{
    abi::detail("%s", msg.c_str());
    return rc;
}

// $ORIGIN/../share/cpupolicy/cpu-models of this library when it exists (the build tree
// and any relocated install), else the configured install location.
std::string default_builtin_dir()
{
    Dl_info info;
    if ( dladdr(reinterpret_cast<void *>(&cpupolicy_models_load), &info) && info.dli_fname )
    {
        std::string p = info.dli_fname;
        size_t slash = p.rfind('/');
        std::string dir = (slash == std::string::npos ? "." : p.substr(0, slash)) +
                          "/../share/cpupolicy/cpu-models";
        struct stat st;
        if ( stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) )
        {
            char *real = realpath(dir.c_str(), nullptr);
            if ( real )
            {
                dir = real;
                free(real);
            }
            return dir;
        }
    }
    return CPUPOLICY_MODELS_DIR;
}

const models::Model *model_at(const cpupolicy_models_t *m, uint32_t index)
{
    if ( !m || index >= m->c.models.size() )
        return nullptr;
    return &m->c.models[index];
}

void copy_vendor(char (&dst)[13], const std::string &s)
{
    memset(dst, 0, sizeof(dst));
    memcpy(dst, s.data(), s.size() < 12 ? s.size() : 12);
}

int blockers_out(const std::vector<models::Blocker> &v, cpupolicy_model_blocker_t *b, uint32_t *nr)
{
    uint32_t cap = b ? *nr : 0;
    for ( uint32_t i = 0; i < v.size() && i < cap; ++i )
    {
        cpupolicy_model_blocker_t &o = b[i];
        memset(&o, 0, sizeof(o));
        o.kind = v[i].kind == models::Blocker::vendor    ? CPUPOLICY_BLOCKER_VENDOR
                 : v[i].kind == models::Blocker::feature ? CPUPOLICY_BLOCKER_FEATURE
                                                         : CPUPOLICY_BLOCKER_FIELD;
        o.id = v[i].id;
        // Static strings: the feature table's, the field table's, or "vendor".
        o.name = v[i].kind == models::Blocker::feature ? features::name(Feature{v[i].id})
                 : v[i].kind == models::Blocker::field ? models::field_info[v[i].id].name
                                                       : "vendor";
        o.model_value = v[i].model_value;
        o.level_value = v[i].level_value;
        copy_vendor(o.model_vendor, v[i].model_text);
        copy_vendor(o.level_vendor, v[i].level_text);
    }
    *nr = static_cast<uint32_t>(v.size());
    return b && v.size() > cap ? -ENOBUFS : 0;
}

int text_out(const std::string &s, char *buf, size_t *len)
{
    size_t need = s.size() + 1;
    if ( !buf || *len < need )
    {
        bool query = !buf;
        *len = need;
        return query ? 0 : -ENOBUFS;
    }
    memcpy(buf, s.c_str(), need);
    *len = need;
    return 0;
}

} // namespace

static int impl_models_load(cpupolicy_models_t **out, unsigned int sources,
                                           const char *builtin_dir, const char *cpu_map_dir)
{
    if ( !out )
        return fail(-EINVAL, "cpupolicy_models_load: out is NULL");
    *out = nullptr;
    if ( !sources || (sources & ~CPUPOLICY_MODELS_ALL) )
        return fail(-EINVAL, "cpupolicy_models_load: sources must be a non-empty set of "
                             "CPUPOLICY_MODELS_BUILTIN and CPUPOLICY_MODELS_LIBVIRT");
    auto *m = new (std::nothrow) cpupolicy_models;
    if ( !m )
        return fail(-ENOMEM, "out of memory");
    std::string err;
    int rc = models::load_catalog(m->c, sources, builtin_dir ? builtin_dir : default_builtin_dir(),
                                  cpu_map_dir ? cpu_map_dir : "", &err);
    if ( rc )
    {
        delete m;
        return fail(rc, err);
    }
    *out = m;
    return 0;
}

CPUPOLICY_EXPORT void cpupolicy_models_free(cpupolicy_models_t *m) noexcept
{
    delete m;
}

CPUPOLICY_EXPORT uint32_t cpupolicy_models_count(const cpupolicy_models_t *m) noexcept
{
    return m ? static_cast<uint32_t>(m->c.models.size()) : 0;
}

static int impl_models_find(const cpupolicy_models_t *m, const char *name,
                                           unsigned int sources, uint32_t *index)
{
    if ( !m || !name || !index )
        return fail(-EINVAL, "cpupolicy_models_find: NULL argument");
    int i = models::find_model(m->c, name, sources);
    if ( i < 0 )
        return fail(-ENOENT, std::string("no model named '") + name + "'");
    *index = static_cast<uint32_t>(i);
    return 0;
}

static int impl_model_get_info(const cpupolicy_models_t *m, uint32_t index,
                                              cpupolicy_model_info_t *info)
{
    const models::Model *x = model_at(m, index);
    if ( !x || !info )
        return -EINVAL;
    memset(info, 0, sizeof(*info));
    info->name = x->name.c_str();
    info->base = x->base.c_str();
    info->version = x->version;
    info->source = x->source == models::Source::builtin ? CPUPOLICY_MODELS_BUILTIN : CPUPOLICY_MODELS_LIBVIRT;
    info->file = x->file.c_str();
    info->line = x->line;
    info->vendor = x->vendor.c_str();
    info->parent = x->parent.c_str();
    info->origin_dump = x->origin_dump.c_str();
    info->origin_policy = x->origin_policy.c_str();
    info->origin_boot = x->origin_boot.c_str();
    info->supersedes = x->supersedes;
    info->supersedes_reason = x->supersedes_reason.c_str();
    info->nr_signatures = static_cast<uint32_t>(x->signatures.size());
    info->family = info->model = info->stepping = ~0u;
    if ( !x->signatures.empty() )
    {
        info->family = x->signatures[0].family;
        info->model = x->signatures[0].model;
        info->stepping = x->signatures[0].stepping_lo == x->signatures[0].stepping_hi
                             ? x->signatures[0].stepping_lo : ~0u;
    }
    info->nr_features = x->features.count();
    info->nr_unmapped = static_cast<uint32_t>(x->unmapped.size());
    info->nr_removed = static_cast<uint32_t>(x->removed.size());
    info->nr_libvirt_features = static_cast<uint32_t>(x->libvirt_features.size());
    return 0;
}

static int impl_model_featureset(const cpupolicy_models_t *m, uint32_t index,
                                                uint32_t *fs, uint32_t *nr)
{
    const models::Model *x = model_at(m, index);
    if ( !x || !nr )
        return -EINVAL;
    uint32_t cap = fs ? *nr : 0;
    if ( fs )
        featureset_to_words(x->features, fs, cap);
    *nr = NR_FEATUREWORDS;
    return fs && cap < NR_FEATUREWORDS ? -ENOBUFS : 0;
}

CPUPOLICY_EXPORT const char *cpupolicy_model_list_item(const cpupolicy_models_t *m, uint32_t index,
                                                       unsigned int which, uint32_t i) noexcept
{
    const models::Model *x = model_at(m, index);
    if ( !x )
        return nullptr;
    const std::vector<std::string> *v = which == CPUPOLICY_MODEL_UNMAPPED  ? &x->unmapped
                                        : which == CPUPOLICY_MODEL_REMOVED ? &x->removed
                                        : which == CPUPOLICY_MODEL_LIBVIRT_FEATURES ? &x->libvirt_features
                                                                                    : nullptr;
    return v && i < v->size() ? (*v)[i].c_str() : nullptr;
}

CPUPOLICY_EXPORT const char *cpupolicy_model_field_name(unsigned int field) noexcept
{
    return field < models::NR_FIELDS ? models::field_info[field].name : nullptr;
}

static int impl_model_field_is_set(unsigned int field)
{
    if ( field >= models::NR_FIELDS )
        return -EINVAL;
    return models::field_info[field].kind == models::FieldKind::subset;
}

static int impl_model_field(const cpupolicy_models_t *m, uint32_t index,
                                           unsigned int field, uint64_t *value)
{
    const models::Model *x = model_at(m, index);
    if ( !x || !value || field >= models::NR_FIELDS )
        return -EINVAL;
    if ( !x->has(field) )
        return -ENODATA;
    *value = x->fields[field];
    return 0;
}

static int impl_policy_model_field(const cpupolicy_t *p, unsigned int field,
                                                  uint64_t *value)
{
    if ( !p || !value || field >= models::NR_FIELDS )
        return -EINVAL;
    uint64_t v[models::NR_FIELDS];
    models::policy_fields(p->p, v);
    *value = v[field];
    return 0;
}

static int impl_model_check(const cpupolicy_models_t *m, uint32_t index,
                                           const cpupolicy_t *level,
                                           cpupolicy_model_blocker_t *blockers, uint32_t *nr)
{
    const models::Model *x = model_at(m, index);
    if ( !x || !level || !nr )
        return fail(-EINVAL, "cpupolicy_model_check: bad model index or NULL argument");
    return blockers_out(models::check(*x, level->p), blockers, nr);
}

static int impl_model_check_featureset(const cpupolicy_models_t *m, uint32_t index,
                                                      const uint32_t *fs, uint32_t nr_fs,
                                                      cpupolicy_model_blocker_t *blockers,
                                                      uint32_t *nr)
{
    const models::Model *x = model_at(m, index);
    if ( !x || !fs || !nr )
        return fail(-EINVAL, "cpupolicy_model_check_featureset: bad model index or NULL argument");
    Featureset level;
    if ( int rc = featureset_from_words(level, fs, nr_fs) )
        return fail(rc, "featureset has features beyond this build's words");
    return blockers_out(models::check_featureset(*x, level), blockers, nr);
}

static int impl_model_suggest(const cpupolicy_models_t *m, unsigned int sources,
                                             unsigned int how, const cpupolicy_t *level,
                                             uint32_t *index, uint32_t *add, uint32_t *lacks,
                                             uint32_t nr_fs)
{
    if ( !m || !level || !index || how > CPUPOLICY_SUGGEST_CLOSEST )
        return fail(-EINVAL, "cpupolicy_model_suggest: NULL argument or bad `how`");
    models::Suggestion s;
    if ( int rc = models::suggest(m->c, sources, level->p, how == CPUPOLICY_SUGGEST_CLOSEST, &s) )
        return fail(rc, how == CPUPOLICY_SUGGEST_CLOSEST ? "no model of the level's vendor"
                                                         : "no model is runnable at this level");
    *index = static_cast<uint32_t>(s.index);
    if ( add )
        featureset_to_words(s.add, add, nr_fs);
    if ( lacks )
        featureset_to_words(s.lacks, lacks, nr_fs);
    return 0;
}

static int impl_model_apply(const cpupolicy_models_t *m, uint32_t index, cpupolicy_t *p)
{
    const models::Model *x = model_at(m, index);
    if ( !x || !p )
        return fail(-EINVAL, "cpupolicy_model_apply: bad model index or NULL policy");
    std::string why;
    if ( int rc = models::apply(*x, p->p, &why) )
        return fail(rc, why);
    return 0;
}

static int impl_model_export(const cpupolicy_models_t *m, uint32_t index,
                                            unsigned int format, char *buf, size_t *len)
{
    const models::Model *x = model_at(m, index);
    if ( !x || !len || format > CPUPOLICY_EXPORT_XL )
        return fail(-EINVAL, "cpupolicy_model_export: bad model index, format or NULL len");
    std::string out, why;
    auto fmt = format == CPUPOLICY_EXPORT_LIBVIRT ? models::ExportFormat::libvirt
               : format == CPUPOLICY_EXPORT_QEMU  ? models::ExportFormat::qemu
                                                  : models::ExportFormat::xl;
    if ( int rc = models::export_model(m->c, *x, fmt, &out, &why) )
        return fail(rc, why);
    return text_out(out, buf, len);
}

static int impl_model_from_policy(const cpupolicy_t *p, const char *name,
                                                 const cpupolicy_model_origin_t *origin,
                                                 char *buf, size_t *len)
{
    if ( !p || !name || !len )
        return fail(-EINVAL, "cpupolicy_model_from_policy: NULL argument");
    std::string base;
    unsigned version = 1;
    if ( !models::split_versioned(name, &base, &version) )
        base = name;
    models::Model mo = models::model_from_policy(p->p, base, version);
    if ( origin )
    {
        if ( origin->dump )
        {
            mo.origin_dump = origin->dump;
            mo.origin_policy = origin->policy ? origin->policy : "";
            mo.origin_boot = origin->boot_options ? origin->boot_options : "";
        }
        mo.supersedes = origin->supersedes;
        mo.supersedes_reason = origin->reason ? origin->reason : "";
    }
    std::string text = models::model_to_xml(mo), err;
    // What is handed out must read back: the schema and the reader judge the name,
    // the origin and the versions.
    models::Model check;
    if ( int rc = models::read_model_text(check, text, mo.name + ".xml", &err) )
        return fail(rc, err);
    return text_out(text, buf, len);
}

static int impl_model_validate_file(const char *path)
{
    if ( !path )
        return fail(-EINVAL, "cpupolicy_model_validate_file: NULL path");
    models::Model m;
    std::string err;
    if ( int rc = models::read_model_file(m, path, &err) )
        return fail(rc, err);
    return 0;
}

// --- ABI boundary ----------------------------------------------------------------------
// cpupolicy_last_error() cleared on entry, written on failure (api.hpp, Call); noexcept.

CPUPOLICY_EXPORT int cpupolicy_models_load(cpupolicy_models_t **out, unsigned int sources,
                                           const char *builtin_dir, const char *cpu_map_dir) noexcept
{
    abi::Call c("cpupolicy_models_load");
    return c.done(impl_models_load(out, sources, builtin_dir, cpu_map_dir));
}

CPUPOLICY_EXPORT int cpupolicy_models_find(const cpupolicy_models_t *m, const char *name,
                                           unsigned int sources, uint32_t *index) noexcept
{
    abi::Call c("cpupolicy_models_find");
    return c.done(impl_models_find(m, name, sources, index));
}

CPUPOLICY_EXPORT int cpupolicy_model_get_info(const cpupolicy_models_t *m, uint32_t index,
                                              cpupolicy_model_info_t *info) noexcept
{
    abi::Call c("cpupolicy_model_get_info");
    return c.done(impl_model_get_info(m, index, info));
}

CPUPOLICY_EXPORT int cpupolicy_model_featureset(const cpupolicy_models_t *m, uint32_t index,
                                                uint32_t *fs, uint32_t *nr) noexcept
{
    abi::Call c("cpupolicy_model_featureset");
    return c.done(impl_model_featureset(m, index, fs, nr));
}

CPUPOLICY_EXPORT int cpupolicy_model_field_is_set(unsigned int field) noexcept
{
    abi::Call c("cpupolicy_model_field_is_set");
    return c.done(impl_model_field_is_set(field));
}

CPUPOLICY_EXPORT int cpupolicy_model_field(const cpupolicy_models_t *m, uint32_t index,
                                           unsigned int field, uint64_t *value) noexcept
{
    abi::Call c("cpupolicy_model_field");
    return c.done(impl_model_field(m, index, field, value));
}

CPUPOLICY_EXPORT int cpupolicy_policy_model_field(const cpupolicy_t *p, unsigned int field,
                                                  uint64_t *value) noexcept
{
    abi::Call c("cpupolicy_policy_model_field");
    return c.done(impl_policy_model_field(p, field, value));
}

CPUPOLICY_EXPORT int cpupolicy_model_check(const cpupolicy_models_t *m, uint32_t index,
                                           const cpupolicy_t *level,
                                           cpupolicy_model_blocker_t *blockers, uint32_t *nr) noexcept
{
    abi::Call c("cpupolicy_model_check");
    return c.done(impl_model_check(m, index, level, blockers, nr));
}

CPUPOLICY_EXPORT int cpupolicy_model_check_featureset(const cpupolicy_models_t *m, uint32_t index,
                                                      const uint32_t *fs, uint32_t nr_fs,
                                                      cpupolicy_model_blocker_t *blockers,
                                                      uint32_t *nr) noexcept
{
    abi::Call c("cpupolicy_model_check_featureset");
    return c.done(impl_model_check_featureset(m, index, fs, nr_fs, blockers, nr));
}

CPUPOLICY_EXPORT int cpupolicy_model_suggest(const cpupolicy_models_t *m, unsigned int sources,
                                             unsigned int how, const cpupolicy_t *level,
                                             uint32_t *index, uint32_t *add, uint32_t *lacks,
                                             uint32_t nr_fs) noexcept
{
    abi::Call c("cpupolicy_model_suggest");
    return c.done(impl_model_suggest(m, sources, how, level, index, add, lacks, nr_fs));
}

CPUPOLICY_EXPORT int cpupolicy_model_apply(const cpupolicy_models_t *m, uint32_t index, cpupolicy_t *p) noexcept
{
    abi::Call c("cpupolicy_model_apply");
    return c.done(impl_model_apply(m, index, p));
}

CPUPOLICY_EXPORT int cpupolicy_model_export(const cpupolicy_models_t *m, uint32_t index,
                                            unsigned int format, char *buf, size_t *len) noexcept
{
    abi::Call c("cpupolicy_model_export");
    return c.done(impl_model_export(m, index, format, buf, len));
}

CPUPOLICY_EXPORT int cpupolicy_model_from_policy(const cpupolicy_t *p, const char *name,
                                                 const cpupolicy_model_origin_t *origin,
                                                 char *buf, size_t *len) noexcept
{
    abi::Call c("cpupolicy_model_from_policy");
    return c.done(impl_model_from_policy(p, name, origin, buf, len));
}

CPUPOLICY_EXPORT int cpupolicy_model_validate_file(const char *path) noexcept
{
    abi::Call c("cpupolicy_model_validate_file");
    return c.done(impl_model_validate_file(path));
}
