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
 *    nr_* and are in/out where a buffer is filled: in = capacity, out = used/required.
 *  - A NULL buffer with a count pointer asks for the size.
 *  - A featureset is an array of 32-bit words; feature number f is bit (f % 32) of word
 *    (f / 32), in Xen's layout.  Shorter featuresets are zero-extended; longer ones are
 *    accepted only when the extra words are zero (-EOPNOTSUPP otherwise).
 *  - On failure nothing is half-applied: objects are left as they were.
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

/* ------------------------------------------------------------------------------- */
/* Features and featuresets                                                        */
/* ------------------------------------------------------------------------------- */

/* Number of 32-bit words in this build's featureset (19). */
uint32_t cpupolicy_featureset_size(void);

/* Static masks, in the order of Xen's xc_static_cpu_featuremask(). */
#define CPUPOLICY_MASK_KNOWN          0
#define CPUPOLICY_MASK_SPECIAL        1
#define CPUPOLICY_MASK_PV_MAX         2
#define CPUPOLICY_MASK_PV_DEF         3
#define CPUPOLICY_MASK_HVM_SHADOW_MAX 4
#define CPUPOLICY_MASK_HVM_SHADOW_DEF 5
#define CPUPOLICY_MASK_HVM_HAP_MAX    6
#define CPUPOLICY_MASK_HVM_HAP_DEF    7
/* cpupolicy_featureset_size() words, valid for the life of the process; NULL for an
 * unknown `which`. */
const uint32_t *cpupolicy_static_featuremask(unsigned int which);

/* Canonical name (Xen spelling) or alias (Xen 4.17, Linux /proc/cpuinfo, QEMU,
 * libvirt; case-insensitive, '_' == '-') -> feature number.  -ENOENT if unknown,
 * -EINVAL for NULL arguments. */
int cpupolicy_feature_from_name(const char *name, uint32_t *feature);

/* Canonical name of a feature number, or NULL if it has none. */
const char *cpupolicy_feature_name(uint32_t feature);

/* Fill fs[0..nr) with the closure of features that must be cleared when `feature` is
 * cleared (not including `feature` itself).  -ENOENT for an unknown feature, -EINVAL
 * for a NULL fs.  nr may be shorter or longer than the featureset size; words past the
 * closure are zeroed, and -ENOBUFS is returned (with what fits filled in) when the
 * closure has features beyond fs[nr-1]. */
int cpupolicy_feature_deps(uint32_t feature, uint32_t *fs, uint32_t nr);

/* 0 when every feature present in fs has all its prerequisites.  -EINVAL, with
 * *bad_feature (if not NULL) = the lowest feature present without a prerequisite.
 * -EOPNOTSUPP when fs has nonzero words beyond this build's featureset. */
int cpupolicy_featureset_check_deps(const uint32_t *fs, uint32_t nr, uint32_t *bad_feature);

/* Clear unknown bits (including all words beyond this build's size) and the closure of
 * every absent prerequisite, in place. */
int cpupolicy_featureset_sanitise(uint32_t *fs, uint32_t nr);

#ifdef __cplusplus
}
#endif

#endif /* CPUPOLICY_H */
