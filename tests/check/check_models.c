/* SPDX-License-Identifier: MIT */
/*
 * The named-model C ABI (cpupolicy_models.h), black-box over libcpupolicy.so: the
 * conventions (0 / -errno, errno untouched, size queries, -ENOBUFS with the count,
 * nothing half-applied) and the calls a toolstack makes: load, find, info, check
 * against a host's max policy and against a bare featureset, suggest, apply, export,
 * from_policy.  Models from the tree's config/cpu-models (CPUPOLICY_MODELS_DIR, else
 * config/cpu-models) and the installed libvirt map.
 */
#include "check_common.h"
#include "cpupolicy_models.h"

static const char *models_dir(void)
{
    const char *d = getenv("CPUPOLICY_MODELS_DIR");
    return d && *d ? d : "config/cpu-models";
}

static cpupolicy_models_t *load_all(void)
{
    cpupolicy_models_t *m = NULL;
    RC(0, cpupolicy_models_load(&m, CPUPOLICY_MODELS_ALL, models_dir(), NULL));
    ck_assert_ptr_nonnull(m);
    return m;
}

static cpupolicy_t *max_of(const char *dump, const char *boot)
{
    char path[512];
    cpupolicy_t *raw = cpupolicy_alloc(), *p = cpupolicy_alloc();
    snprintf(path, sizeof(path), "%s/%s", dumps_dir(), dump);
    RC(0, cpupolicy_import_dump(raw, path, 0));
    RC(0, cpupolicy_derive(p, raw, CPUPOLICY_HVM_MAX, boot));
    cpupolicy_free(raw);
    return p;
}

static uint32_t index_of(cpupolicy_models_t *m, const char *name)
{
    uint32_t i = GUARD;
    RC(0, cpupolicy_models_find(m, name, CPUPOLICY_MODELS_ALL, &i));
    return i;
}

START_TEST(load_errors_are_negative_errno_with_a_message_and_null_out)
{
    cpupolicy_models_t *m = (cpupolicy_models_t *)&m;
    RC(-ENOENT, cpupolicy_models_load(&m, CPUPOLICY_MODELS_BUILTIN, "/nonexistent/models", NULL));
    ck_assert_ptr_null(m);
    ck_assert_str_eq(cpupolicy_last_error(), "/nonexistent/models: cannot open the model directory");
    RC(-ENOENT, cpupolicy_models_load(&m, CPUPOLICY_MODELS_LIBVIRT, NULL, "/nonexistent/map"));
    ck_assert_str_eq(cpupolicy_last_error(), "/nonexistent/map/index.xml: no such file");
    RC(-EINVAL, cpupolicy_models_load(&m, 0, NULL, NULL));
    RC(-EINVAL, cpupolicy_models_load(&m, 4, NULL, NULL));
    RC(-EINVAL, cpupolicy_models_load(NULL, CPUPOLICY_MODELS_ALL, NULL, NULL));
}
END_TEST

START_TEST(find_and_info_describe_builtin_and_libvirt_models)
{
    cpupolicy_models_t *m = load_all();
    cpupolicy_model_info_t in;
    uint32_t i = GUARD;
    ck_assert_uint_ge(cpupolicy_models_count(m), 58 + 8);
    RC(-ENOENT, cpupolicy_models_find(m, "NoSuchCPU", CPUPOLICY_MODELS_ALL, &i));
    ck_assert_uint_eq(i, GUARD);
    RC(-ENOENT, cpupolicy_models_find(m, "Haswell", CPUPOLICY_MODELS_BUILTIN, &i));
    i = index_of(m, "SkylakeXeon-v2");
    RC(0, cpupolicy_model_get_info(m, i, &in));
    ck_assert_str_eq(in.base, "SkylakeXeon");
    ck_assert_uint_eq(in.version, 2);
    ck_assert_uint_eq(in.source, CPUPOLICY_MODELS_BUILTIN);
    ck_assert_uint_eq(in.supersedes, 1);
    ck_assert_str_eq(in.origin_boot, "cpuid=no-hle,no-rtm");
    ck_assert_uint_eq(in.family, 6);
    ck_assert_uint_eq(in.model, 85);
    i = index_of(m, "EPYC");
    RC(0, cpupolicy_model_get_info(m, i, &in));
    ck_assert_uint_eq(in.source, CPUPOLICY_MODELS_LIBVIRT);
    ck_assert_str_eq(in.vendor, "AuthenticAMD");
    ck_assert_uint_eq(in.nr_removed, 1);
    ck_assert_str_eq(cpupolicy_model_list_item(m, i, CPUPOLICY_MODEL_REMOVED, 0), "monitor");
    ck_assert_ptr_null(cpupolicy_model_list_item(m, i, CPUPOLICY_MODEL_REMOVED, 1));
    RC(-EINVAL, cpupolicy_model_get_info(m, cpupolicy_models_count(m), &in));
    EV(cpupolicy_models_free(m));
}
END_TEST

START_TEST(featureset_query_short_buffer_and_fields)
{
    cpupolicy_models_t *m = load_all();
    uint32_t i = index_of(m, "SkylakeXeon-v1"), fs[NR_WORDS + 2], nr = 0, f;
    uint64_t v = 0;
    RC(0, cpupolicy_model_featureset(m, i, NULL, &nr));
    ck_assert_uint_eq(nr, NR_WORDS);
    nr = 4;
    RC(-ENOBUFS, cpupolicy_model_featureset(m, i, fs, &nr));
    nr = NR_WORDS + 2;
    fs[NR_WORDS] = fs[NR_WORDS + 1] = GUARD;
    RC(0, cpupolicy_model_featureset(m, i, fs, &nr));
    ck_assert_uint_eq(nr, NR_WORDS);
    RC(0, cpupolicy_feature_from_name("rtm", &f));
    ck_assert(test_bit(fs, f));
    RC(0, cpupolicy_model_field(m, i, CPUPOLICY_MODEL_FIELD_PHYS_ADDR_BITS, &v));
    ck_assert_uint_eq(v, 46);
    RC(-EINVAL, cpupolicy_model_field(m, i, CPUPOLICY_MODEL_NR_FIELDS, &v));
    RC(-ENODATA, cpupolicy_model_field(m, index_of(m, "Haswell"), CPUPOLICY_MODEL_FIELD_XCR0, &v));
    ck_assert_str_eq(cpupolicy_model_field_name(CPUPOLICY_MODEL_FIELD_XCR0), "xcr0");
    ck_assert_ptr_null(cpupolicy_model_field_name(CPUPOLICY_MODEL_NR_FIELDS));
    EV(cpupolicy_models_free(m));
}
END_TEST

START_TEST(check_counts_copies_and_names_every_blocker)
{
    cpupolicy_models_t *m = load_all();
    cpupolicy_t *upd = max_of("GenuineIntel0050654_SkylakeXeon.txt", "cpuid=no-hle,no-rtm");
    cpupolicy_model_blocker_t b[8];
    uint32_t nr = 0, i, k, hle = 0, rtm = 0;
    uint32_t v1 = index_of(m, "SkylakeXeon-v1"), v2 = index_of(m, "SkylakeXeon-v2");
    RC(0, cpupolicy_model_check(m, v1, upd, NULL, &nr));
    ck_assert_uint_ge(nr, 2);
    k = nr;
    nr = 1;
    RC(-ENOBUFS, cpupolicy_model_check(m, v1, upd, b, &nr));
    ck_assert_uint_eq(nr, k);
    nr = 8;
    RC(0, cpupolicy_model_check(m, v1, upd, b, &nr));
    for ( i = 0; i < nr; ++i )
    {
        ck_assert_uint_eq(b[i].kind, CPUPOLICY_BLOCKER_FEATURE);
        hle |= !strcmp(b[i].name, "hle");
        rtm |= !strcmp(b[i].name, "rtm");
    }
    ck_assert(hle && rtm);
    nr = 8;
    RC(0, cpupolicy_model_check(m, v2, upd, b, &nr));
    ck_assert_uint_eq(nr, 0);
    RC(-EINVAL, cpupolicy_model_check(m, v1, NULL, b, &nr));
    cpupolicy_free(upd);
    EV(cpupolicy_models_free(m));
}
END_TEST

START_TEST(check_against_a_bare_featureset_names_features_only)
{
    cpupolicy_models_t *m = load_all();
    uint32_t fs[NR_WORDS + 1], nr_fs = NR_WORDS, nr = 4, i = index_of(m, "Haswell");
    cpupolicy_model_blocker_t b[4];
    memset(fs, 0, sizeof(fs));
    RC(0, cpupolicy_model_featureset(m, i, fs, &nr_fs));
    clear_bit(fs, feature("avx2"));
    RC(0, cpupolicy_model_check_featureset(m, i, fs, NR_WORDS, b, &nr));
    ck_assert_uint_eq(nr, 1);
    ck_assert_str_eq(b[0].name, "avx2");
    ck_assert_uint_eq(b[0].id, feature("avx2"));
    fs[NR_WORDS] = 1;
    RC(-EOPNOTSUPP, cpupolicy_model_check_featureset(m, i, fs, NR_WORDS + 1, b, &nr));
    EV(cpupolicy_models_free(m));
}
END_TEST

START_TEST(suggest_apply_export_and_from_policy)
{
    cpupolicy_models_t *m = load_all();
    cpupolicy_t *clx = max_of("GenuineIntel0050657_CascadeLakeXeon.txt", NULL);
    cpupolicy_t *milan = max_of("AuthenticAMD0A00F11_K19_Milan_02.txt", NULL);
    cpupolicy_t *copy = cpupolicy_alloc();
    cpupolicy_model_info_t in;
    uint32_t idx = GUARD, add[NR_WORDS], lacks[NR_WORDS], nr = 0;
    cpupolicy_model_blocker_t b[1];
    size_t len = 0;
    char buf[64], *text;
    cpupolicy_leaf_t l0, l1;

    RC(0, cpupolicy_model_suggest(m, CPUPOLICY_MODELS_BUILTIN, CPUPOLICY_SUGGEST_RUNNABLE, clx, &idx, add, lacks, NR_WORDS));
    RC(0, cpupolicy_model_get_info(m, idx, &in));
    ck_assert_str_eq(in.name, "CascadeLakeXeon-v1");
    ck_assert(fs_empty(add) && fs_empty(lacks));
    RC(-EINVAL, cpupolicy_model_suggest(m, CPUPOLICY_MODELS_ALL, 2, clx, &idx, NULL, NULL, 0));

    /* apply: another vendor is refused and the policy unchanged */
    RC(0, cpupolicy_get_cpuid(milan, 1, NS, &l0));
    RC(-EINVAL, cpupolicy_model_apply(m, index_of(m, "SkylakeXeon-v1"), milan));
    RC(0, cpupolicy_get_cpuid(milan, 1, NS, &l1));
    ck_assert_mem_eq(&l0, &l1, sizeof(l0));
    /* ... the same vendor takes the model, which then runs there */
    RC(0, cpupolicy_model_apply(m, index_of(m, "SkylakeXeon-v2"), clx));
    nr = 1;
    RC(0, cpupolicy_model_check(m, index_of(m, "SkylakeXeon-v2"), clx, b, &nr));
    ck_assert_uint_eq(nr, 0);

    /* export: size query, short buffer, text */
    RC(0, cpupolicy_model_export(m, index_of(m, "EPYC"), CPUPOLICY_EXPORT_QEMU, NULL, &len));
    ck_assert_uint_eq(len, strlen("-cpu EPYC,-monitor\n") + 1);
    len = 4;
    RC(-ENOBUFS, cpupolicy_model_export(m, index_of(m, "EPYC"), CPUPOLICY_EXPORT_QEMU, buf, &len));
    len = sizeof(buf);
    RC(0, cpupolicy_model_export(m, index_of(m, "EPYC"), CPUPOLICY_EXPORT_QEMU, buf, &len));
    ck_assert_str_eq(buf, "-cpu EPYC,-monitor\n");
    RC(-EINVAL, cpupolicy_model_export(m, 0, 3, buf, &len));

    /* from_policy: the text is a valid model of that name */
    RC(0, cpupolicy_model_from_policy(milan, "Test-v3", NULL, NULL, &len));
    text = malloc(len);
    RC(0, cpupolicy_model_from_policy(milan, "Test-v3", NULL, text, &len));
    ck_assert(strstr(text, "<cpu-model name=\"Test\" version=\"3\">") != NULL);
    ck_assert(strstr(text, "<vendor>AuthenticAMD</vendor>") != NULL);
    free(text);
    RC(-EINVAL, cpupolicy_model_from_policy(milan, "bad name", NULL, NULL, &len));
    ck_assert_str_eq(cpupolicy_last_error(),
                     "bad name-v1.xml:2: Element cpu-model failed to validate attributes");

    cpupolicy_free(copy);
    cpupolicy_free(clx);
    cpupolicy_free(milan);
    EV(cpupolicy_models_free(m));
}
END_TEST

static Suite *models_suite(void)
{
    Suite *s = suite_create("cpupolicy models C ABI");
    TCase *tc = tcase_create("models");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, load_errors_are_negative_errno_with_a_message_and_null_out);
    tcase_add_test(tc, find_and_info_describe_builtin_and_libvirt_models);
    tcase_add_test(tc, featureset_query_short_buffer_and_fields);
    tcase_add_test(tc, check_counts_copies_and_names_every_blocker);
    tcase_add_test(tc, check_against_a_bare_featureset_names_features_only);
    tcase_add_test(tc, suggest_apply_export_and_from_policy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(models_suite()); }
