/* SPDX-License-Identifier: MIT */
/*
 * cpupolicy_models.h - named CPU models in the C ABI of libcpupolicy (docs/models.md).
 *
 * Two sources of models:
 *  - BUILTIN: this project's own versioned model files, NAME-vN.xml, valid against
 *    cpu-model.rng (shipped in $PREFIX/share/cpupolicy/cpu-models/).  A published
 *    version never changes; a new version is written instead (as QEMU versions models).
 *  - LIBVIRT: libvirt's CPU map as installed (/usr/share/libvirt/cpu_map/), its features
 *    matched to this library's features by CPUID leaf/subleaf/register/bit or MSR
 *    index/bit, never by name; a libvirt feature with no counterpart is listed
 *    ("unmapped"), not guessed.
 * A model is checked against a LEVEL: a policy a guest would run under (a host's max
 * policy, a pool level) - or a bare featureset, for features only.
 *
 * Conventions as in cpupolicy.h: 0 or a negative errno, errno never touched, nothing
 * half-applied, counts nr_* in/out.  Strings returned are owned by the models object
 * (valid until cpupolicy_models_free) or static.  After a failure cpupolicy_last_error()
 * says what was wrong ("FILE:LINE: what" for every input error).  Symbols: CPUPOLICY_1.1.
 * C89 and C++ clean.
 */
#ifndef CPUPOLICY_MODELS_H
#define CPUPOLICY_MODELS_H

#include "cpupolicy.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cpupolicy_models cpupolicy_models_t;

#define CPUPOLICY_MODELS_BUILTIN 1u
#define CPUPOLICY_MODELS_LIBVIRT 2u
#define CPUPOLICY_MODELS_ALL     3u

/* Load the model sources in `sources`.  builtin_dir NULL: the cpu-models folder next to
 * the library ($ORIGIN/../share/cpupolicy/cpu-models), else the installed one;
 * cpu_map_dir NULL: /usr/share/libvirt/cpu_map.  0; -ENOENT a directory or file is
 * missing; -EINVAL malformed (a broken file, an unknown element or attribute, a schema
 * violation, an unknown feature name); -ENOMEM.  On failure *out is NULL and
 * cpupolicy_last_error() says "FILE:LINE: what". */
int cpupolicy_models_load(cpupolicy_models_t **out, unsigned int sources,
                          const char *builtin_dir, const char *cpu_map_dir) CPUPOLICY_NOEXCEPT;
void cpupolicy_models_free(cpupolicy_models_t *m) CPUPOLICY_NOEXCEPT;

/* Models are numbered 0..count-1: builtin ones first (name order), then libvirt's (in
 * the order of its index.xml). */
uint32_t cpupolicy_models_count(const cpupolicy_models_t *m) CPUPOLICY_NOEXCEPT;
/* Index of the model called `name` among `sources`; -ENOENT unknown, -EINVAL NULL. */
int cpupolicy_models_find(const cpupolicy_models_t *m, const char *name,
                          unsigned int sources, uint32_t *index) CPUPOLICY_NOEXCEPT;

typedef struct cpupolicy_model_info {
    const char *name;       /* "SkylakeXeon-v1" (builtin) or libvirt's ("Haswell") */
    const char *base;       /* builtin: the name without "-vN"; libvirt: = name */
    uint32_t version;       /* builtin: N; libvirt: 0 */
    unsigned int source;    /* CPUPOLICY_MODELS_BUILTIN or _LIBVIRT */
    const char *file;       /* the file it was read from */
    long line;              /* of its root / <model> element */
    const char *vendor;     /* CPUID vendor string ("GenuineIntel"), "" for none */
    const char *parent;     /* libvirt: ancestor model, "" */
    const char *origin_dump;    /* builtin: the dump it was generated from, "" */
    const char *origin_policy;  /* and which policy of it: raw/host/max/default, "" */
    const char *origin_boot;    /* and the boot options, "" */
    uint32_t supersedes;        /* builtin: the version it replaces, 0 */
    const char *supersedes_reason;
    uint32_t nr_signatures;     /* family/model/stepping of the first, ~0u if none */
    uint32_t family, model, stepping;
    uint32_t nr_features;       /* this library's features the model has */
    uint32_t nr_unmapped;       /* libvirt features with no counterpart here */
    uint32_t nr_removed;        /* libvirt features the model removes */
    uint32_t nr_libvirt_features; /* libvirt's expansion of the model, by name */
} cpupolicy_model_info_t;
int cpupolicy_model_get_info(const cpupolicy_models_t *m, uint32_t index,
                             cpupolicy_model_info_t *info) CPUPOLICY_NOEXCEPT;

/* The model's featureset: *nr in = capacity (fs may be NULL to query), out = words;
 * -ENOBUFS when short (what fits is copied). */
int cpupolicy_model_featureset(const cpupolicy_models_t *m, uint32_t index, uint32_t *fs,
                               uint32_t *nr) CPUPOLICY_NOEXCEPT;

/* Name lists of a libvirt model, by position i (< the info's nr_*), or NULL. */
#define CPUPOLICY_MODEL_UNMAPPED         0
#define CPUPOLICY_MODEL_REMOVED          1
#define CPUPOLICY_MODEL_LIBVIRT_FEATURES 2
const char *cpupolicy_model_list_item(const cpupolicy_models_t *m, uint32_t index,
                                      unsigned int which, uint32_t i) CPUPOLICY_NOEXCEPT;

/* The numeric fields a migration check compares. */
#define CPUPOLICY_MODEL_FIELD_MAX_BASIC_LEAF    0
#define CPUPOLICY_MODEL_FIELD_MAX_EXTD_LEAF     1
#define CPUPOLICY_MODEL_FIELD_LEAF7_MAX_SUBLEAF 2
#define CPUPOLICY_MODEL_FIELD_PHYS_ADDR_BITS    3
#define CPUPOLICY_MODEL_FIELD_LIN_ADDR_BITS     4
#define CPUPOLICY_MODEL_FIELD_XCR0              5
#define CPUPOLICY_MODEL_FIELD_XSS               6
#define CPUPOLICY_MODEL_NR_FIELDS               7
/* "max-basic-leaf", ..., or NULL for an unknown field. */
const char *cpupolicy_model_field_name(unsigned int field) CPUPOLICY_NOEXCEPT;
/* 1 when the field compares as a bit set (model bits within the level's), 0 as a
 * number (model <= level), -EINVAL unknown field. */
int cpupolicy_model_field_is_set(unsigned int field) CPUPOLICY_NOEXCEPT;
/* The model's value; -ENODATA when the model does not state it (libvirt models state
 * none), -EINVAL unknown field. */
int cpupolicy_model_field(const cpupolicy_models_t *m, uint32_t index, unsigned int field,
                          uint64_t *value) CPUPOLICY_NOEXCEPT;
/* The same field as a policy answers it (effective values). */
int cpupolicy_policy_model_field(const cpupolicy_t *p, unsigned int field, uint64_t *value) CPUPOLICY_NOEXCEPT;

/* Why a model cannot run at a level. */
#define CPUPOLICY_BLOCKER_VENDOR  0
#define CPUPOLICY_BLOCKER_FEATURE 1
#define CPUPOLICY_BLOCKER_FIELD   2
typedef struct cpupolicy_model_blocker {
    unsigned int kind;
    uint32_t id;             /* feature number, CPUPOLICY_MODEL_FIELD_*, ~0u (vendor) */
    const char *name;        /* feature name, field name, "vendor" (static) */
    uint64_t model_value;    /* field: the model's value; feature: 1 */
    uint64_t level_value;    /* field: the level's value; feature: 0 */
    char model_vendor[13];   /* vendor: both vendor strings; "" otherwise */
    char level_vendor[13];
} cpupolicy_model_blocker_t;

/* EVERY blocker of running model `index` at `level`: the vendor, each feature the level
 * lacks (the '|' OR-levelled ones never block), each numeric field the model states that
 * does not fit.  *nr in = capacity (blockers may be NULL to count), out = the number of
 * blockers; -ENOBUFS when more than fit (the first *nr-in are copied).  0 with *nr == 0:
 * runnable. */
int cpupolicy_model_check(const cpupolicy_models_t *m, uint32_t index, const cpupolicy_t *level,
                          cpupolicy_model_blocker_t *blockers, uint32_t *nr) CPUPOLICY_NOEXCEPT;
/* Features only, against a bare featureset fs[0..nr_fs) (a pool level read as
 * get_featureset(MAX)); -EOPNOTSUPP for nonzero words beyond this build's. */
int cpupolicy_model_check_featureset(const cpupolicy_models_t *m, uint32_t index,
                                     const uint32_t *fs, uint32_t nr_fs,
                                     cpupolicy_model_blocker_t *blockers, uint32_t *nr) CPUPOLICY_NOEXCEPT;

/* Suggest a model for a level.  RUNNABLE: the most capable model among `sources` with
 * no blocker (most features, then most numeric fields stated).  CLOSEST: the model of
 * the level's vendor nearest to it (fewest features to add plus to remove, libvirt's
 * baseline choice), runnable or not.  *index = the model; add (may be NULL) = features
 * the level has beyond the model, lacks (may be NULL) = the model's features the level
 * does not have, each nr_fs words (pass cpupolicy_featureset_size()).  -ENOENT none. */
#define CPUPOLICY_SUGGEST_RUNNABLE 0
#define CPUPOLICY_SUGGEST_CLOSEST  1
int cpupolicy_model_suggest(const cpupolicy_models_t *m, unsigned int sources, unsigned int how,
                            const cpupolicy_t *level, uint32_t *index, uint32_t *add,
                            uint32_t *lacks, uint32_t nr_fs) CPUPOLICY_NOEXCEPT;

/* The domain builder's "apply model M to a policy": p's features become the model's
 * (the hypervisor's special bits stay p's; the dependency closure applied), leaf 0xd is
 * rebuilt from them, family/model/stepping and the numeric fields the model states are
 * the model's.  A libvirt model's unmapped features cannot be applied (the policy has no
 * such feature; cpupolicy_model_list_item(.., CPUPOLICY_MODEL_UNMAPPED, ..) names them).
 * Verify the result against the host afterwards (cpupolicy_model_check /
 * cpupolicy_is_compatible).  -EINVAL when the vendors differ (p unchanged). */
int cpupolicy_model_apply(const cpupolicy_models_t *m, uint32_t index, cpupolicy_t *p) CPUPOLICY_NOEXCEPT;

/* Export a model: LIBVIRT a <cpu mode='custom' match='exact'> element (over the closest
 * libvirt model of its vendor), QEMU "-cpu Model,+f,-g", XL an xl.cfg cpuid= list (legacy
 * per-register form).  What a format cannot express is said in a comment.  buf NULL:
 * *len = the size needed (with the NUL); short: -ENOBUFS, *len = needed.  -ENOENT
 * (LIBVIRT/QEMU) when the libvirt source is not loaded. */
#define CPUPOLICY_EXPORT_LIBVIRT 0
#define CPUPOLICY_EXPORT_QEMU    1
#define CPUPOLICY_EXPORT_XL      2
int cpupolicy_model_export(const cpupolicy_models_t *m, uint32_t index, unsigned int format,
                           char *buf, size_t *len) CPUPOLICY_NOEXCEPT;

/* Generate a model file from a real CPU's policy (a raw or max policy of a dump). */
typedef struct cpupolicy_model_origin {
    const char *dump;          /* the dump's file name, or NULL */
    const char *policy;        /* "raw", "host", "max" or "default" (with dump) */
    const char *boot_options;  /* the boot options it was derived with, or NULL */
    uint32_t supersedes;       /* the version this one replaces, 0 for none */
    const char *reason;        /* why, with supersedes */
} cpupolicy_model_origin_t;
/* name: "NAME-vN", or "NAME" for version 1.  The text is validated against the schema
 * before it is returned.  buf/len as cpupolicy_model_export.  -EINVAL bad name or origin. */
int cpupolicy_model_from_policy(const cpupolicy_t *p, const char *name,
                                const cpupolicy_model_origin_t *origin, char *buf, size_t *len) CPUPOLICY_NOEXCEPT;

/* Read and validate one model file (schema, feature names, file name); 0 or as
 * cpupolicy_models_load. */
int cpupolicy_model_validate_file(const char *path) CPUPOLICY_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* CPUPOLICY_MODELS_H */
