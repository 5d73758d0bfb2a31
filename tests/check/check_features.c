/* SPDX-License-Identifier: MIT */
/*
 * Check suite over the feature/featureset part of the public C ABI (cpupolicy.h),
 * linked against libcpupolicy.so exactly as a toolstack would be.
 *
 * Expected feature numbers and counts are facts from shared/reference/features.tsv and
 * deps.tsv (Xen's cpufeatureset.h numbering: word * 32 + bit), written out here rather
 * than read from the library under test.  Every check states expected vs actual.
 */
#include <limits.h>

#include "check_common.h"

/* Reference facts (features.tsv). */
enum {
    F_FPU = 0, F_VME = 1, F_SEP = 11, F_HTT = 28, F_TM1 = 29, F_SSE3 = 32, F_PCLMULQDQ = 33,
    F_DSCPL = 36, F_VMX = 37, F_EIST = 39, F_CX16 = 45, F_PCID = 49, F_SSE4_1 = 51,
    F_SSE4_2 = 52, F_MOVBE = 54, F_TSC_DEADLINE = 56, F_AESNI = 57, F_XSAVE = 58, F_AVX = 60,
    F_RDRAND = 62, F_HYPERVISOR = 63, F_NX = 84, F_MMXEXT = 86, F_FFXSR = 89, F_PAGE1GB = 90,
    F_LM = 93, F_LAHF_LM = 96, F_ABM = 101, F_3DNOWPREFETCH = 104, F_AVX2 = 165,
    F_AVX512F = 176, F_PROC_TRACE = 185, F_SHA = 189, F_AVX512_VNNI = 203, F_ITSC = 232,
    F_AMX_TILE = 312, F_ARCH_CAPS = 317, F_SSBD = 319, F_EIBRS = 513,
    F_UNNAMED = 10 /* CPUID.1:EDX[10] is reserved: a number with no name */
};
enum {
    NR_KNOWN = 287,         /* rows of features.tsv */
    NR_SPECIAL = 24,        /* rows whose attrs contain '!' */
    NR_PV_DEF = 145,        /* 'A' */
    NR_XSAVE_CLOSURE = 47,  /* deps.tsv: clearing xsave clears 47 features */
    NR_FPU_CLOSURE = 5
};

/* --- helpers ------------------------------------------------------------------ */
static void fill(uint32_t *fs, uint32_t nr, uint32_t v)
{
    uint32_t i;
    for ( i = 0; i < nr; ++i )
        fs[i] = v;
}
/* Is a a subset of b?  Names the first feature of a missing from b on failure. */
static void assert_subset(unsigned which_a, unsigned which_b)
{
    const uint32_t *a = cpupolicy_static_featuremask(which_a);
    const uint32_t *b = cpupolicy_static_featuremask(which_b);
    uint32_t f;

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    for ( f = 0; f < NR_BITS; ++f )
        ck_assert_msg(!test_bit(a, f) || test_bit(b, f),
                      "mask %u should be a subset of mask %u, but feature %u (%s) is only in %u",
                      which_a, which_b, f, cpupolicy_feature_name(f), which_a);
}

/* --- size ---------------------------------------------------------------------- */
START_TEST(featureset_size_is_19_words)
{
    ck_assert_uint_eq(cpupolicy_featureset_size(), NR_WORDS);
}
END_TEST

/* --- static masks --------------------------------------------------------------- */
START_TEST(every_mask_index_0_to_7_is_non_null_and_stable)
{
    const uint32_t *m = cpupolicy_static_featuremask((unsigned)_i);
    ck_assert_msg(m != NULL, "mask %d: expected a pointer, got NULL", _i);
    ck_assert_ptr_eq(m, cpupolicy_static_featuremask((unsigned)_i));
}
END_TEST

START_TEST(mask_index_beyond_7_is_null)
{
    static const unsigned bad[] = { 8, 9, 16, 255, 0x80000000u, UINT_MAX };
    unsigned i;
    for ( i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i )
        ck_assert_msg(cpupolicy_static_featuremask(bad[i]) == NULL,
                      "mask %u: expected NULL", bad[i]);
}
END_TEST

START_TEST(masks_nest_default_in_max_pv_in_shadow_in_hap_in_known)
{
    static const unsigned pairs[][2] = {
        { CPUPOLICY_MASK_PV_DEF, CPUPOLICY_MASK_PV_MAX },
        { CPUPOLICY_MASK_HVM_SHADOW_DEF, CPUPOLICY_MASK_HVM_SHADOW_MAX },
        { CPUPOLICY_MASK_HVM_HAP_DEF, CPUPOLICY_MASK_HVM_HAP_MAX },
        { CPUPOLICY_MASK_PV_DEF, CPUPOLICY_MASK_HVM_SHADOW_DEF },
        { CPUPOLICY_MASK_HVM_SHADOW_DEF, CPUPOLICY_MASK_HVM_HAP_DEF },
        { CPUPOLICY_MASK_PV_MAX, CPUPOLICY_MASK_HVM_SHADOW_MAX },
        { CPUPOLICY_MASK_HVM_SHADOW_MAX, CPUPOLICY_MASK_HVM_HAP_MAX },
        { CPUPOLICY_MASK_HVM_HAP_MAX, CPUPOLICY_MASK_KNOWN },
        { CPUPOLICY_MASK_SPECIAL, CPUPOLICY_MASK_KNOWN },
    };
    unsigned i;
    for ( i = 0; i < sizeof(pairs) / sizeof(pairs[0]); ++i )
        assert_subset(pairs[i][0], pairs[i][1]);
}
END_TEST

START_TEST(mask_counts_match_the_reference_table)
{
    ck_assert_uint_eq(count_bits(cpupolicy_static_featuremask(CPUPOLICY_MASK_KNOWN), NR_WORDS),
                      NR_KNOWN);
    ck_assert_uint_eq(count_bits(cpupolicy_static_featuremask(CPUPOLICY_MASK_SPECIAL), NR_WORDS),
                      NR_SPECIAL);
    ck_assert_uint_eq(count_bits(cpupolicy_static_featuremask(CPUPOLICY_MASK_PV_DEF), NR_WORDS),
                      NR_PV_DEF);
}
END_TEST

/* One feature per attribute letter, and which masks must (1) and must not (0) hold it,
 * in CPUPOLICY_MASK_* order: known special pv_max pv_def shm_max shm_def hap_max hap_def. */
static const struct {
    const char *why;
    uint32_t feature;
    int in[8];
} mask_membership[] = {
    { "fpu 'A'",            F_FPU,        { 1, 0, 1, 1, 1, 1, 1, 1 } },
    { "vme 'S'",            F_VME,        { 1, 0, 0, 0, 1, 1, 1, 1 } },
    { "pcid 'H'",           F_PCID,       { 1, 0, 0, 0, 0, 0, 1, 1 } },
    { "itsc 'a'",           F_ITSC,       { 1, 0, 1, 0, 1, 0, 1, 0 } },
    { "vmx 'h'",            F_VMX,        { 1, 0, 0, 0, 0, 0, 1, 0 } },
    { "hypervisor '!A'",    F_HYPERVISOR, { 1, 1, 1, 1, 1, 1, 1, 1 } },
    { "amx-tile (none)",    F_AMX_TILE,   { 1, 0, 0, 0, 0, 0, 0, 0 } },
    { "tm1 (none)",         F_TM1,        { 1, 0, 0, 0, 0, 0, 0, 0 } },
    { "reserved bit 0:10",  F_UNNAMED,    { 0, 0, 0, 0, 0, 0, 0, 0 } },
};
START_TEST(mask_membership_follows_attribute_letters)
{
    unsigned m;
    for ( m = 0; m < 8; ++m )
    {
        int actual = test_bit(cpupolicy_static_featuremask(m), mask_membership[_i].feature);
        ck_assert_msg(actual == mask_membership[_i].in[m],
                      "%s in mask %u: expected %d, got %d", mask_membership[_i].why, m,
                      mask_membership[_i].in[m], actual);
    }
}
END_TEST

START_TEST(known_mask_is_exactly_the_named_features)
{
    const uint32_t *known = cpupolicy_static_featuremask(CPUPOLICY_MASK_KNOWN);
    uint32_t f;
    for ( f = 0; f < NR_BITS; ++f )
        ck_assert_msg(test_bit(known, f) == (cpupolicy_feature_name(f) != NULL),
                      "feature %u: known=%d but name=%s", f, test_bit(known, f),
                      cpupolicy_feature_name(f) ? cpupolicy_feature_name(f) : "(null)");
}
END_TEST

/* --- names ---------------------------------------------------------------------- */
static const struct {
    const char *name;
    uint32_t expected;
} names[] = {
    /* canonical (Xen) */
    { "fpu", F_FPU }, { "sse4-1", F_SSE4_1 }, { "sse4-2", F_SSE4_2 }, { "rdrand", F_RDRAND },
    { "hypervisor", F_HYPERVISOR }, { "sep", F_SEP }, { "movbe", F_MOVBE },
    { "tsc-deadline", F_TSC_DEADLINE }, { "abm", F_ABM }, { "3dnowprefetch", F_3DNOWPREFETCH },
    { "avx512f", F_AVX512F }, { "arch-caps", F_ARCH_CAPS }, { "eibrs", F_EIBRS },
    /* Xen 4.17 xen-cpuid spellings */
    { "sse41", F_SSE4_1 }, { "sse42", F_SSE4_2 }, { "rdrnd", F_RDRAND },
    { "hyper", F_HYPERVISOR }, { "sysenter", F_SEP }, { "movebe", F_MOVBE },
    { "tsc-dl", F_TSC_DEADLINE }, { "lzcnt", F_ABM }, { "3dnowpf", F_3DNOWPREFETCH },
    { "mmx+", F_MMXEXT }, { "fxsr+", F_FFXSR }, { "pg1g", F_PAGE1GB },
    /* Linux /proc/cpuinfo spellings */
    { "pni", F_SSE3 }, { "sse4_1", F_SSE4_1 }, { "sse4_2", F_SSE4_2 }, { "lahf_lm", F_LAHF_LM },
    { "tsc_deadline_timer", F_TSC_DEADLINE }, { "xmm4_1", F_SSE4_1 }, { "aes", F_AESNI },
    { "pdpe1gb", F_PAGE1GB }, { "intel_pt", F_PROC_TRACE }, { "sha_ni", F_SHA },
    { "ht", F_HTT }, { "tm", F_TM1 }, { "est", F_EIST }, { "ds_cpl", F_DSCPL },
    { "arch_capabilities", F_ARCH_CAPS }, { "spec_ctrl_ssbd", F_SSBD },
    /* QEMU / libvirt spellings */
    { "sse4.1", F_SSE4_1 }, { "sse4.2", F_SSE4_2 }, { "pclmuldq", F_PCLMULQDQ },
    { "invtsc", F_ITSC }, { "xd", F_NX }, { "i64", F_LM }, { "fxsr_opt", F_FFXSR },
    { "avx512vnni", F_AVX512_VNNI }, { "ibrs-all", F_EIBRS },
    /* case and '_' / '-' folding */
    { "FPU", F_FPU }, { "SSE4_1", F_SSE4_1 }, { "Sse4-2", F_SSE4_2 }, { "LAHF-LM", F_LAHF_LM },
    { "TSC-DEADLINE-TIMER", F_TSC_DEADLINE }, { "Arch_Caps", F_ARCH_CAPS },
    { "AVX512F", F_AVX512F }, { "SSE4.1", F_SSE4_1 }, { "Tsc_Dl", F_TSC_DEADLINE },
};
START_TEST(name_or_alias_resolves_to_its_feature)
{
    uint32_t f = GUARD;
    int rc;

    errno = ERRNO_SENTINEL;
    rc = cpupolicy_feature_from_name(names[_i].name, &f);
    ck_assert_msg(rc == 0, "\"%s\": expected rc 0, got %d", names[_i].name, rc);
    ck_assert_msg(f == names[_i].expected, "\"%s\": expected feature %u, got %u",
                  names[_i].name, names[_i].expected, f);
    ck_assert_int_eq(errno, ERRNO_SENTINEL);
}
END_TEST

static const char *const unknown_names[] = {
    "", "sse4", "sse4-1x", "fpu ", " fpu", "sse4.3", "sse4:1", "not-a-feature", "avx512",
    "fpu\n", "xsave-", "-", "_", "lzcnt2", "3dnowpff",
};
START_TEST(unknown_name_is_enoent_and_leaves_feature_alone)
{
    uint32_t f = GUARD;
    int rc;

    errno = ERRNO_SENTINEL;
    rc = cpupolicy_feature_from_name(unknown_names[_i], &f);
    ck_assert_msg(rc == -ENOENT, "\"%s\": expected -ENOENT (%d), got %d", unknown_names[_i],
                  -ENOENT, rc);
    ck_assert_uint_eq(f, GUARD);
    ck_assert_int_eq(errno, ERRNO_SENTINEL);
}
END_TEST

START_TEST(null_arguments_to_from_name_are_einval)
{
    uint32_t f = GUARD;

    errno = ERRNO_SENTINEL;
    ck_assert_int_eq(cpupolicy_feature_from_name(NULL, &f), -EINVAL);
    ck_assert_int_eq(cpupolicy_feature_from_name("fpu", NULL), -EINVAL);
    ck_assert_int_eq(cpupolicy_feature_from_name(NULL, NULL), -EINVAL);
    ck_assert_uint_eq(f, GUARD);
    ck_assert_int_eq(errno, ERRNO_SENTINEL);
}
END_TEST

START_TEST(feature_name_gives_canonical_spelling_or_null)
{
    static const struct { uint32_t f; const char *expected; } cases[] = {
        { F_FPU, "fpu" }, { F_SSE4_1, "sse4-1" }, { F_TSC_DEADLINE, "tsc-deadline" },
        { F_3DNOWPREFETCH, "3dnowprefetch" }, { F_EIBRS, "eibrs" }, { F_ABM, "abm" },
        { F_UNNAMED, NULL }, { NR_BITS, NULL }, { NR_BITS + 1, NULL }, { UINT32_MAX, NULL },
    };
    unsigned i;
    for ( i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i )
    {
        const char *actual = cpupolicy_feature_name(cases[i].f);
        if ( !cases[i].expected )
            ck_assert_msg(actual == NULL, "feature %u: expected NULL, got \"%s\"", cases[i].f,
                          actual);
        else
            ck_assert_msg(actual && strcmp(actual, cases[i].expected) == 0,
                          "feature %u: expected \"%s\", got \"%s\"", cases[i].f,
                          cases[i].expected, actual ? actual : "(null)");
    }
}
END_TEST

START_TEST(every_name_round_trips_through_from_name)
{
    uint32_t f, back, named = 0;
    for ( f = 0; f < NR_BITS; ++f )
    {
        const char *n = cpupolicy_feature_name(f);
        if ( !n )
            continue;
        ++named;
        back = GUARD;
        ck_assert_msg(cpupolicy_feature_from_name(n, &back) == 0 && back == f,
                      "\"%s\": expected %u, got %u", n, f, back);
    }
    ck_assert_uint_eq(named, NR_KNOWN);
}
END_TEST

/* --- dependency closures ----------------------------------------------------------- */
START_TEST(clearing_xsave_clears_exactly_47_features_among_them_avx_family)
{
    static const uint32_t must[] = { F_AVX, F_AVX2, F_AVX512F, F_AVX512_VNNI, F_AMX_TILE };
    static const uint32_t must_not[] = { F_XSAVE, F_FPU, F_SSE4_2, F_AESNI, F_PCLMULQDQ };
    uint32_t fs[NR_WORDS];
    unsigned i;

    fill(fs, NR_WORDS, GUARD);
    ck_assert_int_eq(cpupolicy_feature_deps(F_XSAVE, fs, NR_WORDS), 0);
    ck_assert_uint_eq(count_bits(fs, NR_WORDS), NR_XSAVE_CLOSURE);
    for ( i = 0; i < sizeof(must) / sizeof(must[0]); ++i )
        ck_assert_msg(test_bit(fs, must[i]), "closure(xsave) should hold %s",
                      cpupolicy_feature_name(must[i]));
    for ( i = 0; i < sizeof(must_not) / sizeof(must_not[0]); ++i )
        ck_assert_msg(!test_bit(fs, must_not[i]), "closure(xsave) should not hold %s",
                      cpupolicy_feature_name(must_not[i]));
}
END_TEST

START_TEST(closure_spot_checks)
{
    static const struct { uint32_t f; unsigned count; uint32_t member; } cases[] = {
        { F_FPU, NR_FPU_CLOSURE, F_MMXEXT },  /* fpu -> mmx -> mmxext */
        { F_LM, 14, F_CX16 },                 /* deps.tsv: lm -> cx16 */
        { F_AVX, 34, F_AVX512F },
        { F_ARCH_CAPS, 32, F_EIBRS },         /* arch-caps guards words 16-17 */
    };
    uint32_t fs[NR_WORDS];
    unsigned i;
    for ( i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i )
    {
        ck_assert_int_eq(cpupolicy_feature_deps(cases[i].f, fs, NR_WORDS), 0);
        ck_assert_msg(count_bits(fs, NR_WORDS) == cases[i].count,
                      "closure(%s): expected %u features, got %u",
                      cpupolicy_feature_name(cases[i].f), cases[i].count,
                      count_bits(fs, NR_WORDS));
        ck_assert_msg(test_bit(fs, cases[i].member), "closure(%s) should hold %s",
                      cpupolicy_feature_name(cases[i].f), cpupolicy_feature_name(cases[i].member));
    }
}
END_TEST

START_TEST(leaf_feature_has_empty_closure)
{
    uint32_t fs[NR_WORDS];
    fill(fs, NR_WORDS, GUARD);
    ck_assert_int_eq(cpupolicy_feature_deps(F_VME, fs, NR_WORDS), 0);
    ck_assert_uint_eq(count_bits(fs, NR_WORDS), 0);
}
END_TEST

START_TEST(every_closure_is_closed_and_excludes_itself)
{
    uint32_t f, g, i, fs[NR_WORDS], gs[NR_WORDS];
    for ( f = 0; f < NR_BITS; ++f )
    {
        if ( !cpupolicy_feature_name(f) )
            continue;
        ck_assert_int_eq(cpupolicy_feature_deps(f, fs, NR_WORDS), 0);
        ck_assert_msg(!test_bit(fs, f), "closure(%s) holds itself", cpupolicy_feature_name(f));
        for ( g = 0; g < NR_BITS; ++g )
        {
            if ( !test_bit(fs, g) )
                continue;
            ck_assert_int_eq(cpupolicy_feature_deps(g, gs, NR_WORDS), 0);
            for ( i = 0; i < NR_WORDS; ++i )
                ck_assert_msg((gs[i] & ~fs[i]) == 0,
                              "closure(%s) misses word %u bits %#x of closure(%s)",
                              cpupolicy_feature_name(f), i, gs[i] & ~fs[i],
                              cpupolicy_feature_name(g));
        }
    }
}
END_TEST

START_TEST(deps_errors_unknown_feature_and_null)
{
    uint32_t fs[NR_WORDS];

    errno = ERRNO_SENTINEL;
    fill(fs, NR_WORDS, GUARD);
    ck_assert_int_eq(cpupolicy_feature_deps(F_UNNAMED, fs, NR_WORDS), -ENOENT);
    ck_assert_int_eq(cpupolicy_feature_deps(NR_BITS, fs, NR_WORDS), -ENOENT);
    ck_assert_int_eq(cpupolicy_feature_deps(UINT32_MAX, fs, NR_WORDS), -ENOENT);
    ck_assert_uint_eq(fs[0], GUARD);
    ck_assert_int_eq(cpupolicy_feature_deps(F_XSAVE, NULL, NR_WORDS), -EINVAL);
    ck_assert_int_eq(cpupolicy_feature_deps(F_UNNAMED, NULL, NR_WORDS), -EINVAL);
    ck_assert_int_eq(errno, ERRNO_SENTINEL);
}
END_TEST

START_TEST(deps_into_short_buffer_is_enobufs_with_what_fits)
{
    uint32_t full[NR_WORDS], fs[3];

    ck_assert_int_eq(cpupolicy_feature_deps(F_XSAVE, full, NR_WORDS), 0);
    fill(fs, 3, GUARD);
    /* closure(xsave) reaches word 5 (avx2) and beyond: 2 words cannot hold it. */
    ck_assert_int_eq(cpupolicy_feature_deps(F_XSAVE, fs, 2), -ENOBUFS);
    ck_assert_uint_eq(fs[0], full[0]);
    ck_assert_uint_eq(fs[1], full[1]);
    ck_assert_uint_eq(fs[2], GUARD);
    /* fpu's closure is mmx (word 0), mmxext/3dnow/3dnowext (word 2) and
     * rstr-fp-err-ptrs (word 8): 3 words hold 4 of the 5, 9 words hold all. */
    ck_assert_int_eq(cpupolicy_feature_deps(F_FPU, fs, 3), -ENOBUFS);
    ck_assert_uint_eq(count_bits(fs, 3), NR_FPU_CLOSURE - 1);
    ck_assert_int_eq(cpupolicy_feature_deps(F_FPU, full, 9), 0);
    ck_assert_uint_eq(count_bits(full, 9), NR_FPU_CLOSURE);
}
END_TEST

START_TEST(deps_into_long_buffer_zeroes_extra_words)
{
    uint32_t fs[NR_WORDS + 5];
    unsigned i;

    fill(fs, NR_WORDS + 5, GUARD);
    ck_assert_int_eq(cpupolicy_feature_deps(F_XSAVE, fs, NR_WORDS + 4), 0);
    for ( i = NR_WORDS; i < NR_WORDS + 4; ++i )
        ck_assert_msg(fs[i] == 0, "word %u: expected 0, got %#x", i, fs[i]);
    ck_assert_uint_eq(fs[NR_WORDS + 4], GUARD);
    ck_assert_uint_eq(count_bits(fs, NR_WORDS + 4), NR_XSAVE_CLOSURE);
}
END_TEST

/* --- check_deps ----------------------------------------------------------------------- */
START_TEST(check_deps_accepts_empty_known_and_hvm_masks)
{
    static const unsigned ok_masks[] = {
        CPUPOLICY_MASK_KNOWN, CPUPOLICY_MASK_HVM_SHADOW_MAX, CPUPOLICY_MASK_HVM_SHADOW_DEF,
        CPUPOLICY_MASK_HVM_HAP_MAX, CPUPOLICY_MASK_HVM_HAP_DEF,
    };
    uint32_t zero[NR_WORDS] = { 0 }, bad = 0;
    unsigned i;

    ck_assert_int_eq(cpupolicy_featureset_check_deps(zero, NR_WORDS, &bad), 0);
    ck_assert_uint_eq(bad, ~0u);
    ck_assert_int_eq(cpupolicy_featureset_check_deps(zero, 0, &bad), 0);
    for ( i = 0; i < sizeof(ok_masks) / sizeof(ok_masks[0]); ++i )
    {
        int rc = cpupolicy_featureset_check_deps(cpupolicy_static_featuremask(ok_masks[i]),
                                                 NR_WORDS, &bad);
        ck_assert_msg(rc == 0, "mask %u: expected 0, got %d (feature %u %s)", ok_masks[i], rc,
                      bad, cpupolicy_feature_name(bad));
    }
}
END_TEST

START_TEST(check_deps_names_the_lowest_feature_missing_a_prerequisite)
{
    uint32_t fs[NR_WORDS], bad = GUARD;

    errno = ERRNO_SENTINEL;
    memcpy(fs, cpupolicy_static_featuremask(CPUPOLICY_MASK_KNOWN), sizeof(fs));
    clear_bit(fs, F_XSAVE);  /* now avx (60), avx2 (165), avx512f (176)... lack it */
    ck_assert_int_eq(cpupolicy_featureset_check_deps(fs, NR_WORDS, &bad), -EINVAL);
    /* xsave's direct dependents: avx (60) and others in words 3..; fma (44) depends on
     * avx, which is still present, so avx is the lowest to blame. */
    ck_assert_msg(bad == F_AVX, "expected %u (avx), got %u (%s)", F_AVX, bad,
                  cpupolicy_feature_name(bad));
    ck_assert_int_eq(errno, ERRNO_SENTINEL);

    /* Exactly: only avx512f and avx present, no xsave -> avx (60) < avx512f (176). */
    fill(fs, NR_WORDS, 0);
    set_bit(fs, F_AVX512F);
    set_bit(fs, F_AVX);
    ck_assert_int_eq(cpupolicy_featureset_check_deps(fs, NR_WORDS, &bad), -EINVAL);
    ck_assert_uint_eq(bad, F_AVX);
    /* Only avx512f present: its prerequisite avx (and xsave) is missing. */
    clear_bit(fs, F_AVX);
    ck_assert_int_eq(cpupolicy_featureset_check_deps(fs, NR_WORDS, &bad), -EINVAL);
    ck_assert_uint_eq(bad, F_AVX512F);
    /* bad_feature is optional. */
    ck_assert_int_eq(cpupolicy_featureset_check_deps(fs, NR_WORDS, NULL), -EINVAL);
}
END_TEST

START_TEST(check_deps_length_skew)
{
    uint32_t fs[NR_WORDS + 2], bad;

    /* Short: zero-extended.  Two words holding avx without xsave still fail... */
    fill(fs, NR_WORDS + 2, 0);
    set_bit(fs, F_AVX);
    bad = GUARD;
    ck_assert_int_eq(cpupolicy_featureset_check_deps(fs, 2, &bad), -EINVAL);
    ck_assert_uint_eq(bad, F_AVX);
    /* ...and with xsave they pass, although words 2..18 are absent. */
    set_bit(fs, F_XSAVE);
    ck_assert_int_eq(cpupolicy_featureset_check_deps(fs, 2, &bad), 0);

    /* Long with zero extra words: judged on the first 19. */
    ck_assert_int_eq(cpupolicy_featureset_check_deps(fs, NR_WORDS + 2, &bad), 0);

    /* Long with a nonzero unknown word: never truncated into a pass. */
    fs[NR_WORDS + 1] = 1;
    bad = GUARD;
    errno = ERRNO_SENTINEL;
    ck_assert_int_eq(cpupolicy_featureset_check_deps(fs, NR_WORDS + 2, &bad), -EOPNOTSUPP);
    ck_assert_uint_eq(bad, ~0u);
    /* Unknown words win over a dependency violation too. */
    clear_bit(fs, F_XSAVE);
    ck_assert_int_eq(cpupolicy_featureset_check_deps(fs, NR_WORDS + 2, &bad), -EOPNOTSUPP);
    ck_assert_uint_eq(bad, ~0u);
    ck_assert_int_eq(errno, ERRNO_SENTINEL);
}
END_TEST

START_TEST(check_deps_null_fs_is_einval)
{
    uint32_t bad = GUARD;
    errno = ERRNO_SENTINEL;
    ck_assert_int_eq(cpupolicy_featureset_check_deps(NULL, NR_WORDS, &bad), -EINVAL);
    ck_assert_uint_eq(bad, ~0u);
    ck_assert_int_eq(cpupolicy_featureset_check_deps(NULL, 0, NULL), -EINVAL);
    ck_assert_int_eq(errno, ERRNO_SENTINEL);
}
END_TEST

/* --- sanitise ------------------------------------------------------------------------- */
START_TEST(sanitise_clears_the_xsave_closure)
{
    uint32_t fs[NR_WORDS];

    memcpy(fs, cpupolicy_static_featuremask(CPUPOLICY_MASK_KNOWN), sizeof(fs));
    clear_bit(fs, F_XSAVE);
    ck_assert_int_eq(cpupolicy_featureset_sanitise(fs, NR_WORDS), 0);
    ck_assert_uint_eq(count_bits(fs, NR_WORDS), NR_KNOWN - 1 - NR_XSAVE_CLOSURE);
    ck_assert(!test_bit(fs, F_AVX) && !test_bit(fs, F_AVX512F) && !test_bit(fs, F_AMX_TILE));
    ck_assert(test_bit(fs, F_SSE4_2) && test_bit(fs, F_FPU));
    ck_assert_int_eq(cpupolicy_featureset_check_deps(fs, NR_WORDS, NULL), 0);
}
END_TEST

START_TEST(sanitise_clears_unknown_bits_and_zeroes_extra_words)
{
    uint32_t fs[NR_WORDS + 3], i;

    fill(fs, NR_WORDS + 3, ~0u);
    fs[NR_WORDS + 2] = GUARD;  /* beyond nr: must stay */
    errno = ERRNO_SENTINEL;
    ck_assert_int_eq(cpupolicy_featureset_sanitise(fs, NR_WORDS + 2), 0);
    ck_assert_int_eq(errno, ERRNO_SENTINEL);
    /* All ones minus unknown bits is exactly the known mask (which is closed). */
    for ( i = 0; i < NR_WORDS; ++i )
        ck_assert_msg(fs[i] == cpupolicy_static_featuremask(CPUPOLICY_MASK_KNOWN)[i],
                      "word %u: expected %#x, got %#x", i,
                      cpupolicy_static_featuremask(CPUPOLICY_MASK_KNOWN)[i], fs[i]);
    ck_assert_uint_eq(fs[NR_WORDS], 0);
    ck_assert_uint_eq(fs[NR_WORDS + 1], 0);
    ck_assert_uint_eq(fs[NR_WORDS + 2], GUARD);
    ck_assert(!test_bit(fs, F_UNNAMED));
}
END_TEST

START_TEST(sanitise_short_featureset_writes_only_nr_words)
{
    uint32_t fs[3];

    /* Word 0 and 1 only: sse4-1 without its sse3/ssse3 chain gets cleared, fpu stays. */
    fill(fs, 3, 0);
    set_bit(fs, F_FPU);
    set_bit(fs, F_SSE4_1);
    set_bit(fs, F_UNNAMED);
    fs[2] = GUARD;
    ck_assert_int_eq(cpupolicy_featureset_sanitise(fs, 2), 0);
    ck_assert_uint_eq(fs[0], 1u << F_FPU);
    ck_assert_uint_eq(fs[1], 0);
    ck_assert_uint_eq(fs[2], GUARD);
    ck_assert_int_eq(cpupolicy_featureset_sanitise(fs, 0), 0);
    ck_assert_uint_eq(fs[0], 1u << F_FPU);
}
END_TEST

START_TEST(sanitise_result_always_passes_check_deps_and_is_idempotent)
{
    uint32_t fs[NR_WORDS], once[NR_WORDS], bad = 0;
    unsigned seed = 0x12345678u, round, i;

    for ( round = 0; round < 2000; ++round )
    {
        for ( i = 0; i < NR_WORDS; ++i )
        {
            /* xorshift32: deterministic, so a failure reproduces. */
            seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
            fs[i] = seed | (round & 1 ? 0xffff0000u : 0);
        }
        ck_assert_int_eq(cpupolicy_featureset_sanitise(fs, NR_WORDS), 0);
        ck_assert_msg(cpupolicy_featureset_check_deps(fs, NR_WORDS, &bad) == 0,
                      "round %u: sanitised set fails check_deps at %u (%s)", round, bad,
                      cpupolicy_feature_name(bad));
        memcpy(once, fs, sizeof(fs));
        ck_assert_int_eq(cpupolicy_featureset_sanitise(fs, NR_WORDS), 0);
        ck_assert_msg(memcmp(once, fs, sizeof(fs)) == 0, "round %u: not idempotent", round);
    }
}
END_TEST

START_TEST(sanitise_null_is_einval)
{
    errno = ERRNO_SENTINEL;
    ck_assert_int_eq(cpupolicy_featureset_sanitise(NULL, NR_WORDS), -EINVAL);
    ck_assert_int_eq(cpupolicy_featureset_sanitise(NULL, 0), -EINVAL);
    ck_assert_int_eq(errno, ERRNO_SENTINEL);
}
END_TEST

/* --- errno ----------------------------------------------------------------------------- */
START_TEST(no_function_touches_errno_on_success_or_failure)
{
    uint32_t fs[NR_WORDS + 1] = { 0 }, f, bad;
    int sentinels[] = { 0, ERRNO_SENTINEL, EINVAL, ENOENT };
    unsigned i;

    for ( i = 0; i < sizeof(sentinels) / sizeof(sentinels[0]); ++i )
    {
        errno = sentinels[i];
        (void)cpupolicy_featureset_size();
        (void)cpupolicy_static_featuremask(0);
        (void)cpupolicy_static_featuremask(99);
        (void)cpupolicy_feature_from_name("sse41", &f);
        (void)cpupolicy_feature_from_name("nope", &f);
        (void)cpupolicy_feature_from_name(NULL, &f);
        (void)cpupolicy_feature_name(F_FPU);
        (void)cpupolicy_feature_name(F_UNNAMED);
        (void)cpupolicy_feature_deps(F_XSAVE, fs, NR_WORDS);
        (void)cpupolicy_feature_deps(F_XSAVE, fs, 1);
        (void)cpupolicy_feature_deps(F_UNNAMED, fs, NR_WORDS);
        (void)cpupolicy_featureset_check_deps(fs, NR_WORDS, &bad);
        fs[NR_WORDS] = 1;
        (void)cpupolicy_featureset_check_deps(fs, NR_WORDS + 1, &bad);
        (void)cpupolicy_featureset_sanitise(fs, NR_WORDS + 1);
        (void)cpupolicy_featureset_sanitise(NULL, 1);
        ck_assert_msg(errno == sentinels[i], "errno: expected %d, got %d", sentinels[i], errno);
    }
}
END_TEST

static Suite *features_suite(void)
{
    Suite *s = suite_create("cpupolicy features C ABI");
    TCase *tc;

    tc = tcase_create("masks");
    tcase_add_test(tc, featureset_size_is_19_words);
    tcase_add_loop_test(tc, every_mask_index_0_to_7_is_non_null_and_stable, 0, 8);
    tcase_add_test(tc, mask_index_beyond_7_is_null);
    tcase_add_test(tc, masks_nest_default_in_max_pv_in_shadow_in_hap_in_known);
    tcase_add_test(tc, mask_counts_match_the_reference_table);
    tcase_add_loop_test(tc, mask_membership_follows_attribute_letters, 0, N(mask_membership));
    tcase_add_test(tc, known_mask_is_exactly_the_named_features);
    suite_add_tcase(s, tc);

    tc = tcase_create("names");
    tcase_add_loop_test(tc, name_or_alias_resolves_to_its_feature, 0, N(names));
    tcase_add_loop_test(tc, unknown_name_is_enoent_and_leaves_feature_alone, 0, N(unknown_names));
    tcase_add_test(tc, null_arguments_to_from_name_are_einval);
    tcase_add_test(tc, feature_name_gives_canonical_spelling_or_null);
    tcase_add_test(tc, every_name_round_trips_through_from_name);
    suite_add_tcase(s, tc);

    tc = tcase_create("deps");
    tcase_add_test(tc, clearing_xsave_clears_exactly_47_features_among_them_avx_family);
    tcase_add_test(tc, closure_spot_checks);
    tcase_add_test(tc, leaf_feature_has_empty_closure);
    tcase_add_test(tc, every_closure_is_closed_and_excludes_itself);
    tcase_add_test(tc, deps_errors_unknown_feature_and_null);
    tcase_add_test(tc, deps_into_short_buffer_is_enobufs_with_what_fits);
    tcase_add_test(tc, deps_into_long_buffer_zeroes_extra_words);
    suite_add_tcase(s, tc);

    tc = tcase_create("check_deps");
    tcase_add_test(tc, check_deps_accepts_empty_known_and_hvm_masks);
    tcase_add_test(tc, check_deps_names_the_lowest_feature_missing_a_prerequisite);
    tcase_add_test(tc, check_deps_length_skew);
    tcase_add_test(tc, check_deps_null_fs_is_einval);
    suite_add_tcase(s, tc);

    tc = tcase_create("sanitise");
    tcase_add_test(tc, sanitise_clears_the_xsave_closure);
    tcase_add_test(tc, sanitise_clears_unknown_bits_and_zeroes_extra_words);
    tcase_add_test(tc, sanitise_short_featureset_writes_only_nr_words);
    tcase_add_test(tc, sanitise_result_always_passes_check_deps_and_is_idempotent);
    tcase_add_test(tc, sanitise_null_is_einval);
    suite_add_tcase(s, tc);

    tc = tcase_create("errno");
    tcase_add_test(tc, no_function_touches_errno_on_success_or_failure);
    suite_add_tcase(s, tc);

    return s;
}

int main(void)
{
    return run_suite(features_suite());
}
