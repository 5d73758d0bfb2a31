/* SPDX-License-Identifier: MIT */
/*
 * cpupolicy.h - the C ABI of libcpupolicy.
 *
 * x86 CPU feature levelling for toolstacks: featuresets, CPUID policies, the
 * derivations a hypervisor makes at boot, deep compatibility checks, levelling of a
 * pool of hosts, and (through a handle) the hypercalls of a running hypervisor.
 *
 * Conventions, everywhere:
 *  - Every fallible function returns 0 (or a documented non-negative count) on success
 *    and a negative errno value on failure.  The library never reads or writes the C
 *    library's errno.
 *  - Output parameters come first after the object they belong to; counts are named
 *    nr or nr_*.
 *  - The count rule, for every call that fills an array through a count pointer
 *    (cpupolicy_serialise, cpupolicy_policy_to_featureset, cpupolicy_get_featureset,
 *    cpupolicy_import_dump_notes):  *nr in = the array's capacity;  *nr out = the
 *    count the complete answer has - the same value on success, on a size query and
 *    on -ENOBUFS.  A NULL array with a count pointer is a size query: 0, only the
 *    count written.  A short array gives -ENOBUFS: the array's contents are then
 *    unspecified (the featureset calls fill what fits, cpupolicy_serialise writes
 *    nothing) and nothing else changes.  Calls that take a featureset length by value
 *    (cpupolicy_feature_deps, cpupolicy_missing_features, ...) need
 *    cpupolicy_featureset_size() words for the complete answer.
 *  - A featureset is an array of 32-bit words; feature number f is bit (f % 32) of word
 *    (f / 32), in Xen's layout.  Shorter featuresets are zero-extended; longer ones are
 *    accepted only when the extra words are zero (-EOPNOTSUPP otherwise).
 *  - On failure nothing is half-applied: objects are left as they were.
 *  - Errors: after a call that returned a negative errno, cpupolicy_last_error() says
 *    what was wrong (the function, and the file and line, leaf/subleaf/MSR, feature,
 *    option or index at fault).
 *  - Lifetimes: a cpupolicy_t is valid from cpupolicy_alloc() until cpupolicy_free(), a
 *    handle from a successful cpupolicy_open() until cpupolicy_close(); after that the
 *    pointer is invalid and passing it to any function is undefined behaviour (as with
 *    free()).  Closing a handle does not free the policies read through it: they are
 *    the caller's, and stay valid.  Both free functions accept NULL.
 *  - Nothing throws: every function is noexcept for C++ callers.  The library is built
 *    without exceptions; what it reads is bounded before it allocates (docs/robustness.md),
 *    and should the C++ runtime still fail an allocation inside the library, the process
 *    ends in std::terminate() at the boundary instead of unwinding into C frames.
 *  - Versions: symbols are versioned (CPUPOLICY_1.0, CPUPOLICY_1.1 for what 1.1 added);
 *    cpupolicy_version() tells a caller at run time which library it got.
 *
 * This header is C89 and C++ clean (tests/header.c compiles it both ways).
 */
#ifndef CPUPOLICY_H
#define CPUPOLICY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exception specification of every function, for C++ callers (see Conventions). */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define CPUPOLICY_NOEXCEPT noexcept
#elif defined(__cplusplus)
#define CPUPOLICY_NOEXCEPT throw()
#else
#define CPUPOLICY_NOEXCEPT
#endif

/* ------------------------------------------------------------------------------- */
/* Version and errors                                                              */
/* ------------------------------------------------------------------------------- */

/* The version this header describes; cpupolicy_version() gives the library's, as
 * (major << 16) | (minor << 8) | patch.  A program built against 1.x runs with any
 * library 1.y, y >= x (the soname is libcpupolicy.so.1). */
#define CPUPOLICY_VERSION_MAJOR 1
#define CPUPOLICY_VERSION_MINOR 1
#define CPUPOLICY_VERSION_PATCH 0
#define CPUPOLICY_VERSION                                                            \
    ((CPUPOLICY_VERSION_MAJOR << 16) | (CPUPOLICY_VERSION_MINOR << 8) | CPUPOLICY_VERSION_PATCH)
/* Since 1.1. */
uint32_t cpupolicy_version(void) CPUPOLICY_NOEXCEPT;

/* What was wrong in the last call of this thread that returned a negative errno: the
 * precise message where the call has one ("dump.txt:12: register 2: bad hex digit 'G'
 * in ...", "sim: URI needs dump=PATH"), else the function, the leaf/subleaf, MSR,
 * feature or input index at fault, and the errno's text ("cpupolicy_update_cpuid: leaf
 * 0x7 subleaf 0x5: Numerical result out of range"); "" after a successful call.  The string is the thread's own, valid until its next call
 * of this library.  Since 1.1; it replaces cpupolicy_last_import_error() and
 * cpupolicy_last_open_error(), which remain (CPUPOLICY_1.0) and return the same string. */
const char *cpupolicy_last_error(void) CPUPOLICY_NOEXCEPT;

/* ------------------------------------------------------------------------------- */
/* Features and featuresets                                                        */
/* ------------------------------------------------------------------------------- */

/* Number of 32-bit words in this build's featureset (19).  Words are append-only, so a
 * newer library may return more; size buffers with this, not with a constant. */
uint32_t cpupolicy_featureset_size(void) CPUPOLICY_NOEXCEPT;

/* Static masks, in the order of Xen's xc_static_cpu_featuremask().  All are derived
 * from the attribute letters of the one feature table (docs/features.md):
 *   KNOWN          every feature the table names
 *   SPECIAL        '!'  the hypervisor computes or overrides the bit (APIC, OSXSAVE, ...)
 *   PV_DEF         'A'                 PV_MAX         'A' 'a'
 *   HVM_SHADOW_DEF PV_DEF + 'S'        HVM_SHADOW_MAX PV_MAX + 'S' 's'
 *   HVM_HAP_DEF    HVM_SHADOW_DEF + 'H' HVM_HAP_MAX   HVM_SHADOW_MAX + 'H' 'h'
 * so each default mask is a subset of its max mask, PV of HVM shadow of HVM HAP, and
 * all of KNOWN. */
#define CPUPOLICY_MASK_KNOWN          0
#define CPUPOLICY_MASK_SPECIAL        1
#define CPUPOLICY_MASK_PV_MAX         2
#define CPUPOLICY_MASK_PV_DEF         3
#define CPUPOLICY_MASK_HVM_SHADOW_MAX 4
#define CPUPOLICY_MASK_HVM_SHADOW_DEF 5
#define CPUPOLICY_MASK_HVM_HAP_MAX    6
#define CPUPOLICY_MASK_HVM_HAP_DEF    7
/* cpupolicy_featureset_size() words, read-only, valid for the life of the process;
 * NULL for an unknown `which`. */
const uint32_t *cpupolicy_static_featuremask(unsigned int which) CPUPOLICY_NOEXCEPT;

/* Canonical name (Xen spelling) or alias (Xen 4.17, Linux /proc/cpuinfo, QEMU,
 * libvirt) -> feature number, in *feature.  Matching ignores case and treats '_' and
 * '-' alike ("SSE4_1" == "sse4-1").  Returns 0; -ENOENT if the name is unknown
 * (*feature untouched); -EINVAL if name or feature is NULL. */
int cpupolicy_feature_from_name(const char *name, uint32_t *feature) CPUPOLICY_NOEXCEPT;

/* Canonical name of a feature number, or NULL if it has none (an unnamed bit, or a
 * number beyond this build's featureset).  The string is static. */
const char *cpupolicy_feature_name(uint32_t feature) CPUPOLICY_NOEXCEPT;

/* Fill fs[0..nr) with the closure of features that must be cleared when `feature` is
 * cleared (not including `feature` itself); a feature nothing depends on gives an
 * all-zero set.  -EINVAL for a NULL fs (checked first), -ENOENT for a feature number
 * the table does not name (fs untouched).  nr may be shorter or longer than the
 * featureset size: words beyond the featureset are zeroed, and -ENOBUFS is returned
 * (with what fits filled in) when the closure has features beyond fs[nr-1]. */
int cpupolicy_feature_deps(uint32_t feature, uint32_t *fs, uint32_t nr) CPUPOLICY_NOEXCEPT;

/* 0 when every feature present in fs[0..nr) has all its prerequisites.  A short fs is
 * zero-extended; bits the table does not name have no prerequisites and pass.
 * Errors, in order of precedence:
 *   -EINVAL      fs is NULL;
 *   -EOPNOTSUPP  fs has nonzero words beyond this build's featureset (a newer peer's
 *                features are never truncated into a pass);
 *   -EINVAL      a feature is present without a prerequisite.
 * If bad_feature is not NULL it is always written: the lowest-numbered feature present
 * without a prerequisite in the last case, ~0 otherwise (including success). */
int cpupolicy_featureset_check_deps(const uint32_t *fs, uint32_t nr, uint32_t *bad_feature) CPUPOLICY_NOEXCEPT;

/* In place on fs[0..nr): clear every bit the table does not name (including all words
 * beyond this build's featureset size, which are zeroed), then clear the dependency
 * closure of every absent feature, so that the result passes
 * cpupolicy_featureset_check_deps().  A short fs is treated as zero-extended, which
 * may clear features in it whose prerequisites live in the missing words.  Returns 0,
 * or -EINVAL for a NULL fs. */
int cpupolicy_featureset_sanitise(uint32_t *fs, uint32_t nr) CPUPOLICY_NOEXCEPT;

/* ------------------------------------------------------------------------------- */
/* Policies (offline: no hypervisor needed)                                         */
/* ------------------------------------------------------------------------------- */

/* Wire format, identical to Xen's xen_cpuid_leaf_t and xen_msr_entry_t. */
typedef struct cpupolicy_leaf {
    uint32_t leaf, subleaf;
    uint32_t a, b, c, d;
} cpupolicy_leaf_t;

typedef struct cpupolicy_msr {
    uint32_t idx;
    uint32_t flags; /* must be 0 */
    uint64_t val;
} cpupolicy_msr_t;

/* Subleaf value of a leaf that has no subleaves (XEN_CPUID_NO_SUBLEAF). */
#define CPUPOLICY_NO_SUBLEAF 0xffffffffu

/* Where a call failed: the offending leaf/subleaf or MSR index; ~0u where a field does
 * not apply.  Every function taking one accepts NULL. */
typedef struct cpupolicy_err {
    uint32_t leaf, subleaf, msr;
} cpupolicy_err_t;

/* An opaque CPU policy: everything a guest sees through CPUID and the feature MSRs
 * (ranges: docs/policy.md).  Allocated zeroed; NULL when out of memory.  After
 * cpupolicy_free(p), p is invalid: pass it to nothing (cpupolicy_free(NULL) is a no-op).
 * (The struct tag was `cpupolicy` before 1.1; no ABI depends on a tag.) */
typedef struct cpupolicy_policy cpupolicy_t;
cpupolicy_t *cpupolicy_alloc(void) CPUPOLICY_NOEXCEPT;
void cpupolicy_free(cpupolicy_t *p) CPUPOLICY_NOEXCEPT;

/* Deserialise leaves / MSRs onto p (entries given are updated, others kept).  Atomic:
 * on any error p is unchanged.  -E2BIG more entries than a policy holds; -ERANGE a
 * leaf/subleaf/MSR the policy does not hold, or a subleaf given to a leaf without
 * subleaves (or NO_SUBLEAF to one with them); -EINVAL duplicate entry or MSR flags != 0;
 * -EOVERFLOW a value too wide for its MSR.  err names the entry. */
int cpupolicy_update_cpuid(cpupolicy_t *p, const cpupolicy_leaf_t *leaves, uint32_t nr,
                           cpupolicy_err_t *err) CPUPOLICY_NOEXCEPT;
int cpupolicy_update_msrs(cpupolicy_t *p, const cpupolicy_msr_t *msrs, uint32_t nr,
                          cpupolicy_err_t *err) CPUPOLICY_NOEXCEPT;

/* Serialise, sorted by (leaf, subleaf) and MSR index.  Each pair follows the count
 * rule (Conventions); -ENOBUFS when either array is short, with both counts stored and
 * neither array written.  Either pair may be NULL/NULL to skip it. */
int cpupolicy_serialise(const cpupolicy_t *p, cpupolicy_leaf_t *leaves, uint32_t *nr_leaves,
                        cpupolicy_msr_t *msrs, uint32_t *nr_msrs) CPUPOLICY_NOEXCEPT;

/* Featureset view of a policy.  to: the count rule (Conventions): *nr out =
 * cpupolicy_featureset_size(); -ENOBUFS when short (what fits is copied).  from: writes the featureset
 * words into their leaves (no dependency logic; see cpupolicy_featureset_sanitise). */
int cpupolicy_policy_to_featureset(const cpupolicy_t *p, uint32_t *fs, uint32_t *nr) CPUPOLICY_NOEXCEPT;
int cpupolicy_policy_from_featureset(cpupolicy_t *p, const uint32_t *fs, uint32_t nr) CPUPOLICY_NOEXCEPT;

/* One CPUID answer as the policy gives it, addressed as the CPUID instruction is:
 *  - a leaf without subleaves ignores `subleaf` (out->subleaf = CPUPOLICY_NO_SUBLEAF);
 *  - the hypervisor-limit leaves 0x40000000 / 0x40000100 answer {limit, 0, 0, 0}, as
 *    serialised;
 *  - zeros for a slot outside the ranges the policy itself advertises, the rules the
 *    hypervisor applies (docs/wire-format.md, "Out-of-range leaves"): a basic leaf above
 *    0.EAX; an extended leaf above 0x80000000.EAX (or any but 0x80000000 when that EAX
 *    is not in 0x80000000..0x8000ffff); a subleaf at or past the type-0 terminator of
 *    leaves 4 / 0x8000001d (cache type) and 0xb / 0x1f / 0x80000026 (level type); above
 *    subleaf 0's EAX for 7, 0x14, 0x17, 0x18, 0x1d, 0x1e, 0x20, 0x24; a component of
 *    0xd (n >= 2) not set in 0:EDX:EAX | 1:EDX:ECX; a ResID of 0xf / 0x10 / 0x23 /
 *    0x80000020 not set in subleaf 0's bitmap; an SGX EPC section of 0x12 at or past
 *    its type-0 terminator.  Values stored out of range stay in the object but are not
 *    answered;
 *  - -ERANGE for a leaf, or a subleaf of a subleaf-indexed leaf, that the policy object
 *    has no slot for (docs/policy.md lists them).
 * -EINVAL for a NULL p or out. */
int cpupolicy_get_cpuid(const cpupolicy_t *p, uint32_t leaf, uint32_t subleaf,
                        cpupolicy_leaf_t *out) CPUPOLICY_NOEXCEPT;

/* Policy indices, in Xen's order (XEN_SYSCTL_cpu_policy_*). */
#define CPUPOLICY_RAW         0
#define CPUPOLICY_HOST        1
#define CPUPOLICY_PV_MAX      2
#define CPUPOLICY_HVM_MAX     3
#define CPUPOLICY_PV_DEFAULT  4
#define CPUPOLICY_HVM_DEFAULT 5

/* Derive the policy `idx` from a raw policy as the hypervisor does at boot, with
 * Xen-style boot options ("cpuid=no-avx512f,rtm tsx=0", or a bare cpuid= list
 * "no-avx512f,rtm"; NULL for none).  -EINVAL bad idx or options syntax, -ENOENT unknown
 * feature in the options; cpupolicy_last_error() then names the option, its offset in
 * boot_options, what is wrong and what is accepted ("boot option 'tsx=banana' at
 * offset 0: 'banana' is not a boolean (accepted: ...)"). */
int cpupolicy_derive(cpupolicy_t *out, const cpupolicy_t *raw, unsigned int idx,
                     const char *boot_options) CPUPOLICY_NOEXCEPT;

/* Deep compatibility: could a guest running with `guest` move to a host offering
 * `host` (a max policy)?  0, or -EINVAL with err naming the first failing leaf/subleaf
 * or MSR.  Compares vendor, max leaves, every feature word, maxphysaddr, xsave sizes,
 * AMX palette, CPUID faulting (docs/wire-format.md). */
int cpupolicy_is_compatible(const cpupolicy_t *host, const cpupolicy_t *guest,
                            cpupolicy_err_t *err) CPUPOLICY_NOEXCEPT;

/* The complete set of guest features the host lacks, as a featureset of nr words.
 * Returns the number of missing features (0 = none). */
int cpupolicy_missing_features(const cpupolicy_t *host, const cpupolicy_t *guest,
                               uint32_t *fs, uint32_t nr) CPUPOLICY_NOEXCEPT;

/* Levelling: the most capable policy compatible with all n inputs.  -EINVAL for n == 0
 * or different vendors (*bad_index = the first input whose vendor differs) or a NULL
 * input (*bad_index = its index); -ENOMEM.  out is written only on success. */
int cpupolicy_calc_compatible(cpupolicy_t *out, const cpupolicy_t *const *in, uint32_t n,
                              uint32_t *bad_index) CPUPOLICY_NOEXCEPT;

/* Import a raw CPUID (+MSR) dump (InstLatx64/AIDA64 formats, `cpuid -r`; docs/import.md),
 * logical CPU `cpu` (0 = first).  path NULL or "" reads this machine's CPUID
 * instruction.  Atomic.  -ENOENT/-EACCES/... the file cannot be opened or read,
 * -EINVAL not a regular file or malformed (a conflicting duplicate leaf included),
 * -EFBIG larger than 16 MiB, -ERANGE no such CPU in the file; cpupolicy_last_error()
 * names the file and line. */
int cpupolicy_import_dump(cpupolicy_t *raw, const char *path, unsigned int cpu) CPUPOLICY_NOEXCEPT;

/* Deprecated since 1.1: cpupolicy_last_error(), which this returns. */
const char *cpupolicy_last_import_error(void) CPUPOLICY_NOEXCEPT;

/* One correction the importer made so that the policy holds what a 64-bit hypervisor
 * reads on that CPU (docs/import.md, "Corrections").  Today there is one rule: an Intel
 * CPU reports SYSCALL (0x80000001 EDX bit 11) only to 64-bit code, so a dump taken by
 * a 32-bit process shows it clear beside long mode; the importer sets it. */
typedef struct cpupolicy_import_note {
    uint32_t leaf, subleaf; /* subleaf 0 for a leaf without subleaves */
    uint32_t reg;           /* 0 EAX, 1 EBX, 2 ECX, 3 EDX */
    uint32_t bit;           /* 0..31 */
    uint32_t value;         /* what the bit was set to: 0 or 1 */
    uint32_t line;          /* the record's line in the dump; 0 for native CPUID */
    const char *why;        /* static, never NULL: the rule and its source */
} cpupolicy_import_note_t;

/* At most this many notes per import (one per correction rule): a buffer of this size
 * is never short. */
#define CPUPOLICY_MAX_IMPORT_NOTES 8

/* cpupolicy_import_dump, and the corrections it made (since CPUPOLICY_1.1).  notes and
 * nr_notes follow the count rule above; with both NULL this is cpupolicy_import_dump.
 * raw is written only on success: a size query (notes NULL) or a short buffer
 * (-ENOBUFS) leaves it unchanged. */
int cpupolicy_import_dump_notes(cpupolicy_t *raw, const char *path, unsigned int cpu,
                                cpupolicy_import_note_t *notes, uint32_t *nr_notes) CPUPOLICY_NOEXCEPT;

/* ------------------------------------------------------------------------------- */
/* A hypervisor, through a handle                                                  */
/* ------------------------------------------------------------------------------- */

/* A connection to one hypervisor.  uri:
 *   NULL or ""                    the embedded simulated hypervisor booted on this
 *                                 machine's CPU (one physical CPU);
 *   "sim:dump=PATH[,cpus=N][,boot=OPTS]"  the embedded simulated hypervisor on the host a
 *                                 CPUID dump describes, with N physical CPUs and boot
 *                                 options as cpupolicy_derive() takes them.  boot= comes
 *                                 last and takes the rest of the URI (commas inside
 *                                 OPTS are fine); a piece of OPTS spelt like a URI
 *                                 option ("...,cpus=64") is -EINVAL, never read as one.
 *   "unix:PATH"                   a cpupolicyd serving one simulated host on PATH.
 *   "ssh:[USER@]HOST[:PORT]/SOCKET"  a cpupolicyd on HOST, reached by running the system's
 *                                 ssh client with `cpupolicyd --stdio-bridge SOCKET` as the
 *                                 remote command (libvirt's qemu+ssh model); ssh
 *                                 authenticates.  CPUPOLICY_SSH, CPUPOLICY_SSH_CONFIG (-F)
 *                                 and CPUPOLICY_SSH_BRIDGE adjust it (docs/toolstack.md).
 *   "xen:"                        the Xen this process runs on (dom0, root), through
 *                                 libxenctrl/libxenguest 4.17, loaded with dlopen() here
 *                                 (this library does not link them).  -ENODEV when they
 *                                 are not installed or no Xen can be reached.  Domains
 *                                 are a toolstack's (libxl's) to create: domain_create,
 *                                 _start and _destroy give -EOPNOTSUPP.
 * The embedded simulated hypervisor is part of this library on purpose (it is the core a
 * hypervisor runs, booted in-process; cpupolicy_sim.h says why it ships here).
 * The caller acts as the control domain.  A handle is not thread-safe: use it from one
 * thread at a time (different handles are independent).  Policies and featuresets are
 * plain data and may be used from any thread.  0, or -EINVAL for a malformed URI or boot
 * option, -ENOENT for an unreadable dump, -ENOMEM.  On failure *out is NULL;
 * cpupolicy_last_error() says why.  After cpupolicy_close(h), h is invalid: pass it to
 * nothing (cpupolicy_close(NULL) is a no-op); policies read through h stay valid. */
typedef struct cpupolicy_handle cpupolicy_handle_t;
int cpupolicy_open(cpupolicy_handle_t **out, const char *uri) CPUPOLICY_NOEXCEPT;
void cpupolicy_close(cpupolicy_handle_t *h) CPUPOLICY_NOEXCEPT;
/* Deprecated since 1.1: cpupolicy_last_error(), which this returns. */
const char *cpupolicy_last_open_error(void) CPUPOLICY_NOEXCEPT;

/* Featureset indices, in Xen's featureset order (XEN_SYSCTL_cpu_featureset_*), which is
 * NOT the policy order above. */
#define CPUPOLICY_FEATURESET_RAW         0
#define CPUPOLICY_FEATURESET_HOST        1
#define CPUPOLICY_FEATURESET_PV_DEFAULT  2
#define CPUPOLICY_FEATURESET_HVM_DEFAULT 3
#define CPUPOLICY_FEATURESET_PV_MAX      4
#define CPUPOLICY_FEATURESET_HVM_MAX     5

/* The featureset a toolstack reads at pool join (get_featureset(MAX)).  The count rule
 * (Conventions): *nr out = the hypervisor's word count, which may exceed
 * cpupolicy_featureset_size() for a newer hypervisor; -ENOBUFS when short (what fits is
 * copied).  -EINVAL for a bad idx.  (Before 1.1, -ENOBUFS stored the words written.) */
int cpupolicy_get_featureset(cpupolicy_handle_t *h, unsigned int idx, uint32_t *nr,
                             uint32_t *fs) CPUPOLICY_NOEXCEPT;

/* Apply fs onto domain domid's current policy (the dependency closure of every absent
 * prerequisite applied) and set it with the same checks as cpupolicy_set_domain_policy. */
int cpupolicy_set_featureset(cpupolicy_handle_t *h, uint32_t domid, const uint32_t *fs,
                             uint32_t nr, cpupolicy_err_t *err) CPUPOLICY_NOEXCEPT;

/* Does fs fit the hypervisor's featureset idx (a MAX index, usually): every feature of
 * fs offered there, and with its prerequisites in fs?  0, or -EINVAL with *bad_feature =
 * the first feature it cannot provide or that lacks a prerequisite; -EOPNOTSUPP for
 * nonzero words beyond this build's featureset.  One word per meaning: "check_deps"
 * is the dependency rule alone (cpupolicy_featureset_check_deps, offline), "fits_max"
 * this question to a hypervisor.  Since 1.1. */
int cpupolicy_featureset_fits_max(cpupolicy_handle_t *h, unsigned int idx, const uint32_t *fs,
                                  uint32_t nr, uint32_t *bad_feature) CPUPOLICY_NOEXCEPT;
/* Deprecated since 1.1: the 1.0 name of cpupolicy_featureset_fits_max ("verify" meant
 * two things). */
int cpupolicy_verify_featureset(cpupolicy_handle_t *h, unsigned int idx, const uint32_t *fs,
                                uint32_t nr, uint32_t *bad_feature) CPUPOLICY_NOEXCEPT;

/* Levelling capabilities of the host, with Xen's historic public bit numbers. */
#define CPUPOLICY_LCAP_FAULTING    (1u << 0)
#define CPUPOLICY_LCAP_ECX         (1u << 1)
#define CPUPOLICY_LCAP_EDX         (1u << 2)
#define CPUPOLICY_LCAP_EXTD_ECX    (1u << 3)
#define CPUPOLICY_LCAP_EXTD_EDX    (1u << 4)
#define CPUPOLICY_LCAP_XSAVE_EAX   (1u << 5)
#define CPUPOLICY_LCAP_THERMAL_ECX (1u << 6)
#define CPUPOLICY_LCAP_L7S0_EAX    (1u << 7)
#define CPUPOLICY_LCAP_L7S0_EBX    (1u << 8)
int cpupolicy_get_levelling_caps(cpupolicy_handle_t *h, uint32_t *caps) CPUPOLICY_NOEXCEPT;

/* System policy idx, in policy order (CPUPOLICY_RAW ... CPUPOLICY_HVM_DEFAULT). */
int cpupolicy_get_system_policy(cpupolicy_handle_t *h, unsigned int idx, cpupolicy_t *out) CPUPOLICY_NOEXCEPT;

/* Domains.  A new domain starts from its type's default policy.  Once started its policy
 * is fixed (set_* give -EEXIST).  -ESRCH for no such domain, -ENOMEM when the domain pool
 * is full, -EINVAL for a bad type. */
#define CPUPOLICY_DOMAIN_PV  0
#define CPUPOLICY_DOMAIN_HVM 1
int cpupolicy_domain_create(cpupolicy_handle_t *h, unsigned int type, uint32_t *domid) CPUPOLICY_NOEXCEPT;
int cpupolicy_domain_start(cpupolicy_handle_t *h, uint32_t domid) CPUPOLICY_NOEXCEPT;
int cpupolicy_domain_destroy(cpupolicy_handle_t *h, uint32_t domid) CPUPOLICY_NOEXCEPT;
int cpupolicy_get_domain_policy(cpupolicy_handle_t *h, uint32_t domid, cpupolicy_t *out) CPUPOLICY_NOEXCEPT;
/* Verified against the domain type's max policy with the deep compatibility check and the
 * dependency rules; atomic (the old policy stands on any error); -EINVAL with err naming
 * the first failing leaf/subleaf/MSR. */
int cpupolicy_set_domain_policy(cpupolicy_handle_t *h, uint32_t domid, const cpupolicy_t *p,
                                cpupolicy_err_t *err) CPUPOLICY_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* CPUPOLICY_H */
