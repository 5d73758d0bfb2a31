/* SPDX-License-Identifier: MIT */
/*
 * cpupolicy_toolstack.h - what a toolstack builds on the policy calls of cpupolicy.h:
 * text forms that round-trip, the complete compatibility report, the domain builder,
 * and pools and VMs kept in a store (docs/toolstack.md).  Symbols: version node
 * CPUPOLICY_1.1.
 *
 * Two ways in:
 *  - Callers that keep their own store (xapi, libxl-style toolstacks) use the
 *    store-free calls: featureset and policy text forms, cpupolicy_compat_report(),
 *    cpupolicy_vm_build().  A pool join is then: read the host's max policy
 *    (cpupolicy_get_system_policy), level all members (cpupolicy_calc_compatible),
 *    cpupolicy_compat_report(new level, old level) is what the level lost and
 *    cpupolicy_compat_report(new level, vm policy) says whether a placed VM strands.
 *  - Everybody else uses the store: cpupolicy_store_open() and the pool / VM operations,
 *    each one SQLite transaction, each answering with a JSON document (shape version 1,
 *    docs/toolstack.md "JSON") that the `cpupolicy` command prints or renders.
 *
 * Conventions as in cpupolicy.h: 0 or a negative errno, errno never touched, nothing
 * half-applied, noexcept, and after a failure cpupolicy_last_error() says what failed
 * (the parse position, the host, the store's "busy", the VMs that would strand).  Refusals that a --force overrides, or that a policy decides (blockers,
 * an incompatible migration), are -EPERM with the reasons in the JSON document.
 */
#ifndef CPUPOLICY_TOOLSTACK_H
#define CPUPOLICY_TOOLSTACK_H

#include "cpupolicy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------- */
/* Text forms                                                                      */
/* ------------------------------------------------------------------------------- */

/* Where text failed to parse: item = which input string (0-based; see each call),
 * line and column 1-based, what = a message naming the column's text and what was
 * expected. */
typedef struct cpupolicy_parse_error {
    uint32_t item, line, column;
    char what[240];
} cpupolicy_parse_error_t;

/* A featureset in xen-cpuid's form: hex words of 1-8 digits separated by ':' (or '-'),
 * e.g. "178bfbff:fffa3203:...".  *nr in = capacity of fs, out = words parsed; words
 * beyond those written are left alone.  -EINVAL malformed (err->column names the
 * character), -ENOBUFS more words than *nr.  err may be NULL. */
int cpupolicy_featureset_parse(const char *text, uint32_t *fs, uint32_t *nr,
                               cpupolicy_parse_error_t *err) CPUPOLICY_NOEXCEPT;
/* Format nr words as "%08x:%08x:...".  *len in = size of buf, out = bytes needed
 * including the NUL; buf NULL asks for the size; -ENOBUFS when short (buf untouched). */
int cpupolicy_featureset_format(const uint32_t *fs, uint32_t nr, char *buf, size_t *len) CPUPOLICY_NOEXCEPT;

/* A policy as text that round-trips exactly: every serialised leaf and MSR, one per
 * line, in serialise order:
 *     cpupolicy-policy 1
 *     cpuid 00000000:ffffffff 0000000d:756e6547:6c65746e:49656e69
 *     msr 000000ce 0000000080000000
 * parse(format(p)) serialises identically to p, and format(parse(t)) == t for any t
 * format produced.  format: *len as cpupolicy_featureset_format. */
int cpupolicy_policy_format_text(const cpupolicy_t *p, char *buf, size_t *len) CPUPOLICY_NOEXCEPT;
/* Read the text form onto a zeroed policy, then copy it to p: atomic.  Blank lines and
 * lines starting with '#' are ignored.  -EINVAL with err (line, column, what) for
 * anything malformed, a missing or different version line, a leaf/MSR the policy does
 * not hold or one given twice. */
int cpupolicy_policy_parse_text(cpupolicy_t *p, const char *text, cpupolicy_parse_error_t *err) CPUPOLICY_NOEXCEPT;

/* ------------------------------------------------------------------------------- */
/* The complete compatibility report                                               */
/* ------------------------------------------------------------------------------- */

#define CPUPOLICY_REPORT_VERSION 1

/* What one item of a report is about. */
#define CPUPOLICY_ITEM_VENDOR        0 /* vendors differ; detail "GUEST vs HOST" */
#define CPUPOLICY_ITEM_FEATURE       1 /* a feature the guest has and the host lacks */
#define CPUPOLICY_ITEM_NUMERIC       2 /* a count/size/width: guest must be <= host */
#define CPUPOLICY_ITEM_BITS          3 /* a bit field: guest bits must be within host's */
#define CPUPOLICY_ITEM_XSTATE_LAYOUT 4 /* xstate component n (subleaf) laid out differently;
                                          values: EAX size guest / host */
#define CPUPOLICY_ITEM_MAX_EXT_LEAF  5 /* effective max extended leaf guest > host */
#define CPUPOLICY_ITEM_FAULTING      6 /* CPUID faulting: guest has it, host not */
#define CPUPOLICY_ITEM_POLICY        7 /* a domain-builder rule (forbid:, require:, force:)
                                          detail names it */

typedef struct cpupolicy_report_item {
    uint32_t kind;              /* CPUPOLICY_ITEM_* */
    uint32_t feature;           /* ITEM_FEATURE / _POLICY: the feature number, else ~0 */
    const char *name;           /* the feature's name or the field's ("maxphysaddr") */
    uint32_t leaf, subleaf, msr;/* where it lives: CPUID leaf/subleaf or MSR, ~0 n/a */
    uint64_t guest, host;       /* the two values (a feature: 1 and 0) */
    const char *detail;         /* more words, or NULL */
} cpupolicy_report_item_t;

typedef struct cpupolicy_report {
    uint32_t version;           /* CPUPOLICY_REPORT_VERSION */
    int compatible;             /* 1 when nothing fails (cpupolicy_is_compatible == 0) */
    cpupolicy_err_t first;      /* Xen's error record: the first failing leaf/subleaf
                                   in leaf order, else the MSR; ~0 when compatible */
    uint32_t nr_items;
    const cpupolicy_report_item_t *items; /* every failing item, in leaf order (vendor,
                                   numeric fields, xstate layouts, max ext leaf), then
                                   every missing feature by number, then MSRs */
    uint32_t nr_missing_features;/* how many items are ITEM_FEATURE */
} cpupolicy_report_t;

/* Could a guest with policy `guest` run on a host offering `host` - everything that
 * fails, not just the first.  *out is allocated (free with cpupolicy_report_free) CPUPOLICY_NOEXCEPT;
 * -EINVAL NULL arguments, -ENOMEM. */
int cpupolicy_compat_report(const cpupolicy_t *host, const cpupolicy_t *guest,
                            cpupolicy_report_t **out) CPUPOLICY_NOEXCEPT;
void cpupolicy_report_free(cpupolicy_report_t *r) CPUPOLICY_NOEXCEPT;

/* ------------------------------------------------------------------------------- */
/* The domain builder (store-free)                                                 */
/* ------------------------------------------------------------------------------- */

/* A VM's CPU configuration, applied in this order onto `base`:
 * (A named model is applied to base by the caller first: cpupolicy_model_apply.)
 *  1. cpuid[0..nr_cpuid): xl.cfg(5) cpuid= strings, either form:
 *       libxl list    "host,avx512f=0,rtm=1,family=6"  (host = start from base; NAME=0|1
 *                     for a feature, x = base's value, k/s = the host's; family, model,
 *                     stepping, maxleaf, maxextleaf, maxphysaddr take a number)
 *       legacy        "0x00000007,0:ebx=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0,ecx=..." -
 *                     LEAF[,SUBLEAF]:REG=32 chars, bit 31 first: 1 set, 0 clear,
 *                     x base's value, k and s the host's value;
 *  2. features: a comma-separated list of +f / -f or libvirt's policies require:f,
 *     force:f, optional:f, disable:f, forbid:f (libvirt formatdomain, "CPU model and
 *     topology").  require/+ and force: set (force even beyond the host: then a
 *     blocker), optional: set only if host_max has it, disable/-: clear, forbid:
 *     clear, and a blocker if host_max has it;
 *  3. the dependency closure: clearing a feature clears its dependants, setting one
 *     sets its prerequisites; every feature a choice changed beyond what it named is
 *     reported with the choice that caused it.
 * Then the policy is verified against host_max and level (each may be NULL) with the
 * complete report, and every blocker listed. */
typedef struct cpupolicy_vm_spec {
    const cpupolicy_t *base;      /* required: the pool level's default policy */
    const cpupolicy_t *host_max;  /* the host's max policy, or NULL */
    const cpupolicy_t *level;     /* the pool level (max), or NULL */
    const char *const *cpuid;
    uint32_t nr_cpuid;
    const char *features;         /* NULL or "" for none */
} cpupolicy_vm_spec_t;

typedef struct cpupolicy_build_change {
    uint32_t feature;
    const char *name;
    int set;                      /* 1 the feature was set (pulled in), 0 cleared (dropped) */
    int named;                    /* 1 the choice named it, 0 the dependency closure did */
    const char *cause;            /* the choice: "-avx2", "cpuid[0] avx2=0", ... */
} cpupolicy_build_change_t;

typedef struct cpupolicy_build_report {
    uint32_t version;             /* CPUPOLICY_REPORT_VERSION */
    uint32_t nr_changes;
    const cpupolicy_build_change_t *changes;
    uint32_t nr_blockers;         /* items; detail = "host" / "pool level" / the rule */
    const cpupolicy_report_item_t *blockers;
} cpupolicy_build_report_t;

/* Build: 0 (out written, report has the changes), -EINVAL a parse error (err->item is
 * the cpuid index, or nr_cpuid for the features list; column and what), -EPERM
 * blockers (report lists every one; out untouched), -ENOMEM.  report may be NULL;
 * when given it is set on 0 and -EPERM (free with cpupolicy_build_report_free). */
int cpupolicy_vm_build(cpupolicy_t *out, const cpupolicy_vm_spec_t *spec,
                       cpupolicy_build_report_t **report, cpupolicy_parse_error_t *err) CPUPOLICY_NOEXCEPT;
void cpupolicy_build_report_free(cpupolicy_build_report_t *r) CPUPOLICY_NOEXCEPT;

/* ------------------------------------------------------------------------------- */
/* Pools and VMs in a store                                                        */
/* ------------------------------------------------------------------------------- */

/* A SQLite store (WAL, one transaction per operation, schema versioned and migrated).
 * path NULL or "": /var/lib/cpupolicy/cpupolicy.db as root, else
 * $XDG_STATE_HOME/cpupolicy/cpupolicy.db.  -EACCES, -EINVAL (not a store),
 * -EPROTONOSUPPORT (a newer schema), -EBUSY; cpupolicy_last_error() says why.
 * A store handle is used from one thread at a time. */
typedef struct cpupolicy_store cpupolicy_store_t;
int cpupolicy_store_open(cpupolicy_store_t **out, const char *path) CPUPOLICY_NOEXCEPT;
void cpupolicy_store_close(cpupolicy_store_t *s) CPUPOLICY_NOEXCEPT;
const char *cpupolicy_store_path(const cpupolicy_store_t *s) CPUPOLICY_NOEXCEPT;

/* Progress of the operations that read hosts (cpupolicy_pool_join, cpupolicy_pool_refresh),
 * for a caller that shows it: before each host fn(arg, what, done, total), done counting
 * from 0 and what naming the step ("reading host NAME (URI)"), then once with done ==
 * total when the reading is over.  fn NULL (the default): none.  Called on the caller's
 * thread, outside any store transaction; fn must not call into this store. */
typedef void (*cpupolicy_progress_fn)(void *arg, const char *what, uint32_t done, uint32_t total);
void cpupolicy_store_set_progress(cpupolicy_store_t *s, cpupolicy_progress_fn fn, void *arg) CPUPOLICY_NOEXCEPT;

#define CPUPOLICY_FORCE 1u

/* Every operation below may return a JSON document in *json (may be NULL: not
 * wanted), malloc'd, freed with cpupolicy_json_free - on success and on the refusals
 * that carry reasons (-EPERM).  Errors: -ENOENT no such pool/host/VM, -EEXIST a name
 * taken, -EBUSY another process holds the store past the busy timeout
 * (CPUPOLICY_STORE_BUSY_MS, default 5000), -EPERM refused (reasons in the document),
 * -EINVAL bad input, or a handle's error for a host that cannot be reached. */
void cpupolicy_json_free(char *json) CPUPOLICY_NOEXCEPT;

/* type CPUPOLICY_DOMAIN_HVM or _PV: which max/default policies the pool levels. */
int cpupolicy_pool_create(cpupolicy_store_t *s, const char *pool, unsigned int type, char **json) CPUPOLICY_NOEXCEPT;
/* Read the host's max and default policies over a handle on uri, record them with its
 * identity, recompute the level.  host_name NULL: derived from the URI.  -EPERM when
 * placed VMs would no longer fit the new level (each named with what it loses) unless
 * flags has CPUPOLICY_FORCE. */
int cpupolicy_pool_join(cpupolicy_store_t *s, const char *pool, const char *uri,
                        const char *host_name, unsigned int flags, char **json) CPUPOLICY_NOEXCEPT;
/* -EPERM while VMs run on the host, unless CPUPOLICY_FORCE (their records are removed). */
int cpupolicy_pool_eject(cpupolicy_store_t *s, const char *pool, const char *host,
                         unsigned int flags, char **json) CPUPOLICY_NOEXCEPT;
/* Re-read host (NULL: every member) and report what moved. */
int cpupolicy_pool_refresh(cpupolicy_store_t *s, const char *pool, const char *host, char **json) CPUPOLICY_NOEXCEPT;
int cpupolicy_pool_show(cpupolicy_store_t *s, const char *pool, char **json) CPUPOLICY_NOEXCEPT;
int cpupolicy_pool_list(cpupolicy_store_t *s, char **json) CPUPOLICY_NOEXCEPT;
int cpupolicy_pool_history(cpupolicy_store_t *s, const char *pool, char **json) CPUPOLICY_NOEXCEPT;
/* The pool level (max) or, with is_default, its default policy, into out.  -ENODATA for
 * a pool without members. */
int cpupolicy_pool_get_level(cpupolicy_store_t *s, const char *pool, int is_default,
                             cpupolicy_t *out) CPUPOLICY_NOEXCEPT;

typedef struct cpupolicy_vm_config {
    const char *name;
    const char *pool;
    const char *host;             /* a member of the pool */
    const char *model;            /* NULL, or a named model (cpupolicy_models.h: ours, then
                                     libvirt's CPU map) applied to the level's default */
    const char *const *cpuid;
    uint32_t nr_cpuid;
    const char *features;
} cpupolicy_vm_config_t;
/* Build (cpupolicy_vm_build over the level's default, the host's max and the level),
 * create the domain on the host, set its policy before it starts, start it, record it.
 * -EINVAL parse error, -EPERM blockers: both with the document; nothing created. */
int cpupolicy_vm_create(cpupolicy_store_t *s, const cpupolicy_vm_config_t *cfg, char **json) CPUPOLICY_NOEXCEPT;
int cpupolicy_vm_show(cpupolicy_store_t *s, const char *vm, char **json) CPUPOLICY_NOEXCEPT;
int cpupolicy_vm_list(cpupolicy_store_t *s, const char *pool, char **json) CPUPOLICY_NOEXCEPT;
int cpupolicy_vm_destroy(cpupolicy_store_t *s, const char *vm, char **json) CPUPOLICY_NOEXCEPT;
int cpupolicy_vm_get_policy(cpupolicy_store_t *s, const char *vm, cpupolicy_t *out) CPUPOLICY_NOEXCEPT;
/* 0 the VM can move to host (a member of its pool), 1 it cannot; the verdict (the
 * complete report against the host's recorded max policy) in the document. */
int cpupolicy_vm_migrate_check(cpupolicy_store_t *s, const char *vm, const char *host,
                               char **json) CPUPOLICY_NOEXCEPT;
/* The check, then the hand-off: create on host with the VM's policy set before start,
 * start, destroy on the source, update the store.  -EPERM incompatible (verdict in the
 * document); if any step fails, the steps done are undone. */
int cpupolicy_vm_migrate(cpupolicy_store_t *s, const char *vm, const char *host, char **json) CPUPOLICY_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* CPUPOLICY_TOOLSTACK_H */
