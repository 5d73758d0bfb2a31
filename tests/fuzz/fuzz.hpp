// SPDX-License-Identifier: MIT
// Shared by the fuzz harnesses (tests/fuzz/fuzz_*.cpp).
//
// Every harness is a libFuzzer target: it defines LLVMFuzzerTestOneInput and nothing
// else, so the same source links against libFuzzer (`make fuzz`, clang) and against
// tests/fuzz/replay_main.cpp (g++, `make check`).  A harness does not just feed bytes to
// a parser hoping for a crash: it checks the contract the parser's header promises
// (all-or-nothing outputs, error records, round trips, an independent oracle), and a
// broken promise aborts with FUZZ_CHECK, which both drivers treat as a finding.
// docs/robustness.md lists what each harness checks.
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

[[noreturn, gnu::format(printf, 4, 5)]] inline void fuzz_fail(const char *file, int line,
                                                              const char *cond,
                                                              const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: invariant broken: %s\n    ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

// FUZZ_CHECK(cond, "printf format", args...): the message says expected vs actual.
#define FUZZ_CHECK(cond, ...)                                                             \
    do                                                                                    \
    {                                                                                     \
        if ( !(cond) )                                                                    \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                            \
    } while ( 0 )

// Little-endian reads from the fuzzer's bytes: a harness decodes structure out of the
// input with these, never by casting (the input has no alignment).
struct FuzzInput {
    const uint8_t *p;
    size_t left;

    uint8_t u8()
    {
        if ( !left )
            return 0;
        --left;
        return *p++;
    }
    uint32_t u32()
    {
        uint32_t v = 0;
        for ( unsigned i = 0; i < 4; ++i )
            v |= uint32_t(u8()) << (8 * i);
        return v;
    }
    uint64_t u64()
    {
        uint64_t lo = u32();
        return lo | uint64_t(u32()) << 32;
    }
};
