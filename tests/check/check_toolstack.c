/* SPDX-License-Identifier: MIT */
/*
 * Check suite over the store-free toolstack ABI (cpupolicy_toolstack.h): the featureset
 * and policy text forms, the complete compatibility report and the domain builder.
 * Independent oracles: the report is held to cpupolicy_is_compatible() and
 * cpupolicy_missing_features() over every pair of dumps of one vendor; text forms to
 * cpupolicy_serialise().  Store-backed operations are exercised end to end by
 * tests/scripts/test_toolstack.sh; here only the progress callback of join and refresh.
 */
#define _DEFAULT_SOURCE 1 /* mkdtemp */
#include <dirent.h>

#include "check_common.h"
#include "cpupolicy_toolstack.h"

static cpupolicy_t *derived(const char *dump, unsigned idx)
{
    cpupolicy_t *raw = import_dump(dump), *p = alloc_policy();
    int rc = E(cpupolicy_derive(p, raw, idx, NULL));
    ck_assert_msg(rc == 0, "derive %s/%u: expected 0, got %d", dump, idx, rc);
    cpupolicy_free(raw);
    return p;
}

#define SKX "GenuineIntel0050654_SkylakeXeon.txt"
#define HSW "GenuineIntel00306F2_HaswellEP.txt"
#define MILAN "AuthenticAMD0A00F11_K19_Milan_02.txt"

/* --- featureset text ---------------------------------------------------------------- */

START_TEST(featureset_parse_reads_words_and_format_writes_them_back)
{
    uint32_t fs[4] = {GUARD, GUARD, GUARD, GUARD}, nr = 4;
    char buf[64];
    size_t len = sizeof(buf);
    RC(0, cpupolicy_featureset_parse("1:00000002:ffffffff", fs, &nr, NULL));
    ck_assert_uint_eq(nr, 3);
    ck_assert_uint_eq(fs[0], 1);
    ck_assert_uint_eq(fs[1], 2);
    ck_assert_uint_eq(fs[2], 0xffffffffu);
    ck_assert_uint_eq(fs[3], GUARD);
    RC(0, cpupolicy_featureset_format(fs, 3, buf, &len));
    ck_assert_str_eq(buf, "00000001:00000002:ffffffff");
    ck_assert_uint_eq(len, 27);
}
END_TEST

static const struct {
    const char *text;
    uint32_t capacity;
    int rc;
    uint32_t column;
} bad_featuresets[] = {
    {"12:zz", 4, -EINVAL, 4},
    {"123456789", 4, -EINVAL, 9},
    {"1::2", 4, -EINVAL, 3},
    {"1:2:3", 2, -ENOBUFS, 1},
};

START_TEST(featureset_parse_errors_name_the_column)
{
    uint32_t fs[4] = {GUARD, GUARD, GUARD, GUARD}, nr = bad_featuresets[_i].capacity;
    cpupolicy_parse_error_t e;
    RC(bad_featuresets[_i].rc, cpupolicy_featureset_parse(bad_featuresets[_i].text, fs, &nr, &e));
    ck_assert_msg(e.column == bad_featuresets[_i].column, "'%s': column: expected %u, got %u (%s)",
                  bad_featuresets[_i].text, bad_featuresets[_i].column, e.column, e.what);
    ck_assert_msg(fs[0] == GUARD, "'%s': fs written on error", bad_featuresets[_i].text);
}
END_TEST

START_TEST(featureset_format_asks_for_size_and_refuses_a_short_buffer)
{
    uint32_t fs[2] = {1, 2};
    char buf[8] = "guard";
    size_t len = 0;
    RC(0, cpupolicy_featureset_format(fs, 2, NULL, &len));
    ck_assert_uint_eq(len, 18);
    len = sizeof(buf);
    RC(-ENOBUFS, cpupolicy_featureset_format(fs, 2, buf, &len));
    ck_assert_uint_eq(len, 18);
    ck_assert_str_eq(buf, "guard");
}
END_TEST

/* --- policy text -------------------------------------------------------------------- */

static char *policy_text(const cpupolicy_t *p)
{
    size_t len = 0;
    char *t;
    RC(0, cpupolicy_policy_format_text(p, NULL, &len));
    t = malloc(len);
    ck_assert_ptr_nonnull(t);
    RC(0, cpupolicy_policy_format_text(p, t, &len));
    return t;
}

START_TEST(policy_text_round_trips_exactly_for_every_dump_raw_and_hvm_max)
{
    DIR *d = opendir(dumps_dir());
    struct dirent *de;
    unsigned n = 0;
    ck_assert_msg(d != NULL, "cannot open %s", dumps_dir());
    while ( (de = readdir(d)) )
    {
        unsigned idx;
        if ( !strstr(de->d_name, ".txt") || !strncmp(de->d_name, "README", 6) )
            continue;
        for ( idx = 0; idx < 2; ++idx )
        {
            cpupolicy_t *p = idx ? derived(de->d_name, CPUPOLICY_HVM_MAX) : import_dump(de->d_name);
            cpupolicy_t *q = alloc_policy();
            image_t a, b;
            char *t1 = policy_text(p), *t2;
            cpupolicy_parse_error_t e;
            int rc = E(cpupolicy_policy_parse_text(q, t1, &e));
            ck_assert_msg(rc == 0, "%s: parse(format(p)): expected 0, got %d at line %u column %u: %s",
                          de->d_name, rc, e.line, e.column, e.what);
            snap(p, &a);
            snap(q, &b);
            assert_same_image(&a, &b, de->d_name);
            t2 = policy_text(q);
            ck_assert_msg(!strcmp(t1, t2), "%s: format(parse(t)) differs from t", de->d_name);
            free(t1);
            free(t2);
            cpupolicy_free(p);
            cpupolicy_free(q);
            ++n;
        }
    }
    closedir(d);
    ck_assert_msg(n >= 10, "expected the dumps, found %u policies", n);
}
END_TEST

static const struct {
    const char *text;
    uint32_t line, column;
    const char *what;
} bad_texts[] = {
    {"cpuid 00000000:ffffffff 0:0:0:0\n", 1, 1, "expected the version line"},
    {"cpupolicy-policy 2\n", 1, 1, "expected the version line"},
    {"cpupolicy-policy 1\n# c\ncpuid 00000000:fffffffg 0:0:0:0\n", 3, 23, "expected ' '"},
    {"cpupolicy-policy 1\ncpuid 1:ffffffff 0:0:0\n", 2, 23, "expected ':'"},
    {"cpupolicy-policy 1\nleaf 1\n", 2, 1, "expected 'cpuid' or 'msr', found 'leaf'"},
    {"cpupolicy-policy 1\nmsr ce 1 x\n", 2, 9, "unexpected text after the MSR value"},
    {"cpupolicy-policy 1\ncpuid 00000001:ffffffff 1:0:0:0\ncpuid 00000001:ffffffff 1:0:0:0\n", 2, 1,
     "given twice"},
    {"cpupolicy-policy 1\ncpuid 00000001:00000005 1:0:0:0\n", 2, 1, "does not hold"},
};

START_TEST(policy_text_errors_name_line_column_and_leave_the_policy_alone)
{
    cpupolicy_t *p = import_dump(SKX);
    image_t before, after;
    cpupolicy_parse_error_t e;
    snap(p, &before);
    RC(-EINVAL, cpupolicy_policy_parse_text(p, bad_texts[_i].text, &e));
    ck_assert_msg(e.line == bad_texts[_i].line && e.column == bad_texts[_i].column,
                  "case %d: expected line %u column %u, got line %u column %u (%s)", _i,
                  bad_texts[_i].line, bad_texts[_i].column, e.line, e.column, e.what);
    ck_assert_msg(strstr(e.what, bad_texts[_i].what) != NULL, "case %d: expected '%s' in '%s'", _i,
                  bad_texts[_i].what, e.what);
    snap(p, &after);
    assert_same_image(&before, &after, "policy after a failed parse");
    cpupolicy_free(p);
}
END_TEST

/* --- the complete report ------------------------------------------------------------- */

START_TEST(report_of_skylake_on_haswell_lists_every_failure_with_both_values)
{
    cpupolicy_t *host = derived(HSW, CPUPOLICY_HVM_MAX), *guest = derived(SKX, CPUPOLICY_HVM_DEFAULT);
    cpupolicy_report_t *r = NULL;
    uint32_t i, missing[NR_WORDS];
    int n_missing, saw_avx512f = 0, saw_xcr0 = 0;
    RC(0, cpupolicy_compat_report(host, guest, &r));
    ck_assert_uint_eq(r->version, CPUPOLICY_REPORT_VERSION);
    ck_assert_int_eq(r->compatible, 0);
    n_missing = E(cpupolicy_missing_features(host, guest, missing, NR_WORDS));
    ck_assert_msg((int)r->nr_missing_features == n_missing, "missing features: expected %d, got %u",
                  n_missing, r->nr_missing_features);
    for ( i = 0; i < r->nr_items; ++i )
    {
        const cpupolicy_report_item_t *it = &r->items[i];
        if ( it->kind == CPUPOLICY_ITEM_FEATURE )
        {
            ck_assert_msg(test_bit(missing, it->feature), "item %s is not missing", it->name);
            if ( !strcmp(it->name, "avx512f") )
                saw_avx512f = it->leaf == 7 && it->subleaf == 0 && it->msr == NONE && it->guest == 1 &&
                              it->host == 0;
        }
        if ( it->kind == CPUPOLICY_ITEM_BITS && !strcmp(it->name, "XCR0 components 31:0") )
            saw_xcr0 = it->leaf == 0xd && it->subleaf == 0 && (it->guest & ~it->host) != 0;
        if ( it->kind == CPUPOLICY_ITEM_NUMERIC )
            ck_assert_msg(it->guest > it->host, "%s: guest %llu not above host %llu", it->name,
                          (unsigned long long)it->guest, (unsigned long long)it->host);
    }
    ck_assert_msg(saw_avx512f, "avx512f at leaf 7 subleaf 0 with values 1/0 expected");
    ck_assert_msg(saw_xcr0, "XCR0 components at 0xd:0 expected");
    cpupolicy_report_free(r);
    cpupolicy_free(host);
    cpupolicy_free(guest);
}
END_TEST

/* Every pair of dumps of one vendor: the report agrees with the first-failure check on
 * the verdict and the error record, and with missing_features on the count. */
START_TEST(report_agrees_with_is_compatible_and_missing_features_over_every_pair)
{
    static const char *const dumps[] = {
        "GenuineIntel00106A2_Nehalem-EP.txt", "GenuineIntel00206D5_SandyBridgeEP.txt", HSW, SKX,
        "GenuineIntel00606A6_ICX_04.txt", "GenuineIntel00806F8_SapphireRapids_05.txt",
        "AuthenticAMD0800F12_K17_Zen.txt", MILAN, "AuthenticAMD0A10F11_K19_Genoa_01.txt"};
    cpupolicy_t *max[N(dumps)], *def[N(dumps)];
    int i, j, pairs = 0;
    for ( i = 0; i < N(dumps); ++i )
    {
        max[i] = derived(dumps[i], CPUPOLICY_HVM_MAX);
        def[i] = derived(dumps[i], CPUPOLICY_HVM_DEFAULT);
    }
    for ( i = 0; i < N(dumps); ++i )
        for ( j = 0; j < N(dumps); ++j )
        {
            cpupolicy_report_t *r = NULL;
            cpupolicy_err_t e;
            uint32_t missing[NR_WORDS];
            int rc = E(cpupolicy_is_compatible(max[i], def[j], &e));
            int nm = E(cpupolicy_missing_features(max[i], def[j], missing, NR_WORDS));
            RC(0, cpupolicy_compat_report(max[i], def[j], &r));
            ck_assert_msg(r->compatible == (rc == 0), "%s on %s: verdict differs", dumps[j], dumps[i]);
            ck_assert_msg(r->first.leaf == e.leaf && r->first.subleaf == e.subleaf && r->first.msr == e.msr,
                          "%s on %s: first failure differs", dumps[j], dumps[i]);
            ck_assert_msg((int)r->nr_missing_features == nm, "%s on %s: %u vs %d missing", dumps[j],
                          dumps[i], r->nr_missing_features, nm);
            ck_assert_msg(r->compatible == (r->nr_items == 0), "%s on %s: items vs verdict", dumps[j],
                          dumps[i]);
            cpupolicy_report_free(r);
            ++pairs;
        }
    for ( i = 0; i < N(dumps); ++i )
    {
        cpupolicy_free(max[i]);
        cpupolicy_free(def[i]);
    }
    ck_assert_int_eq(pairs, N(dumps) * N(dumps));
}
END_TEST

START_TEST(report_across_vendors_names_both)
{
    cpupolicy_t *host = derived(MILAN, CPUPOLICY_HVM_MAX), *guest = derived(SKX, CPUPOLICY_HVM_DEFAULT);
    cpupolicy_report_t *r = NULL;
    RC(0, cpupolicy_compat_report(host, guest, &r));
    ck_assert_int_ge(r->nr_items, 1);
    ck_assert_uint_eq(r->items[0].kind, CPUPOLICY_ITEM_VENDOR);
    ck_assert_uint_eq(r->items[0].leaf, 0);
    ck_assert_str_eq(r->items[0].detail, "Intel vs AMD");
    ck_assert_uint_eq(r->first.leaf, 0);
    cpupolicy_report_free(r);
    cpupolicy_free(host);
    cpupolicy_free(guest);
}
END_TEST

/* --- the domain builder -------------------------------------------------------------- */

static int has_change(const cpupolicy_build_report_t *r, const char *name, int set, int named,
                      const char *cause)
{
    uint32_t i;
    for ( i = 0; i < r->nr_changes; ++i )
        if ( !strcmp(r->changes[i].name, name) && r->changes[i].set == set &&
             r->changes[i].named == named && !strcmp(r->changes[i].cause, cause) )
            return 1;
    return 0;
}

START_TEST(builder_drops_dependants_and_says_which_choice_did)
{
    cpupolicy_t *base = derived(SKX, CPUPOLICY_HVM_DEFAULT), *max = derived(SKX, CPUPOLICY_HVM_MAX);
    cpupolicy_t *out = alloc_policy();
    const char *cpuid[] = {"host,avx2=0"};
    cpupolicy_vm_spec_t spec = {0};
    cpupolicy_build_report_t *r = NULL;
    uint32_t fs[NR_WORDS];
    spec.base = base;
    spec.host_max = max;
    spec.level = max;
    spec.cpuid = cpuid;
    spec.nr_cpuid = 1;
    spec.features = "+rtm";
    RC(0, cpupolicy_vm_build(out, &spec, &r, NULL));
    ck_assert_msg(has_change(r, "avx2", 0, 1, "cpuid[0] avx2=0"), "-avx2 named");
    ck_assert_msg(has_change(r, "avx512f", 0, 0, "cpuid[0] avx2=0"), "-avx512f pulled along");
    ck_assert_msg(has_change(r, "avx512vl", 0, 0, "cpuid[0] avx2=0"), "-avx512vl pulled along");
    ck_assert_uint_eq(r->nr_blockers, 0);
    pol_fs(out, fs);
    ck_assert_msg(!test_bit(fs, feature("avx2")) && !test_bit(fs, feature("avx512f")) &&
                  test_bit(fs, feature("avx")), "avx2/avx512f cleared, avx kept");
    cpupolicy_build_report_free(r);
    cpupolicy_free(base);
    cpupolicy_free(max);
    cpupolicy_free(out);
}
END_TEST

START_TEST(builder_pulls_in_prerequisites_and_applies_legacy_bit_strings)
{
    cpupolicy_t *base = derived(SKX, CPUPOLICY_HVM_DEFAULT), *max = derived(SKX, CPUPOLICY_HVM_MAX);
    cpupolicy_t *out = alloc_policy();
    /* 7:0.ebx bit 5 is avx2, bit 16 avx512f: clear avx2 raw, then require avx512f back. */
    const char *cpuid[] = {"0x00000007,0:ebx=xxxxxxxxxxxxxxxxxxxxxxxxxx0xxxxx"};
    cpupolicy_vm_spec_t spec = {0};
    cpupolicy_build_report_t *r = NULL;
    uint32_t fs[NR_WORDS];
    spec.base = base;
    spec.host_max = max;
    spec.cpuid = cpuid;
    spec.nr_cpuid = 1;
    spec.features = "require:avx512f";
    RC(0, cpupolicy_vm_build(out, &spec, &r, NULL));
    ck_assert_msg(has_change(r, "avx2", 0, 1, "cpuid[0] 0x00000007,0"), "avx2 cleared by the bits");
    ck_assert_msg(has_change(r, "avx512f", 0, 0, "cpuid[0] 0x00000007,0"), "avx512f follows avx2");
    ck_assert_msg(has_change(r, "avx512f", 1, 1, "require:avx512f"), "avx512f required");
    ck_assert_msg(has_change(r, "avx2", 1, 0, "require:avx512f"), "avx2 pulled in by avx512f");
    pol_fs(out, fs);
    ck_assert_msg(test_bit(fs, feature("avx2")) && test_bit(fs, feature("avx512f")), "both set");
    cpupolicy_build_report_free(r);
    cpupolicy_free(base);
    cpupolicy_free(max);
    cpupolicy_free(out);
}
END_TEST

static const struct {
    const char *cpuid, *features;
    uint32_t item, column;
    const char *what;
} bad_specs[] = {
    {"host,avx2=2", NULL, 0, 11, "expected 0, 1, x, k or s for feature avx2"},
    {"host,nosuch=1", NULL, 0, 6, "unknown feature or field 'nosuch'"},
    {"avx2=0,host", NULL, 0, 8, "'host' must come first"},
    {"host,family=x", NULL, 0, 13, "expected a number for family"},
    {"0x7,0:ebx=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", NULL, 0, 11, "expected 32 characters"},
    {"0x7,0:ebx=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxq", NULL, 0, 42, "(bit 0): expected 1, 0, x, k or s"},
    {"0x7,0:exx=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", NULL, 0, 7, "expected eax=, ebx=, ecx= or edx="},
    {"0x99999:eax=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", NULL, 0, 1, "not a leaf/subleaf the policy holds"},
    {"host", "+avx2,,-sse", 1, 7, "empty item"},
    {"host", "+avx2,wanted:sse", 1, 7, "expected require, force, optional, disable or forbid"},
    {"host", "-avx2,+nosuch", 1, 8, "unknown feature 'nosuch'"},
};

START_TEST(builder_parse_errors_name_input_and_column_and_write_nothing)
{
    cpupolicy_t *base = derived(SKX, CPUPOLICY_HVM_DEFAULT), *out = import_dump(HSW);
    const char *cpuid[1];
    cpupolicy_vm_spec_t spec = {0};
    cpupolicy_build_report_t *r = (cpupolicy_build_report_t *)&spec;
    cpupolicy_parse_error_t e;
    image_t before, after;
    cpuid[0] = bad_specs[_i].cpuid;
    spec.base = base;
    spec.cpuid = cpuid;
    spec.nr_cpuid = 1;
    spec.features = bad_specs[_i].features;
    snap(out, &before);
    RC(-EINVAL, cpupolicy_vm_build(out, &spec, &r, &e));
    ck_assert_msg(r == NULL, "no report on a parse error");
    ck_assert_msg(e.item == bad_specs[_i].item && e.column == bad_specs[_i].column,
                  "case %d: expected item %u column %u, got item %u column %u (%s)", _i,
                  bad_specs[_i].item, bad_specs[_i].column, e.item, e.column, e.what);
    ck_assert_msg(strstr(e.what, bad_specs[_i].what) != NULL, "case %d: expected '%s' in '%s'", _i,
                  bad_specs[_i].what, e.what);
    snap(out, &after);
    assert_same_image(&before, &after, "out after a parse error");
    cpupolicy_free(base);
    cpupolicy_free(out);
}
END_TEST

START_TEST(builder_lists_every_blocker_and_writes_nothing)
{
    cpupolicy_t *base = derived(SKX, CPUPOLICY_HVM_DEFAULT), *host = derived(HSW, CPUPOLICY_HVM_MAX);
    cpupolicy_t *out = alloc_policy();
    cpupolicy_vm_spec_t spec = {0};
    cpupolicy_build_report_t *r = NULL;
    uint32_t i;
    int forbid = 0, avx512f = 0, taken = 0;
    image_t before, after;
    spec.base = base;
    spec.host_max = host;
    spec.features = "forbid:sse4-2,require:sha,disable:sse2";
    snap(out, &before);
    RC(-EPERM, cpupolicy_vm_build(out, &spec, &r, NULL));
    for ( i = 0; i < r->nr_blockers; ++i )
    {
        const cpupolicy_report_item_t *b = &r->blockers[i];
        forbid |= b->kind == CPUPOLICY_ITEM_POLICY && !strcmp(b->name, "sse4-2");
        taken |= b->kind == CPUPOLICY_ITEM_POLICY && !strcmp(b->name, "sha") &&
                 strstr(b->detail, "taken away again") != NULL;
        avx512f |= b->kind == CPUPOLICY_ITEM_FEATURE && !strcmp(b->name, "avx512f") &&
                   !strcmp(b->detail, "host");
    }
    ck_assert_msg(forbid, "forbid:sse4-2 on a host that has it is a blocker");
    ck_assert_msg(taken, "require:sha cleared again by disable:sse2 is a blocker");
    ck_assert_msg(avx512f, "the Skylake guest's avx512f is a blocker against the Haswell host");
    snap(out, &after);
    assert_same_image(&before, &after, "out after blockers");
    cpupolicy_build_report_free(r);
    cpupolicy_free(base);
    cpupolicy_free(host);
    cpupolicy_free(out);
}
END_TEST

START_TEST(toolstack_abi_rejects_null_arguments)
{
    cpupolicy_report_t *r = NULL;
    cpupolicy_t *p = alloc_policy();
    uint32_t nr = 1;
    size_t len = 0;
    cpupolicy_vm_spec_t spec = {0};
    RC(-EINVAL, cpupolicy_compat_report(NULL, p, &r));
    RC(-EINVAL, cpupolicy_compat_report(p, p, NULL));
    RC(-EINVAL, cpupolicy_featureset_parse(NULL, &nr, &nr, NULL));
    RC(-EINVAL, cpupolicy_policy_format_text(NULL, NULL, &len));
    RC(-EINVAL, cpupolicy_policy_parse_text(p, NULL, NULL));
    RC(-EINVAL, cpupolicy_vm_build(p, &spec, NULL, NULL));
    EV(cpupolicy_report_free(NULL));
    EV(cpupolicy_build_report_free(NULL));
    cpupolicy_free(p);
}
END_TEST

/* --- progress ------------------------------------------------------------------------ */

struct progress_log {
    unsigned nr;
    uint32_t done[8], total[8];
    char what[8][160];
};

static void record_progress(void *arg, const char *what, uint32_t done, uint32_t total)
{
    struct progress_log *l = arg;
    if ( l->nr < 8 )
    {
        l->done[l->nr] = done;
        l->total[l->nr] = total;
        snprintf(l->what[l->nr], sizeof(l->what[0]), "%s", what);
    }
    l->nr++;
}

/* Join and refresh call the callback once before each host read and once at the end
 * (done == total); after cpupolicy_store_set_progress(s, NULL, ...) never again. */
START_TEST(progress_counts_every_host_read_of_join_and_refresh)
{
    char dir[] = "/tmp/check_toolstack.XXXXXX", db[64], uri[2][512];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(db, sizeof(db), "%s/store.db", dir);
    snprintf(uri[0], sizeof(uri[0]), "sim:dump=%s/%s", dumps_dir(), SKX);
    snprintf(uri[1], sizeof(uri[1]), "sim:dump=%s/%s", dumps_dir(), HSW);
    cpupolicy_store_t *s = NULL;
    RC(0, cpupolicy_store_open(&s, db));
    RC(0, cpupolicy_pool_create(s, "p", CPUPOLICY_DOMAIN_HVM, NULL));
    struct progress_log l = {0};
    EV(cpupolicy_store_set_progress(s, record_progress, &l));
    RC(0, cpupolicy_pool_join(s, "p", uri[0], "skx", 0, NULL));
    ck_assert_msg(l.nr == 2 && l.done[0] == 0 && l.total[0] == 1 && l.done[1] == 1 && l.total[1] == 1,
                  "join: expected 0/1 then 1/1, got %u calls (%u/%u ...)", l.nr, l.done[0], l.total[0]);
    ck_assert_msg(strstr(l.what[0], "skx") && strstr(l.what[0], uri[0]),
                  "join: the step names the host and its URI: '%s'", l.what[0]);
    RC(0, cpupolicy_pool_join(s, "p", uri[1], "hsw", 0, NULL));
    l.nr = 0;
    RC(0, cpupolicy_pool_refresh(s, "p", NULL, NULL));
    static const uint32_t want_done[] = {0, 1, 2};
    ck_assert_msg(l.nr == 3, "refresh of 2 members: expected 3 calls, got %u", l.nr);
    for ( unsigned i = 0; i < 3; ++i )
        ck_assert_msg(l.done[i] == want_done[i] && l.total[i] == 2,
                      "refresh call %u: expected %u/2, got %u/%u", i, want_done[i], l.done[i], l.total[i]);
    ck_assert_msg(strstr(l.what[1], "hsw") != NULL, "refresh step 1 names hsw: '%s'", l.what[1]);
    l.nr = 0;
    RC(0, cpupolicy_pool_refresh(s, "p", "hsw", NULL));
    ck_assert_msg(l.nr == 2 && l.total[0] == 1, "refresh of one host: expected 0/1, 1/1; got %u calls", l.nr);
    EV(cpupolicy_store_set_progress(s, NULL, &l));
    l.nr = 0;
    RC(0, cpupolicy_pool_refresh(s, "p", NULL, NULL));
    ck_assert_msg(l.nr == 0, "no callback after setting NULL: got %u calls", l.nr);
    EV(cpupolicy_store_set_progress(NULL, record_progress, &l));
    cpupolicy_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *toolstack_suite(void)
{
    Suite *s = suite_create("cpupolicy toolstack C ABI");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, featureset_parse_reads_words_and_format_writes_them_back);
    tcase_add_loop_test(tc, featureset_parse_errors_name_the_column, 0, N(bad_featuresets));
    tcase_add_test(tc, featureset_format_asks_for_size_and_refuses_a_short_buffer);
    tcase_add_test(tc, policy_text_round_trips_exactly_for_every_dump_raw_and_hvm_max);
    tcase_add_loop_test(tc, policy_text_errors_name_line_column_and_leave_the_policy_alone, 0,
                        N(bad_texts));
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("report");
    tcase_add_test(tc, report_of_skylake_on_haswell_lists_every_failure_with_both_values);
    tcase_add_test(tc, report_agrees_with_is_compatible_and_missing_features_over_every_pair);
    tcase_add_test(tc, report_across_vendors_names_both);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("builder");
    tcase_add_test(tc, builder_drops_dependants_and_says_which_choice_did);
    tcase_add_test(tc, builder_pulls_in_prerequisites_and_applies_legacy_bit_strings);
    tcase_add_loop_test(tc, builder_parse_errors_name_input_and_column_and_write_nothing, 0,
                        N(bad_specs));
    tcase_add_test(tc, builder_lists_every_blocker_and_writes_nothing);
    tcase_add_test(tc, toolstack_abi_rejects_null_arguments);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("progress");
    tcase_add_test(tc, progress_counts_every_host_read_of_join_and_refresh);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(toolstack_suite());
}
