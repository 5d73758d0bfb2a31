/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the Check suites over the handle API (check_conformance.c,
 * check_sim.c), on top of check_common.h.  Public C ABI only.  Everything is static
 * inline so that a suite using part of it compiles warning-free.
 */
#ifndef CPUPOLICY_TESTS_HANDLE_COMMON_H
#define CPUPOLICY_TESTS_HANDLE_COMMON_H

#include "check_common.h"

#define DUMP_SNB "GenuineIntel00206D5_SandyBridgeEP.txt"
#define DUMP_NHM "GenuineIntel00106A2_Nehalem-EP.txt"
#define DUMP_HSW "GenuineIntel00306F2_HaswellEP.txt"
#define DUMP_SPR "GenuineIntel00806F8_SapphireRapids_05.txt"
#define DUMP_MILAN "AuthenticAMD0A00F11_K19_Milan_02.txt"
#define DUMP_GENOA "AuthenticAMD0A10F11_K19_Genoa_01.txt"

/* --- URIs ------------------------------------------------------------------------- */
/* "sim:dump=DIR/NAME" followed by `extra` (e.g. ",cpus=2"), into a static ring. */
static inline const char *sim_uri(const char *dump, const char *extra)
{
    static char ring[8][4096];
    static unsigned next;
    char *buf = ring[next++ % 8];
    snprintf(buf, sizeof(ring[0]), "sim:dump=%s/%s%s", dumps_dir(), dump, extra ? extra : "");
    return buf;
}

static inline cpupolicy_handle_t *open_ok(const char *uri)
{
    cpupolicy_handle_t *h = NULL;
    int rc = E(cpupolicy_open(&h, uri));
    ck_assert_msg(rc == 0 && h, "cpupolicy_open(\"%s\"): expected 0, got %d (%s)", uri, rc,
                  cpupolicy_last_error());
    return h;
}

/* --- policies --------------------------------------------------------------------- */
static inline cpupolicy_t *sys_policy(cpupolicy_handle_t *h, unsigned idx)
{
    cpupolicy_t *p = alloc_policy();
    int rc = E(cpupolicy_get_system_policy(h, idx, p));
    ck_assert_msg(rc == 0, "get_system_policy(%u): expected 0, got %d", idx, rc);
    return p;
}
static inline cpupolicy_t *dom_policy(cpupolicy_handle_t *h, uint32_t domid)
{
    cpupolicy_t *p = alloc_policy();
    int rc = E(cpupolicy_get_domain_policy(h, domid, p));
    ck_assert_msg(rc == 0, "get_domain_policy(d%u): expected 0, got %d", domid, rc);
    return p;
}
static inline void get_fs(cpupolicy_handle_t *h, unsigned idx, uint32_t *fs)
{
    uint32_t nr = NR_WORDS;
    int rc = E(cpupolicy_get_featureset(h, idx, &nr, fs));
    ck_assert_msg(rc == 0 && nr == NR_WORDS, "get_featureset(%u): expected 0/%u words, got %d/%u",
                  idx, NR_WORDS, rc, nr);
}
static inline void dom_fs(cpupolicy_handle_t *h, uint32_t domid, uint32_t *fs)
{
    cpupolicy_t *p = dom_policy(h, domid);
    pol_fs(p, fs);
    EV(cpupolicy_free(p));
}
/* Domains a test created, destroyed again by close_handle(): a daemon or a real Xen
 * outlives the test, and its domain pool is finite (16 in the simulator). */
static struct {
    cpupolicy_handle_t *h;
    uint32_t d;
} created[64];
static unsigned nr_created;

static inline uint32_t create_domain(cpupolicy_handle_t *h, unsigned type)
{
    uint32_t d = NONE;
    int rc = E(cpupolicy_domain_create(h, type, &d));
    ck_assert_msg(rc == 0 && d != NONE, "domain_create(%s): expected 0, got %d",
                  type == CPUPOLICY_DOMAIN_PV ? "pv" : "hvm", rc);
    if ( nr_created < sizeof(created) / sizeof(created[0]) )
    {
        created[nr_created].h = h;
        created[nr_created++].d = d;
    }
    return d;
}

/* Destroy what this test created through h (already destroyed ones answer -ESRCH),
 * then close h. */
static inline void close_handle(cpupolicy_handle_t *h)
{
    unsigned i;
    for ( i = 0; i < nr_created; ++i )
        if ( created[i].h == h )
        {
            int rc = E(cpupolicy_domain_destroy(h, created[i].d));
            ck_assert_msg(rc == 0 || rc == -ESRCH, "destroy d%u at close: expected 0/-ESRCH, got %d",
                          created[i].d, rc);
            created[i].h = NULL;
        }
    EV(cpupolicy_close(h));
}

#endif /* CPUPOLICY_TESTS_HANDLE_COMMON_H */
