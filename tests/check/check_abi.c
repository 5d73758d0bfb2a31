/* The ABI-wide contracts of cpupolicy.h ("Conventions"), one rule each, tested for every
 * call the rule covers:
 *   - the count rule: *nr out = the complete answer's count on success, on a size query
 *     and on -ENOBUFS alike (serialise, policy_to_featureset, get_featureset,
 *     import_dump_notes);
 *   - cpupolicy_last_error(): per thread, names what was wrong, "" after success; the
 *     deprecated 1.0 accessors return the same string;
 *   - cpupolicy_version() against the header's CPUPOLICY_VERSION.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_common.h"

#define SNB "GenuineIntel00206D5_SandyBridgeEP.txt"
#define GNR "GenuineIntel00A06D1_GraniteRapids_03.txt"

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dumps_dir(), name);
}

static cpupolicy_t *raw_of(const char *name)
{
    char path[4096];
    cpupolicy_t *p = cpupolicy_alloc();
    ck_assert(p != NULL);
    path_of(path, sizeof(path), name);
    ck_assert_msg(cpupolicy_import_dump(p, path, 0) == 0, "import %s: %s", path,
                  cpupolicy_last_error());
    return p;
}

/* --- version --------------------------------------------------------------------- */
START_TEST(version_is_the_headers_and_major_matches_the_soname)
{
    uint32_t v = cpupolicy_version();
    ck_assert_msg(v == CPUPOLICY_VERSION, "cpupolicy_version() %#x, header %#x", v,
                  (unsigned)CPUPOLICY_VERSION);
    ck_assert_uint_eq(v >> 16, 1);  /* libcpupolicy.so.1 */
    ck_assert_uint_eq(CPUPOLICY_VERSION_MAJOR, 1);
    ck_assert_msg(((v >> 8) & 0xff) >= 1, "1.1 added this call; minor is %u", (v >> 8) & 0xff);
}
END_TEST

/* --- the count rule, per call ----------------------------------------------------- */
/* A call under the rule, driven through one adapter: fill `buf` (capacity *nr entries;
 * NULL = size query) and return the call's rc. */
typedef int (*counted_fn)(void *ctx, void *buf, uint32_t *nr);
struct counted {
    const char *name;
    counted_fn fn;
    size_t entry_size;
};

static cpupolicy_t *rule_policy;
static cpupolicy_handle_t *rule_handle;
static char rule_dump[4096];

static int leaves_of(void *ctx, void *buf, uint32_t *nr)
{
    (void)ctx;
    return cpupolicy_serialise(rule_policy, (cpupolicy_leaf_t *)buf, nr, NULL, NULL);
}
static int msrs_of(void *ctx, void *buf, uint32_t *nr)
{
    (void)ctx;
    return cpupolicy_serialise(rule_policy, NULL, NULL, (cpupolicy_msr_t *)buf, nr);
}
static int words_of(void *ctx, void *buf, uint32_t *nr)
{
    (void)ctx;
    return cpupolicy_policy_to_featureset(rule_policy, (uint32_t *)buf, nr);
}
static int handle_words_of(void *ctx, void *buf, uint32_t *nr)
{
    (void)ctx;
    return cpupolicy_get_featureset(rule_handle, CPUPOLICY_FEATURESET_HOST, nr, (uint32_t *)buf);
}
static int notes_of(void *ctx, void *buf, uint32_t *nr)
{
    cpupolicy_t *p = cpupolicy_alloc();
    int rc = cpupolicy_import_dump_notes(p, rule_dump, 0, (cpupolicy_import_note_t *)buf, nr);
    (void)ctx;
    cpupolicy_free(p);
    return rc;
}

static const struct counted counted_calls[] = {
    { "cpupolicy_serialise (leaves)", leaves_of, sizeof(cpupolicy_leaf_t) },
    { "cpupolicy_serialise (MSRs)", msrs_of, sizeof(cpupolicy_msr_t) },
    { "cpupolicy_policy_to_featureset", words_of, sizeof(uint32_t) },
    { "cpupolicy_get_featureset", handle_words_of, sizeof(uint32_t) },
    { "cpupolicy_import_dump_notes", notes_of, sizeof(cpupolicy_import_note_t) },
};

START_TEST(after_enobufs_every_call_stores_the_required_count)
{
    const struct counted *c = &counted_calls[_i];
    static unsigned char buf[1 << 16];
    uint32_t need = 12345, nr;
    int rc;

    rule_policy = raw_of(GNR);
    path_of(rule_dump, sizeof(rule_dump), GNR);
    ck_assert_int_eq(cpupolicy_open(&rule_handle, ""), 0);

    rc = E(c->fn(NULL, NULL, &need));
    ck_assert_msg(rc == 0 && need >= 1 && need != 12345, "%s: size query: rc %d, count %u",
                  c->name, rc, need);
    ck_assert(need * c->entry_size <= sizeof(buf));
    {
        /* capacity: none, one short, exact, more than enough */
        const uint32_t caps[] = { 0, need - 1, need, need + 7 };
        unsigned i;
        for ( i = 0; i < 4; ++i )
        {
            int want = caps[i] < need ? -ENOBUFS : 0;
            nr = caps[i];
            rc = E(c->fn(NULL, buf, &nr));
            ck_assert_msg(rc == want && nr == need,
                          "%s: capacity %u: expected rc %d and count %u, got %d and %u",
                          c->name, caps[i], want, need, rc, nr);
        }
    }
    cpupolicy_close(rule_handle);
    cpupolicy_free(rule_policy);
}
END_TEST

/* --- cpupolicy_last_error ------------------------------------------------------------ */
static cpupolicy_t *err_policy;

static int bad_update_cpuid(void)
{
    cpupolicy_leaf_t l = { 0x7, 9, 0, 0, 0, 0 };  /* the object holds 7:0..3 */
    return cpupolicy_update_cpuid(err_policy, &l, 1, NULL);
}
static int bad_update_msrs(void)
{
    cpupolicy_msr_t m = { 0x123, 0, 0 };
    return cpupolicy_update_msrs(err_policy, &m, 1, NULL);
}
static int bad_import(void)
{
    return cpupolicy_import_dump(err_policy, "/nonexistent/abi-dump.txt", 0);
}
static int bad_open(void)
{
    cpupolicy_handle_t *h;
    return cpupolicy_open(&h, "sim:cpus=2");
}
static int bad_deps(void)
{
    uint32_t fs[NR_WORDS], bad;
    memset(fs, 0, sizeof(fs));
    fs[5] = 1u << 5;  /* avx2 without avx */
    return cpupolicy_featureset_check_deps(fs, NR_WORDS, &bad);
}
static int bad_level(void)
{
    const cpupolicy_t *in[2];
    cpupolicy_t *out = cpupolicy_alloc();
    int rc;
    in[0] = err_policy;
    in[1] = NULL;
    rc = cpupolicy_calc_compatible(out, in, 2, NULL);
    cpupolicy_free(out);
    return rc;
}
static int bad_derive(void)
{
    cpupolicy_t *out = cpupolicy_alloc();
    int rc = cpupolicy_derive(out, err_policy, 17, NULL);
    cpupolicy_free(out);
    return rc;
}

static const struct {
    const char *what;
    int (*call)(void);
    int rc;
    const char *message; /* must appear in cpupolicy_last_error() */
} failures[] = {
    { "update_cpuid names the leaf and subleaf", bad_update_cpuid, -ERANGE,
      "cpupolicy_update_cpuid: leaf 0x7 subleaf 0x9: " },
    { "update_msrs names the MSR", bad_update_msrs, -ERANGE, "cpupolicy_update_msrs: MSR 0x123: " },
    { "import names the file", bad_import, -ENOENT, "/nonexistent/abi-dump.txt: cannot open" },
    { "open names what the URI lacks", bad_open, -EINVAL, "dump=PATH" },
    { "check_deps names the feature", bad_deps, -EINVAL,
      "cpupolicy_featureset_check_deps: feature 165 (avx2): " },
    { "calc_compatible names the input", bad_level, -EINVAL, "cpupolicy_calc_compatible: input 1: " },
    { "derive names the function", bad_derive, -EINVAL, "cpupolicy_derive: Invalid argument" },
};

START_TEST(last_error_names_what_was_wrong_and_success_clears_it)
{
    uint32_t sz = 0;
    const char *msg;
    int rc;

    err_policy = raw_of(SNB);
    rc = E(failures[_i].call());
    msg = EP(cpupolicy_last_error());
    ck_assert_msg(rc == failures[_i].rc, "%s: rc expected %d, got %d", failures[_i].what,
                  failures[_i].rc, rc);
    ck_assert_msg(strstr(msg, failures[_i].message) != NULL, "%s: expected '%s' in '%s'",
                  failures[_i].what, failures[_i].message, msg);
    /* The 1.0 accessors are the same message. */
    ck_assert_str_eq(cpupolicy_last_import_error(), msg);
    ck_assert_str_eq(cpupolicy_last_open_error(), msg);
    /* Any successful call clears it. */
    rc = E(cpupolicy_policy_to_featureset(err_policy, NULL, &sz));
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(cpupolicy_last_error(), "");
    cpupolicy_free(err_policy);
}
END_TEST

static void *fail_in_thread(void *arg)
{
    cpupolicy_t *p = cpupolicy_alloc();
    (void)arg;
    (void)cpupolicy_import_dump(p, "/nonexistent/other-thread.txt", 0);
    cpupolicy_free(p);
    return NULL;
}

START_TEST(last_error_is_per_thread)
{
    pthread_t t;
    err_policy = raw_of(SNB);
    ck_assert_int_eq(bad_update_msrs(), -ERANGE);
    ck_assert_int_eq(pthread_create(&t, NULL, fail_in_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_msg(strstr(cpupolicy_last_error(), "MSR 0x123") != NULL,
                  "another thread's failure replaced this thread's message: '%s'",
                  cpupolicy_last_error());
    cpupolicy_free(err_policy);
}
END_TEST

/* "verify" meant two things; 1.1 names the hypercall cpupolicy_featureset_fits_max and
 * keeps the 1.0 symbol as an alias that answers alike. */
START_TEST(verify_featureset_is_an_alias_of_featureset_fits_max)
{
    cpupolicy_handle_t *h;
    uint32_t max[NR_WORDS], fs[NR_WORDS], nr = NR_WORDS, bad_old, bad_new;
    unsigned i;
    ck_assert_int_eq(cpupolicy_open(&h, ""), 0);
    ck_assert_int_eq(cpupolicy_get_featureset(h, CPUPOLICY_FEATURESET_HVM_MAX, &nr, max), 0);
    for ( i = 0; i < 3; ++i )
    {
        memcpy(fs, max, sizeof(fs));
        if ( i == 1 )
            fs[7] = 0xffffffffu;  /* more than max offers */
        if ( i == 2 )
            fs[1] &= ~(1u << 28);  /* avx gone, avx2 (which needs it) kept */
        bad_old = bad_new = 7;
        ck_assert_int_eq(E(cpupolicy_verify_featureset(h, CPUPOLICY_FEATURESET_HVM_MAX, fs,
                                                       NR_WORDS, &bad_old)),
                         E(cpupolicy_featureset_fits_max(h, CPUPOLICY_FEATURESET_HVM_MAX, fs,
                                                         NR_WORDS, &bad_new)));
        ck_assert_uint_eq(bad_old, bad_new);
        ck_assert_msg(i == 0 ? bad_new == NONE : bad_new != NONE, "case %u: bad %u", i, bad_new);
    }
    cpupolicy_close(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cpupolicy ABI contracts");
    TCase *tc = tcase_create("abi");
    tcase_add_test(tc, version_is_the_headers_and_major_matches_the_soname);
    tcase_add_loop_test(tc, after_enobufs_every_call_stores_the_required_count, 0,
                        N(counted_calls));
    tcase_add_loop_test(tc, last_error_names_what_was_wrong_and_success_clears_it, 0,
                        N(failures));
    tcase_add_test(tc, last_error_is_per_thread);
    tcase_add_test(tc, verify_featureset_is_an_alias_of_featureset_fits_max);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
